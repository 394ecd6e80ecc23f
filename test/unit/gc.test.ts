// Garbage collection on hand-made data directories: the cases real clients cannot produce
// any more (Docker schema 1 from old registry:2 data) and damaged ones.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectGarbage } from '../../registry/storage/gc';
import { RegistryPaths } from '../../registry/storage/paths';
import { parseDigest } from '../../registry/oci/grammar';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function dataDir(): RegistryPaths {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lanyard-gc-unit-'));
  dirs.push(d);
  return new RegistryPaths(d);
}

function put(p: RegistryPaths, body: Buffer | string): string {
  const b = Buffer.from(body);
  const digest = `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
  const file = p.blobData(parseDigest(digest)!);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, b);
  return digest;
}

function link(file: string, digest: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, digest);
}

describe('gc marking', () => {
  it('keeps the layers of a Docker schema 1 manifest (fsLayers[].blobSum)', async () => {
    const p = dataDir();
    const l1 = put(p, 'layer one');
    const l2 = put(p, 'layer two');
    const orphan = put(p, 'nobody');
    const manifest = put(p, JSON.stringify({
      schemaVersion: 1, name: 'old/app', tag: 'v1', architecture: 'amd64',
      fsLayers: [{ blobSum: l1 }, { blobSum: l2 }], history: [{ v1Compatibility: '{}' }, { v1Compatibility: '{}' }],
    }));
    link(p.revisionLink('old/app', parseDigest(manifest)!), manifest);
    link(p.tagCurrentLink('old/app', 'v1'), manifest);
    const r = await collectGarbage(p.dataDir);
    assert.deepEqual(r.blobsRemoved.map((b) => b.digest), [orphan]);
    for (const d of [l1, l2, manifest]) assert.ok(fs.existsSync(p.blobData(parseDigest(d)!)), `${d} must stay`);
    assert.equal(r.blobsKept, 3);
  });

  it('reports a revision whose blob is missing and a tag without a link, and still collects', async () => {
    const p = dataDir();
    const missing = `sha256:${'a'.repeat(64)}`;
    link(p.revisionLink('broken/app', parseDigest(missing)!), missing);
    fs.mkdirSync(path.join(p.tagsDir('broken/app'), 'dangling'), { recursive: true });
    const orphan = put(p, 'left behind');
    const r = await collectGarbage(p.dataDir, { dryRun: true });
    assert.deepEqual(r.blobsRemoved.map((b) => b.digest), [orphan]);
    assert.ok(r.problems.some((x) => x.includes(missing) && x.includes('blob missing')), r.problems.join('\n'));
    assert.ok(r.problems.some((x) => x.includes('broken/app:dangling')), r.problems.join('\n'));
    assert.ok(fs.existsSync(p.blobData(parseDigest(orphan)!)), 'dry run deletes nothing');
  });
});
