// Upload purging (registry:2's storage.maintenance.uploadpurging): uploads nobody has touched
// for the configured age are removed at start-up and then on an interval; uploads that are
// young, or old but still receiving chunks, stay and can be finished.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLanyard, type LanyardServer } from '../helpers/lanyard';
import { tempDir, until } from '../helpers/proc';
import { abs, assertOciError, digestOf, patchChunk, putUpload, randomBytes, relocate, repoName, req, startUpload } from '../helpers/oci';

const DAY = 24 * 3600 * 1000;

interface Made { repo: string; location: string; uuid: string; data: Buffer }

async function makeUpload(base: string, repo: string, n: number): Promise<Made> {
  const { location, uuid } = await startUpload(base, repo);
  assert.ok(uuid, 'upload without Docker-Upload-UUID');
  const data = randomBytes(n);
  const res = await patchChunk(location, data, 0);
  assert.equal(res.status, 202);
  await res.arrayBuffer();
  return { repo, location: abs(location, res.headers.get('location') ?? location), uuid, data };
}

function uploadDir(dataDir: string, u: Made): string {
  return path.join(dataDir, 'docker', 'registry', 'v2', 'repositories', ...u.repo.split('/'), '_uploads', u.uuid);
}

/** Make an upload look as if it was started (and, unless `keepData`, last written) `days` ago. */
function age(dataDir: string, u: Made, days: number, opts: { keepData?: boolean; startedAt?: string } = {}): void {
  const dir = uploadDir(dataDir, u);
  const then = new Date(Date.now() - days * DAY);
  fs.writeFileSync(path.join(dir, 'startedat'), opts.startedAt ?? then.toISOString());
  if (!opts.keepData) fs.utimesSync(path.join(dir, 'data'), then, then);
}

/** GET the upload's status from `base` (every start-up gets a new port). */
async function status(base: string, u: Made): Promise<Response> {
  return req(relocate(u.location, base), { method: 'GET' });
}

describe('upload purging', () => {
  const dataDir = tempDir('lanyard-purge');
  let srv: LanyardServer | null = null;
  let old: Made, registry2Style: Made, fresh: Made, slow: Made;

  before(async () => {
    srv = await startLanyard({ dataDir });
    old = await makeUpload(srv.url, repoName('purge'), 1000);
    registry2Style = await makeUpload(srv.url, `${repoName('purge')}/nested`, 2000);
    fresh = await makeUpload(srv.url, repoName('purge'), 3000);
    slow = await makeUpload(srv.url, repoName('purge'), 4000);
    await srv.stop();
    srv = null;
    age(dataDir, old, 8);
    // registry:2 writes startedat in RFC 3339 with nanoseconds
    age(dataDir, registry2Style, 10, { startedAt: new Date(Date.now() - 10 * DAY).toISOString().replace(/\.\d+Z$/, '.123456789Z') });
    age(dataDir, slow, 30, { keepData: true }); // started long ago, but a chunk landed just now
  });
  after(async () => {
    await srv?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('leaves everything alone when purging is off (REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false)', async () => {
    srv = await startLanyard({ dataDir, env: { REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED: 'false' } });
    await new Promise((r) => setTimeout(r, 1000));
    for (const u of [old, registry2Style, fresh, slow]) {
      const res = await status(srv.url, u);
      assert.equal(res.status, 204, `upload ${u.uuid} must still be there`);
    }
    await srv.stop();
    srv = null;
  });

  it('removes uploads untouched for longer than the age at start-up; keeps young and still-active ones', async () => {
    srv = await startLanyard({ dataDir });
    const s = srv;
    await until('the old uploads to be purged', async () => (await status(s.url, old)).status === 404 && (await status(s.url, registry2Style)).status === 404);
    await assertOciError(await status(s.url, old), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.ok(!fs.existsSync(uploadDir(dataDir, old)), 'the purged upload is gone from disk');
    assert.ok(!fs.existsSync(uploadDir(dataDir, registry2Style)));
    // the others still work to the end
    for (const u of [fresh, slow]) {
      const st = await status(s.url, u);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), `0-${u.data.length - 1}`);
      const done = await putUpload(relocate(u.location, s.url), digestOf(u.data));
      assert.equal(done.status, 201, `finishing ${u.uuid}`);
      await done.arrayBuffer();
    }
    // and the purge is on record
    await until('an uploads.purged event in the log', async () => {
      const log = fs.readFileSync(path.join(dataDir, 'logs', 'lanyard.jsonl'), 'utf8');
      return log.split('\n').some((l) => l.includes('"uploads.purged"') && l.includes('"count":2'));
    });
    assert.equal((await req(`${s.url}/v2/`)).status, 200);
  });
});
