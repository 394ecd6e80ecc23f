// Disk-format interop with Debian's docker-registry (registry:2 v2.8.2), both directions, with a
// real Docker client: what one server wrote, the other must serve byte for byte.
//  (a) docker push → Lanyard (data dir A); stop Lanyard; registry:2 on A; docker pull from it.
//  (b) docker push → registry:2 (data dir B); stop it; Lanyard on B; docker pull from Lanyard.
// Compared: image IDs, manifest digests (HEAD Docker-Content-Digest), tags lists, catalogs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/proc';
import { startLanyard } from '../helpers/lanyard';
import { startRefRegistry } from '../helpers/refregistry';
import { startDockerd, Dockerd, imageId, removeImage, pushedDigest } from '../helpers/dockerd';
import { buildImage, MiB } from '../helpers/images';

const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

interface Server {
  url: string;
  host: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

type Kind = 'lanyard' | 'registry:2';

// LANYARD_IT_TARGET=ref puts registry:2 in Lanyard's place too (registry:2 ↔ registry:2), to
// tell a test bug from a server bug.
const LANYARD_IS_REF = process.env.LANYARD_IT_TARGET === 'ref';

function start(kind: Kind, dataDir: string): Promise<Server> {
  return kind === 'lanyard' && !LANYARD_IS_REF ? startLanyard({ dataDir }) : startRefRegistry({ dataDir });
}

interface Snapshot {
  /** tag or digest → Docker-Content-Digest of HEAD manifest */
  heads: Record<string, string | null>;
  contentTypes: Record<string, string | null>;
  /** sha256 of the GET manifest body, by digest */
  manifestBody: string;
  tags: Record<string, unknown>;
  catalog: unknown;
}

/** What a client sees of some repositories on a server, over plain HTTP. */
async function snapshot(s: Server, repo: string, refs: string[], allRepos: string[]): Promise<Snapshot> {
  const heads: Record<string, string | null> = {};
  const contentTypes: Record<string, string | null> = {};
  for (const r of refs) {
    const h = await fetch(`${s.url}/v2/${repo}/manifests/${r}`, { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
    assert.equal(h.status, 200, `HEAD ${s.url}/v2/${repo}/manifests/${r}`);
    heads[r] = h.headers.get('docker-content-digest');
    contentTypes[r] = h.headers.get('content-type');
  }
  const digest = heads[refs[0]];
  assert.ok(digest, 'HEAD manifest has Docker-Content-Digest');
  const g = await fetch(`${s.url}/v2/${repo}/manifests/${digest}`, { headers: { Accept: MANIFEST_ACCEPT } });
  assert.equal(g.status, 200);
  const body = Buffer.from(await g.arrayBuffer());
  const manifestBody = `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`;
  const tags: Record<string, unknown> = {};
  for (const r of allRepos) {
    const t = await fetch(`${s.url}/v2/${r}/tags/list`);
    assert.equal(t.status, 200, `GET ${s.url}/v2/${r}/tags/list`);
    tags[r] = await t.json();
  }
  const c = await fetch(`${s.url}/v2/_catalog`);
  assert.equal(c.status, 200);
  return { heads, contentTypes, manifestBody, tags, catalog: await c.json() };
}

describe('interop with registry:2 (shared data dir)', { timeout: 180_000 }, () => {
  let work = '';
  let dk: Dockerd | undefined;
  let running: Server | undefined; // the one server up at a time
  let runningKind: Kind = 'lanyard';
  let failed = false;
  const outputs: string[] = [];

  const dumpLogs = () => {
    failed = true;
    if (running) console.error(`--- ${runningKind} output (last 80 lines) ---\n${running.output().split('\n').slice(-80).join('\n')}`);
    for (const o of outputs) console.error(o.split('\n').slice(-40).join('\n'));
    if (dk) console.error(`--- dockerd log (last 60 lines) ---\n${dk.logTail(60)}`);
  };
  const step = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => async (...a: A) => {
    try { await fn(...a); } catch (e) { dumpLogs(); throw e; }
  };

  const up = async (kind: Kind, dataDir: string) => {
    await down();
    runningKind = kind;
    running = await start(kind, dataDir);
    return running;
  };
  const down = async () => {
    if (!running) return;
    const s = running;
    running = undefined;
    await s.stop();
    const log = `--- ${runningKind} on ${s.dataDir} (stopped) ---\n${s.output()}`;
    outputs.push(log);
    fs.appendFileSync(path.join(work, 'servers.log'), log + '\n');
  };

  before(step(async () => {
    work = tempDir('lanyard-it-interop');
    dk = await startDockerd();
  }));

  after(async () => {
    await down().catch((e) => { console.error(e); });
    if (dk) {
      if (failed) fs.copyFileSync(dk.logFile, path.join(work, 'dockerd.log'));
      await dk.stop();
    }
    if (work) {
      if (failed) console.error(`logs kept in ${work}`);
      else fs.rmSync(work, { recursive: true, force: true });
    }
  });

  /**
   * Push with docker to `writer` on a fresh data dir, stop it, start `reader` on that dir and
   * pull from it; compare what both serve.
   */
  const roundTrip = async (writer: Kind, reader: Kind, repo: string, mountRepo: string) => {
    const dataDir = path.join(work, `data-${writer === 'lanyard' ? 'A' : 'B'}`);
    fs.mkdirSync(dataDir);

    // write
    const w = await up(writer, dataDir);
    const img = await buildImage(dk!, [3 * MiB, 2 * MiB, 1 * MiB], { tags: [`${w.host}/${repo}:v1`] });
    await dk!.docker(['tag', img.id, `${w.host}/${repo}:latest`]);
    await dk!.docker(['tag', img.id, `${w.host}/${mountRepo}:v1`]);
    const p1 = await dk!.docker(['push', `${w.host}/${repo}:v1`]);
    const digest = pushedDigest(p1.stdout);
    const p2 = await dk!.docker(['push', `${w.host}/${repo}:latest`]);
    assert.equal(pushedDigest(p2.stdout), digest);
    // a second repository: docker mounts the layers from the first (POST ?mount=&from=)
    const p3 = await dk!.docker(['push', `${w.host}/${mountRepo}:v1`]);
    assert.equal(pushedDigest(p3.stdout), digest);
    assert.equal((p3.stdout.match(new RegExp(`Mounted from ${repo}`, 'g')) ?? []).length, 3, `${writer}: 3 layers mounted\n${p3.stdout}`);
    const allRepos = [repo, mountRepo].sort();
    // finished uploads leave nothing behind in _uploads (registry:2 removes them on commit)
    for (const rp of allRepos) {
      const uploads = path.join(dataDir, 'docker', 'registry', 'v2', 'repositories', ...rp.split('/'), '_uploads');
      const left = fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
      assert.deepEqual(left, [], `${writer}: ${rp}/_uploads after the pushes`);
    }
    const before = await snapshot(w, repo, ['v1', 'latest', digest], allRepos);
    assert.equal(before.heads.v1, digest, `${writer}: HEAD digest = pushed digest`);
    assert.equal(before.manifestBody, digest, `${writer}: manifest body hashes to its digest`);

    // swap servers on the same data dir
    const r = await up(reader, dataDir);
    assert.notEqual(r.host, w.host);
    await removeImage(dk!, img.id);

    const pull = await dk!.docker(['pull', `${r.host}/${repo}:v1`]);
    assert.equal((pull.stdout.match(/Pull complete/g) ?? []).length, 3, pull.stdout);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`), pull.stdout);
    assert.equal(await imageId(dk!, `${r.host}/${repo}:v1`), img.id, `${reader}: pulled image ID = built image ID`);
    // the mounted copy, by digest, comes from the layers linked by the mount
    await removeImage(dk!, img.id);
    const byDigest = `${r.host}/${mountRepo}@${digest}`;
    await dk!.docker(['pull', byDigest]);
    assert.equal(await imageId(dk!, byDigest), img.id, `${reader}: ${mountRepo} by digest`);

    const after = await snapshot(r, repo, ['v1', 'latest', digest], allRepos);
    assert.deepEqual(after.heads, before.heads, `HEAD Docker-Content-Digest, ${writer} vs ${reader}`);
    assert.deepEqual(after.contentTypes, before.contentTypes, `manifest Content-Type, ${writer} vs ${reader}`);
    assert.equal(after.manifestBody, digest, `${reader}: manifest body hashes to its digest`);
    assert.deepEqual(after.tags, before.tags, `tags lists, ${writer} vs ${reader}`);
    assert.deepEqual(after.tags[repo], { name: repo, tags: ['latest', 'v1'] });
    assert.deepEqual(after.tags[mountRepo], { name: mountRepo, tags: ['v1'] });
    assert.deepEqual(after.catalog, before.catalog, `catalog, ${writer} vs ${reader}`);
    assert.deepEqual(after.catalog, { repositories: allRepos });

    await removeImage(dk!, img.id);
    await down();
  };

  it('(a) pushed to Lanyard, served by registry:2 from the same data dir', { timeout: 80_000 }, step(async () => {
    await roundTrip('lanyard', 'registry:2', 'interop/from-lanyard', 'interop/mounted-lanyard');
  }));

  it('(b) pushed to registry:2, served by Lanyard from the same data dir', { timeout: 80_000 }, step(async () => {
    await roundTrip('registry:2', 'lanyard', 'interop/from-ref', 'interop/mounted-ref');
  }));
});
