// `lanyard gc`: garbage collection of a data directory, checked against registry:2's own
// `garbage-collect` on the same directory, and by serving every kept image afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lanyardBin, startLanyard } from '../helpers/lanyard';
import { requireTool, tempDir } from '../helpers/proc';
import { startRefRegistry } from '../helpers/refregistry';
import {
  MT, assertOciError, descriptor, digestOf, pushBlob, pushImage, pushManifest, randomBytes, repoName, req, snapshotTree,
  type Image,
} from '../helpers/oci';

function gc(dataDir: string, ...args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [lanyardBin, 'gc', '--data', dataDir, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function removedBlobs(out: string): string[] {
  return [...out.matchAll(/^blob (sha256:[0-9a-f]{64}) .*: (?:would remove|removed)$/gm)].map((m) => m[1]).sort();
}

/** Blobs registry:2's garbage-collect would delete from this data directory. */
function registry2WouldRemove(dataDir: string): string[] {
  const conf = path.join(tempDir('gc-conf'), 'config.yml');
  fs.writeFileSync(conf, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir}\nhttp:\n  addr: 127.0.0.1:0\n`);
  const r = spawnSync(requireTool('docker-registry'), ['garbage-collect', '--dry-run', conf], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `docker-registry garbage-collect failed: ${r.stderr}`);
  return [...r.stdout.matchAll(/^blob eligible for deletion: (sha256:[0-9a-f]{64})$/gm)].map((m) => m[1]).sort();
}

function blobDigests(img: Image): string[] {
  return [img.digest, digestOf(img.config), ...img.layers.map(digestOf)];
}

async function assertServed(base: string, repo: string, img: Image): Promise<void> {
  const m = await req(`${base}/v2/${repo}/manifests/${img.digest}`, { headers: { Accept: img.mediaType } });
  assert.equal(m.status, 200, `${repo}@${img.digest}`);
  assert.equal(digestOf(Buffer.from(await m.arrayBuffer())), img.digest);
  for (const b of [img.config, ...img.layers]) {
    const r = await req(`${base}/v2/${repo}/blobs/${digestOf(b)}`);
    assert.equal(r.status, 200, `blob ${digestOf(b)} of ${repo}@${img.digest}`);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(b));
  }
}

async function assertGone(base: string, repo: string, img: Image): Promise<void> {
  await assertOciError(await req(`${base}/v2/${repo}/manifests/${img.digest}`, { headers: { Accept: img.mediaType } }), 404, 'MANIFEST_UNKNOWN');
  for (const b of [img.config, ...img.layers]) {
    await assertOciError(await req(`${base}/v2/${repo}/blobs/${digestOf(b)}`), 404, 'BLOB_UNKNOWN');
  }
}

describe('lanyard gc', () => {
  const dataDir = tempDir('lanyard-gc');
  const apps = repoName('gc-apps');
  const multi = repoName('gc-multi');
  let a: Image, bOld: Image, bNew: Image, sigA: Image, sigOld: Image, m1: Image, m2: Image;
  let index: { digest: string; body: Buffer };
  let orphan: string;

  before(async () => {
    const srv = await startLanyard({ dataDir });
    try {
      const base = srv.url;
      a = await pushImage(base, apps, 'a', { layers: 2 });
      bOld = await pushImage(base, apps, 'b', { layers: 2 });
      bNew = await pushImage(base, apps, 'b', { layers: 1 }); // bOld is now untagged
      sigA = await pushImage(base, apps, '', { artifactType: 'application/vnd.example.sig', subject: descriptor(a.mediaType, a.body) });
      sigOld = await pushImage(base, apps, '', { artifactType: 'application/vnd.example.sig', subject: descriptor(bOld.mediaType, bOld.body) });
      m1 = await pushImage(base, multi, '');
      m2 = await pushImage(base, multi, '');
      const body = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MT.ociIndex,
        manifests: [descriptor(m1.mediaType, m1.body), descriptor(m2.mediaType, m2.body)],
      }));
      await pushManifest(base, multi, 'latest', body, MT.ociIndex);
      index = { digest: digestOf(body), body };
      orphan = await pushBlob(base, apps, randomBytes(5000)); // uploaded, never used by a manifest
    } finally {
      await srv.stop();
    }
  });
  after(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to run while a Lanyard server uses the data directory', async () => {
    const srv = await startLanyard({ dataDir });
    try {
      const before = snapshotTree(path.join(dataDir, 'docker'));
      const r = gc(dataDir);
      assert.equal(r.status, 1, r.out);
      assert.match(r.err, new RegExp(`pid ${srv.pid}.*stop it first`));
      assert.deepEqual(snapshotTree(path.join(dataDir, 'docker')), before);
    } finally {
      await srv.stop();
    }
    assert.ok(!fs.existsSync(path.join(dataDir, 'lanyard', 'server.json')), 'a stopped server leaves no record');
  });

  it('--dry-run lists the unreferenced blobs, the same ones registry:2 would delete, and changes nothing', () => {
    const before = snapshotTree(path.join(dataDir, 'docker'));
    const r = gc(dataDir, '--dry-run');
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(removedBlobs(r.out), [orphan]);
    assert.deepEqual(registry2WouldRemove(dataDir), [orphan], 'registry:2 garbage-collect disagrees');
    assert.match(r.out, /dry run: nothing changed/);
    assert.deepEqual(snapshotTree(path.join(dataDir, 'docker')), before);
  });

  it('removes only the unreferenced blobs; every manifest, tagged or not, is still served', async () => {
    const r = gc(dataDir);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(removedBlobs(r.out), [orphan]);
    const srv = await startLanyard({ dataDir });
    try {
      for (const img of [a, bOld, bNew, sigA, sigOld]) await assertServed(srv.url, apps, img);
      for (const img of [m1, m2]) await assertServed(srv.url, multi, img);
      await assertOciError(await req(`${srv.url}/v2/${apps}/blobs/${orphan}`), 404, 'BLOB_UNKNOWN');
    } finally {
      await srv.stop();
    }
    assert.deepEqual(registry2WouldRemove(dataDir), [], 'registry:2 still finds garbage');
  });

  it('--delete-untagged also removes what no tag reaches, but keeps index children and referrers of kept images', async () => {
    const r = gc(dataDir, '--delete-untagged');
    assert.equal(r.status, 0, r.err);
    const expected = [...blobDigests(bOld), ...blobDigests(sigOld)].sort();
    assert.deepEqual(removedBlobs(r.out), expected);
    assert.match(r.out, new RegExp(`manifest ${apps}@${bOld.digest}: removed`));
    const srv = await startLanyard({ dataDir });
    try {
      for (const img of [a, bNew, sigA]) await assertServed(srv.url, apps, img);
      for (const img of [m1, m2]) await assertServed(srv.url, multi, img);
      const idx = await req(`${srv.url}/v2/${multi}/manifests/latest`, { headers: { Accept: MT.ociIndex } });
      assert.equal(digestOf(Buffer.from(await idx.arrayBuffer())), index.digest);
      for (const img of [bOld, sigOld]) await assertGone(srv.url, apps, img);
      const refs = await (await req(`${srv.url}/v2/${apps}/referrers/${a.digest}`)).json() as { manifests: { digest: string }[] };
      assert.deepEqual(refs.manifests.map((m) => m.digest), [sigA.digest]);
      const tags = await (await req(`${srv.url}/v2/${apps}/tags/list`)).json() as { tags: string[] };
      assert.deepEqual(tags.tags, ['a', 'b']);
    } finally {
      await srv.stop();
    }
    // registry:2 serves what is left, and finds nothing more to collect
    const ref = await startRefRegistry({ dataDir });
    try {
      await assertServed(ref.url, apps, a);
      await assertServed(ref.url, multi, m1);
    } finally {
      await ref.stop();
    }
    assert.deepEqual(registry2WouldRemove(dataDir), []);
  });
});
