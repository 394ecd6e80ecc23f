// Garbage collection of a data directory, like registry:2's `garbage-collect`: mark every
// blob that a kept manifest references, then delete the blobs nobody marked. Offline: it
// refuses while a Lanyard server uses the data directory (see ./serverlock).
//
// Kept manifests: every manifest revision of every repository; with `deleteUntagged`, only
// what a tag reaches (directly, as the child of an index, or as a referrer whose subject is
// kept), and the other revisions are unlinked first.
//
// Marking is deliberately generous: besides the parsed config, layers and children, every
// string under a "digest" or "blobSum" key of a manifest is marked, so manifests Lanyard does
// not parse (Docker schema 1 from old registry:2 data, unknown artifact types) keep their
// blobs. A blob that is in doubt stays; only unreferenced blobs go.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type Digest, parseDigest } from '../oci/grammar';
import { RegistryPaths } from './paths';
import { listDir, readText, statOrNull } from './fsutil';
import { walkRepositories } from './store';

export interface GcOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
}

export interface GcResult {
  repositories: number;
  manifestsKept: number;
  /** manifest revisions unlinked (only with deleteUntagged) */
  manifestsRemoved: { repo: string; digest: string }[];
  blobsKept: number;
  blobsRemoved: { digest: string; bytes: number }[];
  bytesFreed: number;
  /** things that looked wrong (dangling links, unreadable manifests): reported, never fatal */
  problems: string[];
  dryRun: boolean;
}

interface ManifestInfo {
  /** every digest the manifest mentions (config, layers, children, subject, ...) */
  refs: Digest[];
  /** child manifests (index / manifest list) */
  children: Digest[];
  subject: Digest | null;
}

/** Digests under "digest" / "blobSum" keys anywhere in a JSON document. */
function mentionedDigests(doc: unknown, out: Digest[] = []): Digest[] {
  if (Array.isArray(doc)) {
    for (const v of doc) mentionedDigests(v, out);
  } else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) {
      if ((k === 'digest' || k === 'blobSum') && typeof v === 'string') {
        const d = parseDigest(v);
        if (d) out.push(d);
      } else {
        mentionedDigests(v, out);
      }
    }
  }
  return out;
}

function descriptorDigest(v: unknown): Digest | null {
  const d = v && typeof v === 'object' ? (v as { digest?: unknown }).digest : undefined;
  return typeof d === 'string' ? parseDigest(d) : null;
}

export async function collectGarbage(dataDir: string, opts: GcOptions = {}): Promise<GcResult> {
  const paths = new RegistryPaths(dataDir);
  const dryRun = !!opts.dryRun;
  const problems: string[] = [];
  const marked = new Set<string>();
  const manifestCache = new Map<string, ManifestInfo | null>();

  /** The manifest stored as blob `d`, or null when the blob is missing or not JSON. */
  const manifestInfo = async (d: Digest): Promise<ManifestInfo | null> => {
    if (manifestCache.has(d.value)) return manifestCache.get(d.value)!;
    let info: ManifestInfo | null = null;
    try {
      const doc = JSON.parse(await fsp.readFile(paths.blobData(d), 'utf8')) as Record<string, unknown>;
      const children = Array.isArray(doc.manifests) ? doc.manifests.map(descriptorDigest).filter((x): x is Digest => x !== null) : [];
      info = { refs: mentionedDigests(doc), children, subject: descriptorDigest(doc.subject) };
    } catch (e) {
      problems.push(`manifest ${d.value}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'blob missing' : 'not readable as JSON'}`);
    }
    manifestCache.set(d.value, info);
    return info;
  };

  const repos = await walkRepositories(paths.repositoriesRoot());
  const manifestsRemoved: { repo: string; digest: string }[] = [];
  let manifestsKept = 0;

  for (const repo of repos) {
    const revisions = await linkedDigests(paths.revisionsDir(repo), problems, repo);
    const tags = new Map<string, Digest>();
    const tagDirs: string[] = [];
    for (const e of await listDir(paths.tagsDir(repo))) {
      if (!e.isDirectory()) continue;
      tagDirs.push(e.name);
      const d = parseDigest((await readText(paths.tagCurrentLink(repo, e.name)))?.trim() ?? '');
      if (d) tags.set(e.name, d);
      else problems.push(`${repo}:${e.name}: tag without a valid current link`);
    }

    // what to keep in this repository
    const kept = new Set<string>();
    const queue: Digest[] = opts.deleteUntagged ? [...tags.values()] : [...revisions.values()];
    const keep = async (): Promise<void> => {
      while (queue.length) {
        const d = queue.pop()!;
        if (kept.has(d.value)) continue;
        kept.add(d.value);
        const info = await manifestInfo(d);
        if (info) queue.push(...info.children);
      }
    };
    await keep();
    if (opts.deleteUntagged) {
      // referrers (signatures, SBOMs, ...) of kept manifests stay with them, transitively
      for (let grew = true; grew;) {
        grew = false;
        for (const d of revisions.values()) {
          if (kept.has(d.value)) continue;
          const info = await manifestInfo(d);
          if (info?.subject && kept.has(info.subject.value)) {
            queue.push(d);
            grew = true;
          }
        }
        await keep();
      }
    }

    for (const value of kept) {
      const d = parseDigest(value)!;
      marked.add(d.value);
      const info = await manifestInfo(d);
      for (const r of info?.refs ?? []) marked.add(r.value);
    }
    manifestsKept += [...revisions.keys()].filter((v) => kept.has(v)).length;

    if (opts.deleteUntagged) {
      for (const d of revisions.values()) {
        if (kept.has(d.value)) continue;
        manifestsRemoved.push({ repo, digest: d.value });
        if (dryRun) continue;
        await fsp.rm(path.dirname(paths.revisionLink(repo, d)), { recursive: true, force: true });
        // the tags' histories (index/) must not point at a revision that is gone
        for (const tag of tagDirs) {
          await fsp.rm(path.dirname(paths.tagIndexLink(repo, tag, d)), { recursive: true, force: true });
        }
      }
    }
  }

  // sweep: every blob nobody marked
  const blobsRemoved: { digest: string; bytes: number }[] = [];
  let blobsKept = 0;
  for (const alg of await listDir(paths.blobsRoot())) {
    if (!alg.isDirectory()) continue;
    for (const prefix of await listDir(path.join(paths.blobsRoot(), alg.name))) {
      if (!prefix.isDirectory()) continue;
      for (const e of await listDir(path.join(paths.blobsRoot(), alg.name, prefix.name))) {
        const d = e.isDirectory() ? parseDigest(`${alg.name}:${e.name}`) : null;
        if (!d || d.hex.slice(0, 2) !== prefix.name) continue; // not a blob folder: leave it
        if (marked.has(d.value)) {
          blobsKept++;
          continue;
        }
        const st = await statOrNull(paths.blobData(d));
        blobsRemoved.push({ digest: d.value, bytes: st?.size ?? 0 });
        if (!dryRun) await fsp.rm(paths.blobDir(d), { recursive: true, force: true });
      }
    }
  }

  return {
    repositories: repos.length,
    manifestsKept,
    manifestsRemoved,
    blobsKept,
    blobsRemoved,
    bytesFreed: blobsRemoved.reduce((a, b) => a + b.bytes, 0),
    problems,
    dryRun,
  };
}

/** Digests linked under `<dir>/<algorithm>/<hex>/link` (manifest revisions). */
async function linkedDigests(dir: string, problems: string[], repo: string): Promise<Map<string, Digest>> {
  const out = new Map<string, Digest>();
  for (const alg of await listDir(dir)) {
    if (!alg.isDirectory()) continue;
    for (const e of await listDir(path.join(dir, alg.name))) {
      const d = parseDigest(`${alg.name}:${e.name}`);
      if (!d) continue;
      const link = (await readText(path.join(dir, alg.name, e.name, 'link')))?.trim();
      if (link === d.value) out.set(d.value, d);
      else if (link !== undefined) problems.push(`${repo}: revision link ${d.value} points at ${link}`);
    }
  }
  return out;
}
