// The filesystem storage driver: blobs, resumable uploads, manifests, tags, catalog and
// referrers on registry:2's layout (./paths). Blobs are streamed and hashed while written;
// a blob only becomes visible by an atomic rename after its digest has been verified.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { OciError } from '../oci/errors';
import { Digest, DigestAlgorithm, Reference, parseDigest } from '../oci/grammar';
import { Descriptor, ParsedManifest, impliedMediaType, parseManifest, referrerDescriptor } from '../oci/manifest';
import { RegistryPaths } from './paths';
import { byteOrder, isNotFound, listDir, readText, statOrNull, writeAtomic } from './fsutil';
import { BoundedMap } from './cache';
import { appendStream, sendFileRange } from './streamio';

export interface StoreOptions {
  deleteEnabled?: boolean;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

export interface PutManifestResult {
  digest: string;
  subject?: string;
  created: { repo: boolean };
}

interface UploadState {
  /** bytes of the upload file covered by `hash` */
  size: number;
  /** running sha256 over [0, size), or null when it must be recomputed from disk */
  hash: crypto.Hash | null;
}

const READ_CHUNK = 1024 * 1024;
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;

export class RegistryStore {
  readonly paths: RegistryPaths;
  readonly deleteEnabled: boolean;

  private readonly uploadState = new Map<string, UploadState>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly blobSizes = new BoundedMap<string, number>(200_000);
  private readonly tagTargets = new BoundedMap<string, string>(200_000);
  private readonly manifests = new BoundedMap<string, StoredManifest>(20_000, MANIFEST_CACHE_BYTES, (m) => m.body.length + 200);
  private catalog: Promise<string[]> | null = null;
  private readonly referrerIndexes = new Map<string, Promise<Map<string, Map<string, Descriptor>>>>();

  constructor(dataDir: string, opts: StoreOptions = {}) {
    this.paths = new RegistryPaths(dataDir);
    this.deleteEnabled = opts.deleteEnabled ?? false;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.paths.v2, { recursive: true });
    await fsp.rm(this.paths.tmpDir(), { recursive: true, force: true });
    await fsp.mkdir(this.paths.tmpDir(), { recursive: true });
  }

  // ---------------------------------------------------------------- serialisation

  /** Run `fn` with exclusive access to `key` (one writer per upload / tag at a time). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  // ---------------------------------------------------------------- blobs

  /** Size of a blob if `repo` may serve it (linked as a layer or a manifest revision), else null. */
  async statBlob(repo: string, d: Digest): Promise<number | null> {
    const key = `${repo}\0${d.value}`;
    const cached = this.blobSizes.get(key);
    if (cached !== undefined) return cached;
    const link = (await readText(this.paths.layerLink(repo, d))) ?? (await readText(this.paths.revisionLink(repo, d)));
    if (link === null || link.trim() !== d.value) return null;
    const st = await statOrNull(this.paths.blobData(d));
    if (!st) return null;
    this.blobSizes.set(key, st.size);
    return st.size;
  }

  /** Send bytes [start, end] of a blob as the body of `res` (headers already set). */
  sendBlob(res: ServerResponse, d: Digest, start: number, end: number): Promise<void> {
    return sendFileRange(res, this.paths.blobData(d), start, end);
  }

  private async linkBlob(repo: string, d: Digest, size: number): Promise<void> {
    await writeAtomic(this.paths.tmpDir(), this.paths.layerLink(repo, d), d.value);
    this.blobSizes.set(`${repo}\0${d.value}`, size);
  }

  /** Cross-repository mount: link `d` into `repo` when `from` has it. Returns the size, or null. */
  async mountBlob(repo: string, from: string, d: Digest): Promise<number | null> {
    const size = await this.statBlob(from, d);
    if (size === null) return null;
    await this.linkBlob(repo, d, size);
    return size;
  }

  /** Unlink a blob from a repository (registry:2 semantics: the content stays for GC). */
  async deleteBlob(repo: string, d: Digest): Promise<void> {
    this.requireDelete();
    const link = await readText(this.paths.layerLink(repo, d));
    if (link === null) throw new OciError('BLOB_UNKNOWN', undefined, { digest: d.value });
    await fsp.rm(path.dirname(this.paths.layerLink(repo, d)), { recursive: true, force: true });
    this.blobSizes.delete(`${repo}\0${d.value}`);
  }

  private requireDelete(): void {
    if (!this.deleteEnabled) throw new OciError('UNSUPPORTED', 'deletion is disabled on this registry (start it with --delete-enabled)');
  }

  // ---------------------------------------------------------------- uploads

  async startUpload(repo: string): Promise<string> {
    const id = crypto.randomUUID();
    await fsp.mkdir(this.paths.uploadDir(repo, id), { recursive: true });
    await fsp.writeFile(this.paths.uploadStartedAt(repo, id), new Date().toISOString());
    await fsp.writeFile(this.paths.uploadData(repo, id), '', { flag: 'wx' });
    this.uploadState.set(`${repo}\0${id}`, { size: 0, hash: crypto.createHash('sha256') });
    return id;
  }

  /**
   * After a crash between committing an upload (hard link into blobs/) and removing it, the
   * upload's data is the blob's file: give the upload its own copy before writing to it.
   */
  private async detachCommitted(repo: string, id: string): Promise<void> {
    const file = this.paths.uploadData(repo, id);
    const st = await statOrNull(file);
    if (!st || st.nlink <= 1) return;
    const tmp = path.join(this.paths.tmpDir(), `${crypto.randomUUID()}.upload`);
    await fsp.copyFile(file, tmp);
    await fsp.rename(tmp, file);
  }

  /** Current size of an upload (what the client has sent so far). */
  async uploadSize(repo: string, id: string): Promise<number> {
    const st = await statOrNull(this.paths.uploadData(repo, id));
    if (!st || !st.isFile()) throw new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    return st.size;
  }

  /**
   * Append a request body to an upload. With `range`, the chunk must start exactly at the
   * current size (else 416) and be exactly as long as it says (else the upload is rolled back).
   */
  async appendUpload(repo: string, id: string, body: Readable, opts: { range?: { start: number; end: number }; length?: number } = {}): Promise<number> {
    return this.withLock(`${repo}\0${id}`, () => this.appendLocked(repo, id, body, opts));
  }

  private async appendLocked(repo: string, id: string, body: Readable, opts: { range?: { start: number; end: number }; length?: number }): Promise<number> {
    const key = `${repo}\0${id}`;
    const size = await this.uploadSize(repo, id);
    await this.detachCommitted(repo, id);
    const { range } = opts;
    if (range && range.start !== size) {
      throw new OciError('RANGE_INVALID', `chunk must start at offset ${size}`, { expected: size, got: range.start }, { headers: { Range: rangeHeader(size), Location: uploadLocation(repo, id), 'Docker-Upload-UUID': id } });
    }
    const expected = range ? range.end - range.start + 1 : opts.length;
    if (range && opts.length !== undefined && opts.length !== expected) {
      throw new OciError('BLOB_UPLOAD_INVALID', 'Content-Length does not match Content-Range', { contentRange: `${range.start}-${range.end}`, contentLength: opts.length });
    }
    let state = this.uploadState.get(key);
    if (!state || state.size !== size) {
      state = { size, hash: null };
      this.uploadState.set(key, state);
    }
    const file = this.paths.uploadData(repo, id);
    let written: number;
    try {
      written = await appendStream(file, size, body, state.hash);
    } catch (e) {
      // the client went away or the disk failed mid-chunk: keep what landed, hash from disk later
      state.hash = null;
      state.size = (await statOrNull(file))?.size ?? size;
      throw e;
    }
    if (expected !== undefined && written !== expected) {
      await fsp.truncate(file, size);
      state.hash = null;
      state.size = size;
      throw new OciError('BLOB_UPLOAD_INVALID', 'chunk length does not match the declared length', { expected, received: written });
    }
    state.size = size + written;
    return state.size;
  }

  /**
   * Finish an upload: append the optional last chunk, verify the digest over everything
   * received, then move the data into place (atomic rename) and link it into the repository.
   */
  async completeUpload(repo: string, id: string, d: Digest, last?: { body: Readable; length?: number }): Promise<number> {
    const key = `${repo}\0${id}`;
    return this.withLock(key, async () => {
      const size = last ? await this.appendLocked(repo, id, last.body, { length: last.length }) : await this.uploadSize(repo, id);
      const file = this.paths.uploadData(repo, id);
      const state = this.uploadState.get(key);
      const hex =
        state?.hash && state.size === size && d.algorithm === 'sha256' ? state.hash.copy().digest('hex') : await hashFile(file, d.algorithm);
      if (hex !== d.hex) {
        throw new OciError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: d.value, actual: `${d.algorithm}:${hex}` });
      }
      // Hard-link into the blob store, link into the repository, then drop the upload: a
      // crash at any point leaves either a visible blob or a resumable upload (or both).
      await this.commitBlobFile(file, d);
      await this.linkBlob(repo, d, size);
      await fsp.rm(this.paths.uploadDir(repo, id), { recursive: true, force: true });
      this.uploadState.delete(key);
      return size;
    });
  }

  /** Put a verified file's content in the blob store (concurrent commits of one digest are harmless). */
  private async commitBlobFile(file: string, d: Digest): Promise<void> {
    const target = this.paths.blobData(d);
    if (await statOrNull(target)) return;
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.link(file, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
      // no hard links here (another filesystem): copy beside the target, then rename into place
      const tmp = `${target}.${crypto.randomUUID()}.tmp`;
      await fsp.copyFile(file, tmp);
      await fsp.rename(tmp, target);
    }
  }

  async cancelUpload(repo: string, id: string): Promise<void> {
    const key = `${repo}\0${id}`;
    await this.withLock(key, async () => {
      await this.uploadSize(repo, id);
      await fsp.rm(this.paths.uploadDir(repo, id), { recursive: true, force: true });
      this.uploadState.delete(key);
    });
  }

  /**
   * Remove uploads that nobody has touched for `maxAgeMs` (registry:2's upload purging).
   * "Touched" is the later of `startedat` and the last write to the data, so a slow upload
   * that still receives chunks is kept; an upload being written right now is skipped.
   * Returns what was removed.
   */
  async purgeStaleUploads(maxAgeMs: number, now = Date.now()): Promise<{ repo: string; id: string }[]> {
    const removed: { repo: string; id: string }[] = [];
    for (const repo of await walkRepositories(this.paths.repositoriesRoot(), '_uploads')) {
      for (const e of await listDir(this.paths.uploadsDir(repo))) {
        if (!e.isDirectory()) continue;
        const id = e.name;
        const key = `${repo}\0${id}`;
        if (this.locks.has(key)) continue; // in use
        const stale = async () => now - (await this.lastTouched(repo, id)) >= maxAgeMs;
        if (!(await stale())) continue;
        const gone = await this.withLock(key, async () => {
          if (!(await stale())) return false; // a chunk landed meanwhile
          await fsp.rm(this.paths.uploadDir(repo, id), { recursive: true, force: true });
          this.uploadState.delete(key);
          return true;
        });
        if (gone) removed.push({ repo, id });
      }
    }
    return removed;
  }

  private async lastTouched(repo: string, id: string): Promise<number> {
    const started = Date.parse((await readText(this.paths.uploadStartedAt(repo, id)))?.trim() ?? '');
    const data = await statOrNull(this.paths.uploadData(repo, id));
    const dir = await statOrNull(this.paths.uploadDir(repo, id));
    return Math.max(Number.isNaN(started) ? 0 : started, data?.mtimeMs ?? 0, data ? 0 : dir?.mtimeMs ?? 0);
  }

  /** One-request upload (POST ?digest=): a temporary upload that is completed or removed. */
  async putBlob(repo: string, d: Digest, body: Readable, length?: number): Promise<number> {
    const id = await this.startUpload(repo);
    try {
      return await this.completeUpload(repo, id, d, { body, length });
    } catch (e) {
      await fsp.rm(this.paths.uploadDir(repo, id), { recursive: true, force: true });
      this.uploadState.delete(`${repo}\0${id}`);
      throw e;
    }
  }

  // ---------------------------------------------------------------- manifests

  async resolveTag(repo: string, tag: string): Promise<Digest | null> {
    const key = `${repo}\0${tag}`;
    const cached = this.tagTargets.get(key);
    if (cached) return parseDigest(cached);
    const text = await readText(this.paths.tagCurrentLink(repo, tag));
    const d = text ? parseDigest(text.trim()) : null;
    if (d) this.tagTargets.set(key, d.value);
    return d;
  }

  /** A manifest revision of `repo` by digest, or null. */
  async readManifest(repo: string, d: Digest): Promise<StoredManifest | null> {
    const key = `${repo}\0${d.value}`;
    const cached = this.manifests.get(key);
    if (cached) return cached;
    const link = await readText(this.paths.revisionLink(repo, d));
    if (link === null || link.trim() !== d.value) return null;
    let body: Buffer;
    try {
      body = await fsp.readFile(this.paths.blobData(d));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    const m: StoredManifest = { digest: d.value, mediaType: await this.storedMediaType(d, body), body };
    this.manifests.set(key, m);
    return m;
  }

  private async storedMediaType(d: Digest, body: Buffer): Promise<string> {
    let doc: Record<string, unknown> = {};
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      /* not JSON: fall through to the recorded or default type */
    }
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    const recorded = await readText(this.mediaTypeFile(d));
    return recorded?.trim() || impliedMediaType(doc);
  }

  /** Lanyard-only record of a media type a body does not declare (registry:2 never reads it). */
  private mediaTypeFile(d: Digest): string {
    return path.join(this.paths.lanyardDir(), 'mediatypes', d.algorithm, d.hex);
  }

  async getManifest(repo: string, ref: Reference): Promise<StoredManifest> {
    const d = ref.kind === 'tag' ? await this.resolveTag(repo, ref.tag) : ref.digest;
    const m = d ? await this.readManifest(repo, d) : null;
    if (!m) throw new OciError('MANIFEST_UNKNOWN', undefined, ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.value });
    return m;
  }

  async putManifest(repo: string, ref: Reference, contentType: string | undefined, body: Buffer): Promise<PutManifestResult> {
    const parsed = parseManifest(body, contentType);
    const algorithm: DigestAlgorithm = ref.kind === 'digest' ? ref.digest.algorithm : 'sha256';
    const hex = crypto.createHash(algorithm).update(body).digest('hex');
    const d: Digest = { algorithm, hex, value: `${algorithm}:${hex}` };
    if (ref.kind === 'digest' && ref.digest.hex !== hex) {
      throw new OciError('DIGEST_INVALID', 'manifest digest does not match the reference', { expected: ref.digest.value, actual: d.value });
    }
    await this.checkReferences(repo, parsed);
    const newRepo = !(await statOrNull(this.paths.manifestsDir(repo)));

    const tmp = this.paths.tmpDir();
    if (!(await statOrNull(this.paths.blobData(d)))) await writeAtomic(tmp, this.paths.blobData(d), body);
    let doc: Record<string, unknown> = {};
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      /* validated above */
    }
    if (doc.mediaType === undefined && parsed.mediaType !== impliedMediaType(doc)) {
      await writeAtomic(tmp, this.mediaTypeFile(d), parsed.mediaType);
    }
    await writeAtomic(tmp, this.paths.revisionLink(repo, d), d.value);
    this.manifests.set(`${repo}\0${d.value}`, { digest: d.value, mediaType: parsed.mediaType, body });
    if (ref.kind === 'tag') {
      await this.withLock(`tag\0${repo}\0${ref.tag}`, async () => {
        await writeAtomic(tmp, this.paths.tagIndexLink(repo, ref.tag, d), d.value);
        await writeAtomic(tmp, this.paths.tagCurrentLink(repo, ref.tag), d.value);
        this.tagTargets.set(`${repo}\0${ref.tag}`, d.value);
      });
    }
    if (parsed.subject) {
      const index = this.referrerIndexes.get(repo);
      if (index) addReferrer(await index, parsed.subject.digest, referrerDescriptor(parsed, d.value, body.length));
    }
    if (newRepo) this.catalog = null;
    return { digest: d.value, subject: parsed.subject?.digest, created: { repo: newRepo } };
  }

  private async checkReferences(repo: string, parsed: ParsedManifest): Promise<void> {
    const missing: string[] = [];
    await Promise.all([
      ...parsed.blobs.map(async (b) => {
        if ((await this.statBlob(repo, b)) === null) missing.push(b.value);
      }),
      ...parsed.manifests.map(async (m) => {
        if ((await this.readManifest(repo, m)) === null) missing.push(m.value);
      }),
    ]);
    if (missing.length) {
      throw new OciError('MANIFEST_BLOB_UNKNOWN', 'manifest references blobs or manifests unknown to this repository', { digests: missing.sort(byteOrder) });
    }
  }

  /** Delete by tag (the tag only) or by digest (the revision and every tag pointing at it). */
  async deleteManifest(repo: string, ref: Reference): Promise<{ digest?: string; tags: string[] }> {
    this.requireDelete();
    if (ref.kind === 'tag') {
      const d = await this.resolveTag(repo, ref.tag);
      if (!d) throw new OciError('MANIFEST_UNKNOWN', undefined, { tag: ref.tag });
      await this.withLock(`tag\0${repo}\0${ref.tag}`, () => fsp.rm(this.paths.tagDir(repo, ref.tag), { recursive: true, force: true }));
      this.tagTargets.delete(`${repo}\0${ref.tag}`);
      return { tags: [ref.tag] };
    }
    const d = ref.digest;
    const m = await this.readManifest(repo, d);
    if (!m) throw new OciError('MANIFEST_UNKNOWN', undefined, { digest: d.value });
    await fsp.rm(path.dirname(this.paths.revisionLink(repo, d)), { recursive: true, force: true });
    this.manifests.delete(`${repo}\0${d.value}`);
    this.blobSizes.delete(`${repo}\0${d.value}`);
    const removedTags: string[] = [];
    for (const tag of await this.tagNames(repo)) {
      await this.withLock(`tag\0${repo}\0${tag}`, async () => {
        const current = await readText(this.paths.tagCurrentLink(repo, tag));
        if (current?.trim() === d.value) {
          await fsp.rm(this.paths.tagDir(repo, tag), { recursive: true, force: true });
          this.tagTargets.delete(`${repo}\0${tag}`);
          removedTags.push(tag);
        } else {
          await fsp.rm(path.dirname(this.paths.tagIndexLink(repo, tag, d)), { recursive: true, force: true });
        }
      });
    }
    const index = this.referrerIndexes.get(repo);
    if (index) for (const byDigest of (await index).values()) byDigest.delete(d.value);
    return { digest: d.value, tags: removedTags };
  }

  // ---------------------------------------------------------------- listings

  private async tagNames(repo: string): Promise<string[]> {
    return (await listDir(this.paths.tagsDir(repo))).filter((e) => e.isDirectory()).map((e) => e.name);
  }

  /** Tags of a repository in lexical order; NAME_UNKNOWN when it has never had a manifest. */
  async listTags(repo: string): Promise<string[]> {
    if (!(await statOrNull(this.paths.manifestsDir(repo)))) throw new OciError('NAME_UNKNOWN', undefined, { name: repo });
    return (await this.tagNames(repo)).sort(byteOrder);
  }

  /** Every repository (a folder with _manifests), in lexical order. */
  async listRepositories(): Promise<string[]> {
    if (!this.catalog) {
      const p = walkRepositories(this.paths.repositoriesRoot());
      this.catalog = p;
      p.catch(() => {
        if (this.catalog === p) this.catalog = null;
      });
    }
    return this.catalog;
  }

  /** Descriptors of the manifests in `repo` whose subject is `subject`. */
  async referrers(repo: string, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    let index = this.referrerIndexes.get(repo);
    if (!index) {
      index = this.buildReferrerIndex(repo);
      this.referrerIndexes.set(repo, index);
      index.catch(() => this.referrerIndexes.delete(repo));
    }
    const found = [...((await index).get(subject.value)?.values() ?? [])];
    return found.filter((r) => artifactType === undefined || r.artifactType === artifactType).sort((a, b) => byteOrder(a.digest, b.digest));
  }

  private async buildReferrerIndex(repo: string): Promise<Map<string, Map<string, Descriptor>>> {
    const index = new Map<string, Map<string, Descriptor>>();
    const root = this.paths.revisionsDir(repo);
    for (const alg of await listDir(root)) {
      for (const h of await listDir(path.join(root, alg.name))) {
        const d = parseDigest(`${alg.name}:${h.name}`);
        const m = d ? await this.readManifest(repo, d) : null;
        if (!m) continue;
        let parsed: ParsedManifest;
        try {
          parsed = parseManifest(m.body, m.mediaType);
        } catch {
          continue; // a manifest type we do not index (e.g. written by another registry)
        }
        if (parsed.subject) addReferrer(index, parsed.subject.digest, referrerDescriptor(parsed, m.digest, m.body.length));
      }
    }
    return index;
  }
}

function addReferrer(index: Map<string, Map<string, Descriptor>>, subject: string, desc: Descriptor): void {
  let byDigest = index.get(subject);
  if (!byDigest) index.set(subject, (byDigest = new Map()));
  byDigest.set(desc.digest, desc);
}

export function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

export function uploadLocation(repo: string, id: string): string {
  return `/v2/${repo}/blobs/uploads/${id}`;
}

async function hashFile(file: string, algorithm: DigestAlgorithm): Promise<string> {
  const h = crypto.createHash(algorithm);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Repositories under `root`, in byte order: the folders that hold `marker`, `_manifests` (a
 * repository with images) unless told otherwise, or e.g. `_uploads` (pushes in progress).
 */
export async function walkRepositories(root: string, marker: '_manifests' | '_uploads' = '_manifests'): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    const entries = await listDir(dir);
    if (prefix && entries.some((e) => e.name === marker && e.isDirectory())) out.push(prefix);
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('_')) continue;
      await walk(path.join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
    }
  }
  await walk(root, '');
  return out.sort(byteOrder);
}
