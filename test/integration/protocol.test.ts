// OCI Distribution v1.1 conformance tests for Lanyard, written from the spec and the
// project's decisions (not from the implementation). One server with delete enabled for
// most of the file, one without delete for the 405s, and throwaway servers for the
// restart tests. LANYARD_TEST_TARGET=registry2 runs the same file against registry:2,
// to sanity-check the expectations where registry:2 and our decisions agree.
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  ACCEPT_MANIFESTS, API_VERSION, EMPTY_JSON, EMPTY_JSON_DIGEST, MT, Target,
  abs, apiVersionViolations, assertOciError, assertStatus, bodyOf, descriptor, digestOf,
  expectedRange, getManifest, header, patchChunk, rangeSize, pushBlob, pushImage, pushManifest, putManifest,
  putUpload, randomBytes, randomDigest, rawRequest, relocate, repoName, req, snapshotTree,
  startTarget, startUpload,
} from '../helpers/oci';
import { tempDir } from '../helpers/proc';

function rmrf(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

async function json<T = any>(res: Response): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const text = await res.text();
  try { return JSON.parse(text) as T; } catch { throw new Error(`not JSON (${res.status}): ${text.slice(0, 300)}`); }
}

function pathOf(base: string, location: string | null): string {
  assert.ok(location, 'missing Location header');
  return new URL(location, base).pathname;
}

/** Parse `Link: <url>; rel="next"` into its URL (relative to base). */
function parseNextLink(base: string, link: string | null): URL | null {
  if (link === null) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
  assert.ok(m, `malformed Link header: ${link}`);
  return new URL(m[1], base);
}

function assertLinkShape(base: string, link: string | null, pathname: string, last: string, n: number): void {
  const u = parseNextLink(base, link);
  assert.ok(u, `expected a Link header for the next page after ${last}`);
  assert.equal(u.pathname, pathname, `Link path: ${link}`);
  assert.deepEqual([...u.searchParams.entries()], [['last', last], ['n', String(n)]], `Link query must be ?last=X&n=K: ${link}`);
}

describe('OCI distribution protocol', () => {
  let S: Target;
  let base: string;

  before(async () => {
    S = await startTarget({ deleteEnabled: true });
    base = S.url;
  });
  after(async () => {
    await S?.stop();
    rmrf(S?.dataDir);
  });

  // ------------------------------------------------------------------ base
  describe('base', () => {
    it('GET /v2/ → 200 with the API version header', async () => {
      const res = await req(`${base}/v2/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), API_VERSION);
      await res.arrayBuffer();
    });

    it('HEAD /v2/ and error responses also carry the API version header', async () => {
      const h = await req(`${base}/v2/`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('docker-distribution-api-version'), API_VERSION);
      const e = await req(`${base}/v2/${repoName('nobody')}/blobs/${randomDigest()}`);
      await assertOciError(e, 404, 'BLOB_UNKNOWN');
      const e2 = await req(`${base}/v2/${repoName('nobody')}/tags/list`);
      await assertOciError(e2, 404, 'NAME_UNKNOWN');
    });
  });

  // ------------------------------------------------------------------ names
  describe('repository names', () => {
    const marker = `lanyard-escape-${process.pid}-${Date.now()}`;
    const long300 = `${'a'.repeat(100)}/${'b'.repeat(100)}/${'c'.repeat(98)}`;
    const long256 = `${'a'.repeat(127)}/${'b'.repeat(128)}`;
    const invalid: Array<[string, string]> = [
      ['dot-dot component', 'foo/../bar'],
      ['dot-dot alone', '..'],
      ['path traversal out of the data dir', `../../../../../../../../../../tmp/${marker}`],
      ['upper case', 'Foo/bar'],
      ['mixed case component', 'fooBar'],
      ['300 characters', long300],
      ['256 characters', long256],
      ['empty component', 'foo//bar'],
      ['leading slash', '/foo'],
      ['trailing slash', 'foo/'],
      ['triple underscore', 'a___b'],
      ['leading dash', '-abc'],
      ['trailing dash', 'abc-'],
      ['double dot separator', 'a..b'],
    ];
    assert.equal(long300.length, 300);
    assert.equal(long256.length, 256);

    let validRepo: string;
    let uuid: string;
    let existing: string;
    const manifestBody = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(MT.ociEmpty, EMPTY_JSON), layers: [],
    }));

    before(async () => {
      validRepo = repoName('names');
      existing = await pushBlob(base, validRepo, randomBytes(100));
      const u = await startUpload(base, validRepo);
      uuid = u.uuid ?? new URL(u.location).pathname.split('/').pop()!;
    });

    function routes(n: string): Array<{ method: string; path: string; body?: Buffer; headers?: Record<string, string> }> {
      return [
        { method: 'GET', path: `/v2/${n}/blobs/${existing}` },
        { method: 'HEAD', path: `/v2/${n}/blobs/${existing}` },
        { method: 'DELETE', path: `/v2/${n}/blobs/${existing}` },
        { method: 'POST', path: `/v2/${n}/blobs/uploads/` },
        { method: 'POST', path: `/v2/${n}/blobs/uploads/?digest=${digestOf('x')}`, body: Buffer.from('x') },
        { method: 'POST', path: `/v2/${n}/blobs/uploads/?mount=${existing}&from=${validRepo}` },
        { method: 'GET', path: `/v2/${n}/blobs/uploads/${uuid}` },
        { method: 'PATCH', path: `/v2/${n}/blobs/uploads/${uuid}`, body: Buffer.from('abc'), headers: { 'Content-Range': '0-2' } },
        { method: 'PUT', path: `/v2/${n}/blobs/uploads/${uuid}?digest=${digestOf('abc')}`, body: Buffer.from('abc') },
        { method: 'DELETE', path: `/v2/${n}/blobs/uploads/${uuid}` },
        { method: 'GET', path: `/v2/${n}/manifests/latest` },
        { method: 'HEAD', path: `/v2/${n}/manifests/latest` },
        { method: 'PUT', path: `/v2/${n}/manifests/latest`, body: manifestBody, headers: { 'Content-Type': MT.ociManifest } },
        { method: 'DELETE', path: `/v2/${n}/manifests/latest` },
        { method: 'GET', path: `/v2/${n}/tags/list` },
        { method: 'GET', path: `/v2/${n}/referrers/${existing}` },
      ];
    }

    for (const [label, name] of invalid) {
      it(`${label} (${name.length > 40 ? name.slice(0, 40) + '…' : name}) → 400 NAME_INVALID on every route, nothing on disk`, async () => {
        const beforeTree = snapshotTree(S.dataDir);
        const failures: string[] = [];
        for (const r of routes(name)) {
          const res = await rawRequest(base, r.method, r.path, { body: r.body, headers: r.headers });
          try {
            await assertOciError(res, 400, 'NAME_INVALID', { head: r.method === 'HEAD' });
          } catch (e) {
            failures.push(`${r.method} ${r.path.slice(0, 120)}: ${(e as Error).message.split('\n')[0]}`);
          }
        }
        const afterTree = snapshotTree(S.dataDir);
        const added = afterTree.filter((p) => !beforeTree.includes(p));
        const removed = beforeTree.filter((p) => !afterTree.includes(p));
        assert.deepEqual(failures, [], `wrong answers for name ${JSON.stringify(name)}`);
        assert.deepEqual({ added, removed }, { added: [], removed: [] }, 'invalid name changed the data dir');
        assert.equal(fs.existsSync(path.join('/tmp', marker)), false, 'path traversal created a directory in /tmp');
        assert.equal(fs.existsSync(path.join(os.tmpdir(), marker)), false, 'path traversal created a directory in tmpdir');
      });
    }

    it('percent-encoded traversal (foo/%2e%2e/bar) is rejected and creates nothing', async () => {
      const beforeTree = snapshotTree(S.dataDir);
      for (const p of ['/v2/foo/%2e%2e/bar/blobs/uploads/', '/v2/foo%2F..%2Fbar/blobs/uploads/', '/v2/%2e%2e/blobs/uploads/']) {
        const res = await rawRequest(base, 'POST', p);
        assert.ok(res.status === 400 || res.status === 404, `POST ${p}: expected 400/404, got ${res.status} ${res.body.toString().slice(0, 200)}`);
      }
      assert.deepEqual(snapshotTree(S.dataDir).filter((p) => !beforeTree.includes(p)), []);
    });

    it('a 255-character nested name with every separator kind is valid', async () => {
      const prefix = `${'a'.repeat(60)}/b.c/d_e/f__g/h-i/j---k/`;
      const name = prefix + 'z'.repeat(255 - prefix.length);
      assert.equal(name.length, 255);
      const img = await pushImage(base, name, 'v1');
      const res = await getManifest(base, name, 'v1');
      assert.equal(res.status, 200);
      assert.deepEqual(await bodyOf(res), img.body);
    });
  });

  // ------------------------------------------------------------------ uploads
  describe('blob uploads', () => {
    it('POST → 202 with relative Location /v2/N/blobs/uploads/<uuid>, Range 0-0, Docker-Upload-UUID', async () => {
      const repo = repoName('upl');
      const res = await req(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      await res.arrayBuffer();
      const uuid = res.headers.get('docker-upload-uuid');
      assert.ok(uuid, 'Docker-Upload-UUID');
      const loc = res.headers.get('location');
      assert.ok(loc, 'Location');
      assert.ok(loc.startsWith('/'), `Location should be relative, got ${loc}`);
      assert.equal(pathOf(base, loc), `/v2/${repo}/blobs/uploads/${uuid}`);
      assert.equal(res.headers.get('range'), '0-0');
    });

    it('GET status of a fresh upload → 204, Range 0-0, Location, Docker-Upload-UUID', async () => {
      const repo = repoName('upl');
      const u = await startUpload(base, repo);
      const res = await req(u.location);
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('range'), '0-0');
      assert.ok(res.headers.get('location'), 'Location on upload status');
      assert.equal(pathOf(base, res.headers.get('location')), new URL(u.location).pathname);
      assert.equal(res.headers.get('docker-upload-uuid'), u.uuid);
    });

    it('PATCH chunks with Content-Range → 202, Location, Range 0-<size-1>; GET status agrees; PUT → 201', async () => {
      const repo = repoName('upl');
      const data = randomBytes(300_000);
      let { location } = await startUpload(base, repo);
      const cuts = [0, 100_000, 100_001, 250_000, 300_000];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const res = await patchChunk(location, data.subarray(cuts[i], cuts[i + 1]), cuts[i]);
        assert.equal(res.status, 202, `PATCH ${cuts[i]}-${cuts[i + 1] - 1}`);
        assert.equal(res.headers.get('range'), expectedRange(cuts[i + 1]));
        assert.ok(res.headers.get('location'), 'PATCH Location');
        assert.ok(res.headers.get('docker-upload-uuid'), 'PATCH Docker-Upload-UUID');
        location = abs(location, res.headers.get('location')!);
        const st = await req(location);
        assert.equal(st.status, 204);
        assert.equal(st.headers.get('range'), expectedRange(cuts[i + 1]));
      }
      const d = digestOf(data);
      const put = await putUpload(location, d);
      assert.equal(put.status, 201);
      assert.equal(pathOf(base, put.headers.get('location')), `/v2/${repo}/blobs/${d}`);
      assert.equal(put.headers.get('docker-content-digest'), d);
      const get = await req(`${base}/v2/${repo}/blobs/${d}`);
      assert.equal(get.status, 200);
      assert.deepEqual(await bodyOf(get), data);
    });

    it('PATCH whose Content-Range does not start at the current size → 416 RANGE_INVALID, upload unchanged', async () => {
      const repo = repoName('upl');
      const data = randomBytes(2000);
      let { location } = await startUpload(base, repo);
      // first chunk must start at 0
      await assertOciError(await patchChunk(location, data.subarray(0, 10), 5), 416, 'RANGE_INVALID', { what: 'gap at start' });
      let res = await patchChunk(location, data.subarray(0, 1000), 0);
      assert.equal(res.status, 202);
      location = abs(location, res.headers.get('location')!);
      // gap
      await assertOciError(await patchChunk(location, data.subarray(1001, 1500), 1001), 416, 'RANGE_INVALID', { what: 'gap' });
      // overlap / restart
      await assertOciError(await patchChunk(location, data.subarray(0, 1000), 0), 416, 'RANGE_INVALID', { what: 'overlap from 0' });
      await assertOciError(await patchChunk(location, data.subarray(999, 1500), 999), 416, 'RANGE_INVALID', { what: 'overlap by one' });
      const st = await req(location);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-999');
      res = await patchChunk(location, data.subarray(1000), 1000);
      assert.equal(res.status, 202);
      location = abs(location, res.headers.get('location')!);
      const put = await putUpload(location, digestOf(data));
      assert.equal(put.status, 201);
    });

    it('PATCH whose body length differs from its Content-Range → 400 BLOB_UPLOAD_INVALID, upload unchanged', async () => {
      const repo = repoName('upl');
      const data = randomBytes(3000);
      let { location } = await startUpload(base, repo);
      let res = await patchChunk(location, data.subarray(0, 1000), 0);
      assert.equal(res.status, 202);
      location = abs(location, res.headers.get('location')!);
      // body shorter than the range
      res = await req(location, { method: 'PATCH', headers: { 'Content-Range': '1000-1999', 'Content-Type': 'application/octet-stream' }, body: data.subarray(1000, 1500) });
      await assertOciError(res, 400, 'BLOB_UPLOAD_INVALID', { what: 'short body' });
      let st = await req(location);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-999', 'short body must not change the upload');
      // body longer than the range
      res = await req(location, { method: 'PATCH', headers: { 'Content-Range': '1000-1499', 'Content-Type': 'application/octet-stream' }, body: data.subarray(1000, 2000) });
      await assertOciError(res, 400, 'BLOB_UPLOAD_INVALID', { what: 'long body' });
      st = await req(location);
      assert.equal(st.headers.get('range'), '0-999', 'long body must not change the upload');
      // still usable
      res = await patchChunk(location, data.subarray(1000), 1000);
      assert.equal(res.status, 202);
      location = abs(location, res.headers.get('location')!);
      assert.equal((await putUpload(location, digestOf(data))).status, 201);
    });

    it('PATCH without Content-Range appends (Content-Length and chunked transfer encoding)', async () => {
      const repo = repoName('upl');
      const data = randomBytes(1_500_000);
      let { location } = await startUpload(base, repo);
      // 1) plain body with Content-Length, no Content-Range
      let res = await req(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: data.subarray(0, 500_000) });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), '0-499999');
      location = abs(location, res.headers.get('location')!);
      // 2) streamed, chunked transfer encoding, with pauses
      async function* slow(buf: Buffer) {
        for (let off = 0; off < buf.length; off += 64 * 1024) {
          yield buf.subarray(off, Math.min(off + 64 * 1024, buf.length));
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      const u = new URL(location);
      const raw = await rawRequest(base, 'PATCH', u.pathname + u.search, {
        headers: { 'Content-Type': 'application/octet-stream' }, body: slow(data.subarray(500_000, 1_200_000)),
      });
      assert.equal(raw.status, 202, raw.body.toString());
      assert.equal(header(raw, 'range'), '0-1199999');
      location = abs(location, header(raw, 'location')!);
      const st = await req(location);
      assert.equal(st.headers.get('range'), '0-1199999');
      // final chunk in the PUT
      const d = digestOf(data);
      const put = await putUpload(location, d, data.subarray(1_200_000));
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), d);
      const get = await req(`${base}/v2/${repo}/blobs/${d}`);
      assert.deepEqual(await bodyOf(get), data);
    });

    it('PUT ?digest=D with the whole blob as final chunk → 201, Location /v2/N/blobs/D, Docker-Content-Digest', async () => {
      const repo = repoName('upl');
      const data = randomBytes(70_000);
      const d = digestOf(data);
      const { location } = await startUpload(base, repo);
      const put = await putUpload(location, d, data);
      assert.equal(put.status, 201);
      assert.equal(pathOf(base, put.headers.get('location')), `/v2/${repo}/blobs/${d}`);
      assert.equal(put.headers.get('docker-content-digest'), d);
      const head = await req(`${base}/v2/${repo}/blobs/${d}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(data.length));
    });

    it('an empty blob can be uploaded (PUT with no body)', async () => {
      const repo = repoName('upl');
      const d = digestOf(Buffer.alloc(0));
      const { location } = await startUpload(base, repo);
      const put = await putUpload(location, d);
      assert.equal(put.status, 201);
      const head = await req(`${base}/v2/${repo}/blobs/${d}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '0');
    });

    it('PUT with the wrong digest → 400 DIGEST_INVALID and the blob is not visible', async () => {
      const repo = repoName('upl');
      const data = randomBytes(5000);
      const wrong = randomDigest();
      let { location } = await startUpload(base, repo);
      const res = await patchChunk(location, data, 0);
      assert.equal(res.status, 202);
      location = abs(location, res.headers.get('location')!);
      await assertOciError(await putUpload(location, wrong), 400, 'DIGEST_INVALID');
      assert.equal((await req(`${base}/v2/${repo}/blobs/${wrong}`, { method: 'HEAD' })).status, 404, 'claimed digest visible');
      assert.equal((await req(`${base}/v2/${repo}/blobs/${digestOf(data)}`, { method: 'HEAD' })).status, 404, 'real digest visible');
      // and with the final chunk in the PUT itself
      const u2 = await startUpload(base, repo);
      await assertOciError(await putUpload(u2.location, wrong, data), 400, 'DIGEST_INVALID');
      assert.equal((await req(`${base}/v2/${repo}/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
      assert.equal((await req(`${base}/v2/${repo}/blobs/${digestOf(data)}`, { method: 'HEAD' })).status, 404);
    });

    it('PUT without ?digest or with a malformed digest → 400 DIGEST_INVALID', async () => {
      const repo = repoName('upl');
      const data = randomBytes(100);
      const { location } = await startUpload(base, repo);
      await assertOciError(await putUpload(location, null, data), 400, 'DIGEST_INVALID', { what: 'no digest' });
      const u2 = await startUpload(base, repo);
      await assertOciError(await putUpload(u2.location, 'sha256:1234', data), 400, 'DIGEST_INVALID', { what: 'short hex' });
      const u3 = await startUpload(base, repo);
      await assertOciError(await putUpload(u3.location, 'nonsense', data), 400, 'DIGEST_INVALID', { what: 'no algorithm' });
    });

    it('DELETE upload → 204; then GET/PATCH/PUT on it → 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = repoName('upl');
      let { location } = await startUpload(base, repo);
      const p = await patchChunk(location, randomBytes(100), 0);
      location = abs(location, p.headers.get('location')!);
      const del = await req(location, { method: 'DELETE' });
      assert.equal(del.status, 204);
      await assertOciError(await req(location), 404, 'BLOB_UPLOAD_UNKNOWN', { what: 'GET' });
      await assertOciError(await patchChunk(location, randomBytes(10), 100), 404, 'BLOB_UPLOAD_UNKNOWN', { what: 'PATCH' });
      await assertOciError(await putUpload(location, digestOf('x'), Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN', { what: 'PUT' });
      await assertOciError(await req(location, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN', { what: 'DELETE again' });
    });

    it('a finished upload is gone: GET its Location → 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repo = repoName('upl');
      const data = randomBytes(100);
      const { location } = await startUpload(base, repo);
      assert.equal((await putUpload(location, digestOf(data), data)).status, 201);
      await assertOciError(await req(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('bad upload ids (.., ., garbage, unknown uuid, another repo\'s uuid) → 404 BLOB_UPLOAD_UNKNOWN, nothing on disk', async () => {
      const repo = repoName('upl');
      const other = repoName('upl');
      const foreign = await startUpload(base, other);
      const foreignId = foreign.uuid ?? new URL(foreign.location).pathname.split('/').pop()!;
      await startUpload(base, repo); // the repo exists and has an upload of its own
      const ids = ['..', '.', '%2e%2e', 'garbage!!', 'not-a-uuid', '00000000-0000-4000-8000-000000000000', `${foreignId}x`, foreignId, 'x'.repeat(300)];
      const beforeTree = snapshotTree(S.dataDir);
      const failures: string[] = [];
      for (const id of ids) {
        const p = `/v2/${repo}/blobs/uploads/${id}`;
        const reqs: Array<[string, string, Buffer | undefined, Record<string, string>]> = [
          ['GET', p, undefined, {}],
          ['PATCH', p, Buffer.from('abc'), { 'Content-Range': '0-2' }],
          ['PUT', `${p}?digest=${digestOf('abc')}`, Buffer.from('abc'), {}],
          ['DELETE', p, undefined, {}],
        ];
        for (const [m, rp, body, headers] of reqs) {
          const res = await rawRequest(base, m, rp, { body, headers });
          try { await assertOciError(res, 404, 'BLOB_UPLOAD_UNKNOWN'); } catch (e) { failures.push(`${m} ${rp.slice(0, 100)}: ${(e as Error).message.split('\n')[0]}`); }
        }
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(snapshotTree(S.dataDir).filter((p) => !beforeTree.includes(p)), [], 'bad upload ids created files');
      // the foreign upload is intact
      const st = await req(foreign.location);
      assert.equal(st.status, 204);
    });

    it('POST ?digest=D with the blob → 201 monolithic upload', async () => {
      const repo = repoName('upl');
      const data = randomBytes(40_000);
      const d = digestOf(data);
      const res = await req(`${base}/v2/${repo}/blobs/uploads/?digest=${d}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: data });
      assert.equal(res.status, 201);
      assert.equal(pathOf(base, res.headers.get('location')), `/v2/${repo}/blobs/${d}`);
      assert.equal(res.headers.get('docker-content-digest'), d);
      const get = await req(`${base}/v2/${repo}/blobs/${d}`);
      assert.equal(get.status, 200);
      assert.deepEqual(await bodyOf(get), data);
    });

    it('POST ?digest=D with a body of another digest → 400 DIGEST_INVALID, not visible', async () => {
      const repo = repoName('upl');
      const data = randomBytes(1000);
      const wrong = randomDigest();
      const res = await req(`${base}/v2/${repo}/blobs/uploads/?digest=${wrong}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: data });
      await assertOciError(res, 400, 'DIGEST_INVALID');
      assert.equal((await req(`${base}/v2/${repo}/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
      assert.equal((await req(`${base}/v2/${repo}/blobs/${digestOf(data)}`, { method: 'HEAD' })).status, 404);
    });

    it('POST ?mount=D&from=R where R has the blob → 201, Location, Docker-Content-Digest; blob visible', async () => {
      const from = repoName('mnt-src');
      const to = repoName('mnt-dst');
      const data = randomBytes(20_000);
      const d = await pushBlob(base, from, data);
      assert.equal((await req(`${base}/v2/${to}/blobs/${d}`, { method: 'HEAD' })).status, 404, 'not yet in target');
      const res = await req(`${base}/v2/${to}/blobs/uploads/?mount=${d}&from=${from}`, { method: 'POST' });
      assert.equal(res.status, 201);
      assert.equal(pathOf(base, res.headers.get('location')), `/v2/${to}/blobs/${d}`);
      assert.equal(res.headers.get('docker-content-digest'), d);
      const get = await req(`${base}/v2/${to}/blobs/${d}`);
      assert.equal(get.status, 200);
      assert.deepEqual(await bodyOf(get), data);
    });

    it('POST ?mount=D&from=R where R lacks the blob (even if another repo has it) → 202 new upload', async () => {
      const holder = repoName('mnt-holder');
      const from = repoName('mnt-empty');
      const to = repoName('mnt-dst');
      const data = randomBytes(1000);
      const d = await pushBlob(base, holder, data);
      await pushBlob(base, from, randomBytes(10)); // R exists, but without D
      for (const src of [repoName('mnt-missing'), from]) {
        const res = await req(`${base}/v2/${to}/blobs/uploads/?mount=${d}&from=${src}`, { method: 'POST' });
        assert.equal(res.status, 202, `mount from ${src}`);
        assert.equal(res.headers.get('range'), '0-0');
        const loc = res.headers.get('location');
        assert.ok(loc);
        assert.match(pathOf(base, loc), new RegExp(`^/v2/${to}/blobs/uploads/[^/]+$`));
        assert.equal((await req(`${base}/v2/${to}/blobs/${d}`, { method: 'HEAD' })).status, 404, 'blob leaked into target repo');
        // the fallback upload works
        if (src === from) {
          const put = await putUpload(abs(base, loc), d, data);
          assert.equal(put.status, 201);
          assert.equal((await req(`${base}/v2/${to}/blobs/${d}`, { method: 'HEAD' })).status, 200);
        }
      }
    });

    it('chunked upload of 5 MiB in 1 MiB chunks round-trips', async () => {
      const repo = repoName('upl');
      const data = randomBytes(5 * 1024 * 1024 + 123);
      const d = await pushBlob(base, repo, data, { mode: 'chunked', chunkSize: 1 << 20 });
      const get = await req(`${base}/v2/${repo}/blobs/${d}`);
      assert.equal(get.status, 200);
      assert.equal(digestOf(await bodyOf(get)), d);
    });
  });

  // ------------------------------------------------------------------ blobs
  describe('blobs', () => {
    let repo: string;
    let data: Buffer;
    let d: string;
    before(async () => {
      repo = repoName('blob');
      data = randomBytes(10_000);
      d = await pushBlob(base, repo, data);
    });

    it('GET → 200 with the bytes, Content-Length, Docker-Content-Digest, ETag', async () => {
      const res = await req(`${base}/v2/${repo}/blobs/${d}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(data.length));
      assert.equal(res.headers.get('docker-content-digest'), d);
      assert.ok(res.headers.get('etag'), 'ETag');
      assert.deepEqual(await bodyOf(res), data);
    });

    it('HEAD → 200 with Content-Length, Docker-Content-Digest, ETag and no body', async () => {
      const res = await req(`${base}/v2/${repo}/blobs/${d}`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(data.length));
      assert.equal(res.headers.get('docker-content-digest'), d);
      assert.ok(res.headers.get('etag'), 'ETag');
      assert.equal((await bodyOf(res)).length, 0);
    });

    it('Range bytes=a-b → 206 with Content-Range bytes a-b/size and the slice', async () => {
      for (const [a, b] of [[0, 0], [0, 99], [1234, 5677], [9999, 9999]]) {
        const res = await req(`${base}/v2/${repo}/blobs/${d}`, { headers: { Range: `bytes=${a}-${b}` } });
        assert.equal(res.status, 206, `bytes=${a}-${b}`);
        assert.equal(res.headers.get('content-range'), `bytes ${a}-${b}/${data.length}`);
        assert.equal(res.headers.get('content-length'), String(b - a + 1));
        assert.deepEqual(await bodyOf(res), data.subarray(a, b + 1));
      }
    });

    it('Range bytes=a- (open end, as containerd resumes) → 206 to the end', async () => {
      const res = await req(`${base}/v2/${repo}/blobs/${d}`, { headers: { Range: 'bytes=4000-' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes 4000-9999/${data.length}`);
      assert.deepEqual(await bodyOf(res), data.subarray(4000));
    });

    it('Range whose end is past the blob is clamped (RFC 9110 §14.1.2) → 206', async () => {
      const res = await req(`${base}/v2/${repo}/blobs/${d}`, { headers: { Range: 'bytes=9000-20000' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes 9000-9999/${data.length}`);
      assert.deepEqual(await bodyOf(res), data.subarray(9000));
    });

    it('unsatisfiable Range → 416', async () => {
      for (const r of [`bytes=${data.length}-${data.length + 10}`, `bytes=${data.length + 5}-`, 'bytes=20000-30000']) {
        const res = await req(`${base}/v2/${repo}/blobs/${d}`, { headers: { Range: r } });
        await assertStatus(res, 416, r);
        await res.arrayBuffer();
      }
    });

    it('unknown blob → 404 BLOB_UNKNOWN (GET) / 404 (HEAD); a blob of another repo is unknown here', async () => {
      const unknown = randomDigest();
      await assertOciError(await req(`${base}/v2/${repo}/blobs/${unknown}`), 404, 'BLOB_UNKNOWN');
      assert.equal((await req(`${base}/v2/${repo}/blobs/${unknown}`, { method: 'HEAD' })).status, 404);
      const other = repoName('blob-other');
      await pushBlob(base, other, randomBytes(10));
      await assertOciError(await req(`${base}/v2/${other}/blobs/${d}`), 404, 'BLOB_UNKNOWN', { what: 'cross-repo GET' });
      assert.equal((await req(`${base}/v2/${other}/blobs/${d}`, { method: 'HEAD' })).status, 404, 'cross-repo HEAD');
    });

    it('malformed digest in the blob path → 400 DIGEST_INVALID', async () => {
      for (const bad of ['sha256:1234', `sha256:${'A'.repeat(64)}`, 'notadigest:x', `sha256:${'a'.repeat(63)}g`]) {
        const res = await rawRequest(base, 'GET', `/v2/${repo}/blobs/${bad}`);
        await assertOciError(res, 400, 'DIGEST_INVALID', { what: bad });
      }
    });

    it('DELETE (delete enabled) → 202, then HEAD → 404 and GET → 404 BLOB_UNKNOWN; unknown → 404', async () => {
      const r = repoName('blob-del');
      const bytes = randomBytes(500);
      const bd = await pushBlob(base, r, bytes);
      const del = await req(`${base}/v2/${r}/blobs/${bd}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.equal((await req(`${base}/v2/${r}/blobs/${bd}`, { method: 'HEAD' })).status, 404);
      await assertOciError(await req(`${base}/v2/${r}/blobs/${bd}`), 404, 'BLOB_UNKNOWN');
      await assertOciError(await req(`${base}/v2/${r}/blobs/${randomDigest()}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN', { what: 'delete unknown' });
    });
  });

  // ------------------------------------------------------------------ manifests
  describe('manifests', () => {
    async function assertServed(repo: string, ref: string, body: Buffer, mediaType: string): Promise<void> {
      const res = await getManifest(base, repo, ref);
      assert.equal(res.status, 200, `GET manifest ${ref}`);
      assert.equal(res.headers.get('content-type'), mediaType, `Content-Type of ${ref}`);
      assert.equal(res.headers.get('docker-content-digest'), digestOf(body));
      assert.deepEqual(await bodyOf(res), body, `bytes of ${ref}`);
      const head = await getManifest(base, repo, ref, 'HEAD');
      assert.equal(head.status, 200, `HEAD manifest ${ref}`);
      assert.equal(head.headers.get('content-type'), mediaType);
      assert.equal(head.headers.get('docker-content-digest'), digestOf(body));
      assert.equal(head.headers.get('content-length'), String(body.length));
      assert.equal((await bodyOf(head)).length, 0);
    }

    it('OCI image manifest: PUT by tag → 201, Location, Docker-Content-Digest; GET/HEAD by tag and digest return the same bytes', async () => {
      const repo = repoName('man');
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      const layer = randomBytes(2048);
      await pushBlob(base, repo, config);
      await pushBlob(base, repo, layer);
      // odd formatting on purpose: the registry must keep the exact bytes
      const body = Buffer.from(`{\n  "schemaVersion" : 2,\n\t"mediaType":"${MT.ociManifest}",\n  "config": ${JSON.stringify(descriptor(MT.ociConfig, config))},\n  "layers":[ ${JSON.stringify(descriptor(MT.ociLayer, layer))} ] }\n\n`);
      const p = await putManifest(base, repo, 'v1.0', body, MT.ociManifest);
      assert.equal(p.res.status, 201);
      assert.ok(p.res.headers.get('location'), 'Location');
      assert.equal(p.res.headers.get('docker-content-digest'), p.digest);
      await assertServed(repo, 'v1.0', body, MT.ociManifest);
      await assertServed(repo, p.digest, body, MT.ociManifest);
    });

    it('Docker schema2 manifest and manifest list', async () => {
      const repo = repoName('man-docker');
      const a = await pushImage(base, repo, '', { docker: true });
      const b = await pushImage(base, repo, '', { docker: true });
      await assertServed(repo, a.digest, a.body, MT.dockerManifest);
      const list = {
        schemaVersion: 2, mediaType: MT.dockerList,
        manifests: [
          descriptor(MT.dockerManifest, a.body, { platform: { architecture: 'amd64', os: 'linux' } }),
          descriptor(MT.dockerManifest, b.body, { platform: { architecture: 'arm64', os: 'linux' } }),
        ],
      };
      const p = await pushManifest(base, repo, 'multi', list);
      await assertServed(repo, 'multi', p.body, MT.dockerList);
      await assertServed(repo, p.digest, p.body, MT.dockerList);
    });

    it('OCI index of OCI manifests', async () => {
      const repo = repoName('man-index');
      const a = await pushImage(base, repo, '');
      const b = await pushImage(base, repo, 'b');
      const index = {
        schemaVersion: 2, mediaType: MT.ociIndex,
        manifests: [
          descriptor(MT.ociManifest, a.body, { platform: { architecture: 'amd64', os: 'linux' } }),
          descriptor(MT.ociManifest, b.body, { platform: { architecture: 'arm64', os: 'linux' } }),
        ],
        annotations: { 'org.opencontainers.image.ref.name': 'idx' },
      };
      const p = await pushManifest(base, repo, 'latest', index);
      await assertServed(repo, 'latest', p.body, MT.ociIndex);
    });

    it('OCI artifact (artifactType, empty config, subject, annotations) → 201 with OCI-Subject', async () => {
      const repo = repoName('man-art');
      const subj = await pushImage(base, repo, 'app');
      await pushBlob(base, repo, EMPTY_JSON);
      const payload = randomBytes(300);
      await pushBlob(base, repo, payload);
      const art = {
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.sbom.v1',
        config: { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 },
        layers: [descriptor('application/vnd.example.sbom.layer.v1+json', payload)],
        subject: descriptor(MT.ociManifest, subj.body),
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'com.example.k': 'v' },
      };
      const put = await putManifest(base, repo, digestOf(JSON.stringify(art)), art);
      assert.equal(put.res.status, 201);
      assert.equal(put.res.headers.get('oci-subject'), subj.digest);
      assert.equal(put.res.headers.get('docker-content-digest'), put.digest);
      await assertServed(repo, put.digest, put.body, MT.ociManifest);
      assert.equal(EMPTY_JSON_DIGEST, digestOf('{}'));
    });

    it('artifact with layers = [empty descriptor] and a subject that does not exist → 201', async () => {
      const repo = repoName('man-art');
      await pushBlob(base, repo, EMPTY_JSON);
      const missingSubject = randomDigest();
      const art = {
        schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.sig',
        config: { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 },
        layers: [{ mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 }],
        subject: { mediaType: MT.ociManifest, digest: missingSubject, size: 1234 },
      };
      const put = await putManifest(base, repo, 'sig', art);
      await assertStatus(put.res, 201);
      assert.equal(put.res.headers.get('oci-subject'), missingSubject);
      await assertServed(repo, 'sig', put.body, MT.ociManifest);
    });

    it('OCI index with a subject is accepted and reports OCI-Subject', async () => {
      const repo = repoName('man-art');
      const a = await pushImage(base, repo, '');
      const subj = await pushImage(base, repo, 'base');
      const idx = {
        schemaVersion: 2, mediaType: MT.ociIndex, artifactType: 'application/vnd.example.bundle',
        manifests: [descriptor(MT.ociManifest, a.body)],
        subject: descriptor(MT.ociManifest, subj.body),
      };
      const put = await putManifest(base, repo, 'bundle', idx);
      await assertStatus(put.res, 201);
      assert.equal(put.res.headers.get('oci-subject'), subj.digest);
    });

    it('missing config, layer, or (for an index/list) child manifest in this repo → 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const repo = repoName('man-missing');
      const other = repoName('man-other');
      const config = Buffer.from('{"c":1}');
      const layer = randomBytes(100);
      const foreignLayer = randomBytes(100);
      await pushBlob(base, repo, config);
      await pushBlob(base, repo, layer);
      await pushBlob(base, other, foreignLayer);
      const mk = (c: Buffer, ls: Buffer[]) => ({ schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(MT.ociConfig, c), layers: ls.map((l) => descriptor(MT.ociLayer, l)) });
      await assertOciError((await putManifest(base, repo, 't1', mk(Buffer.from('{"c":2}'), [layer]))).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'missing config' });
      await assertOciError((await putManifest(base, repo, 't2', mk(config, [layer, randomBytes(10)]))).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'missing layer' });
      await assertOciError((await putManifest(base, repo, 't3', mk(config, [foreignLayer]))).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'layer only in another repo' });
      const dockerM = { schemaVersion: 2, mediaType: MT.dockerManifest, config: descriptor(MT.dockerConfig, config), layers: [descriptor(MT.dockerLayer, randomBytes(5))] };
      await assertOciError((await putManifest(base, repo, 't4', dockerM)).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'docker missing layer' });
      const foreignImg = await pushImage(base, other, 'x');
      const idx = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [descriptor(MT.ociManifest, foreignImg.body)] };
      await assertOciError((await putManifest(base, repo, 't5', idx)).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'index child only in another repo' });
      const list = { schemaVersion: 2, mediaType: MT.dockerList, manifests: [descriptor(MT.dockerManifest, Buffer.from('{"nope":1}'), { platform: { architecture: 'amd64', os: 'linux' } })] };
      await assertOciError((await putManifest(base, repo, 't6', list)).res, 400, 'MANIFEST_BLOB_UNKNOWN', { what: 'list child missing' });
      for (const t of ['t1', 't2', 't3', 't4', 't5', 't6']) {
        assert.equal((await getManifest(base, repo, t, 'HEAD')).status, 404, `tag ${t} must not exist`);
      }
    });

    it('invalid JSON → 400 MANIFEST_INVALID; mediaType differing from Content-Type → 400 MANIFEST_INVALID', async () => {
      const repo = repoName('man-inv');
      const img = await pushImage(base, repo, 'ok');
      await assertOciError((await putManifest(base, repo, 'bad', '{"schemaVersion": 2, ', MT.ociManifest)).res, 400, 'MANIFEST_INVALID', { what: 'truncated JSON' });
      await assertOciError((await putManifest(base, repo, 'bad', 'not json at all', MT.ociManifest)).res, 400, 'MANIFEST_INVALID', { what: 'garbage' });
      await assertOciError((await putManifest(base, repo, 'bad', img.body, MT.dockerManifest)).res, 400, 'MANIFEST_INVALID', { what: 'OCI body, Docker Content-Type' });
      await assertOciError((await putManifest(base, repo, 'bad', img.body, MT.ociIndex)).res, 400, 'MANIFEST_INVALID', { what: 'OCI manifest body, OCI index Content-Type' });
      assert.equal((await getManifest(base, repo, 'bad', 'HEAD')).status, 404);
    });

    it('PUT by digest: matching → 201 (untagged); not matching the body → 400 DIGEST_INVALID', async () => {
      const repo = repoName('man-dig');
      const img = await pushImage(base, repo, 'tagged');
      const m2 = { ...img.manifest, annotations: { x: 'y' } };
      const body2 = Buffer.from(JSON.stringify(m2));
      const ok = await putManifest(base, repo, digestOf(body2), body2, MT.ociManifest);
      assert.equal(ok.res.status, 201);
      assert.equal(ok.res.headers.get('docker-content-digest'), digestOf(body2));
      assert.ok(ok.res.headers.get('location'));
      await assertServed(repo, digestOf(body2), body2, MT.ociManifest);
      const body3 = Buffer.from(JSON.stringify({ ...img.manifest, annotations: { x: 'z' } }));
      await assertOciError((await putManifest(base, repo, digestOf(body2), body3, MT.ociManifest)).res, 400, 'DIGEST_INVALID', { what: 'mismatching digest ref' });
      await assertOciError((await putManifest(base, repo, randomDigest(), body3, MT.ociManifest)).res, 400, 'DIGEST_INVALID', { what: 'random digest ref' });
      assert.equal((await getManifest(base, repo, digestOf(body3), 'HEAD')).status, 404);
      const tags = await json<{ tags: string[] }>(await req(`${base}/v2/${repo}/tags/list`));
      assert.deepEqual(tags.tags, ['tagged']);
    });

    it('re-tagging moves the tag; both manifests stay reachable by digest', async () => {
      const repo = repoName('man-retag');
      const a = await pushImage(base, repo, 'latest');
      const b = await pushImage(base, repo, 'latest');
      await assertServed(repo, 'latest', b.body, MT.ociManifest);
      await assertServed(repo, a.digest, a.body, MT.ociManifest);
    });

    it('unknown tag or digest → 404 MANIFEST_UNKNOWN (GET) / 404 (HEAD); unknown repo → 404', async () => {
      const repo = repoName('man-unk');
      await pushImage(base, repo, 'exists');
      for (const ref of ['nope', randomDigest()]) {
        await assertOciError(await getManifest(base, repo, ref), 404, 'MANIFEST_UNKNOWN', { what: ref });
        assert.equal((await getManifest(base, repo, ref, 'HEAD')).status, 404);
      }
      const res = await getManifest(base, repoName('man-nothere'), 'latest');
      assert.equal(res.status, 404);
      const errs = await json<{ errors: Array<{ code: string }> }>(res);
      assert.ok(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN'].includes(errs.errors[0].code), JSON.stringify(errs));
    });

    it('invalid tag → 400 TAG_INVALID; reference with ":" that is not a digest → 400 DIGEST_INVALID', async () => {
      const repo = repoName('man-tag');
      const img = await pushImage(base, repo, 'ok');
      const badTags = ['-bad', '.bad', 'bad!tag', 'a'.repeat(129), 'b%2Fc'];
      const badDigests = ['sha256:abc', `sha256:${'A'.repeat(64)}`, 'md5:abcdef', 'foo:bar'];
      const failures: string[] = [];
      for (const [refs, status, code] of [[badTags, 400, 'TAG_INVALID'], [badDigests, 400, 'DIGEST_INVALID']] as const) {
        for (const ref of refs) {
          for (const m of ['GET', 'PUT', 'DELETE'] as const) {
            const res = await rawRequest(base, m, `/v2/${repo}/manifests/${ref}`, m === 'PUT'
              ? { body: img.body, headers: { 'Content-Type': MT.ociManifest } } : { headers: { Accept: ACCEPT_MANIFESTS } });
            try { await assertOciError(res, status, code); } catch (e) { failures.push(`${m} ${ref.slice(0, 30)}: ${(e as Error).message.split('\n')[0]}`); }
          }
          const head = await rawRequest(base, 'HEAD', `/v2/${repo}/manifests/${ref}`);
          if (head.status !== status) failures.push(`HEAD ${ref.slice(0, 30)}: ${head.status}`);
        }
      }
      assert.deepEqual(failures, []);
      // the longest valid tag (128) and tags with _ . - upper case are fine
      for (const t of ['a'.repeat(128), '_under', 'UPPER.case-1_2']) {
        const p = await putManifest(base, repo, t, img.body, MT.ociManifest);
        assert.equal(p.res.status, 201, `valid tag ${t.slice(0, 20)}`);
      }
    });

    it('a 4 MiB manifest is accepted; one byte more → 413 SIZE_INVALID', async () => {
      const repo = repoName('man-big');
      const cfg = Buffer.from('{}');
      const layer = randomBytes(10);
      await pushBlob(base, repo, cfg);
      await pushBlob(base, repo, layer);
      const make = (size: number): Buffer => {
        const m = { schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(MT.ociConfig, cfg), layers: [descriptor(MT.ociLayer, layer)], annotations: { pad: '' } };
        const baseLen = Buffer.byteLength(JSON.stringify(m));
        m.annotations.pad = 'p'.repeat(size - baseLen);
        const b = Buffer.from(JSON.stringify(m));
        assert.equal(b.length, size);
        return b;
      };
      const max = make(4 * 1024 * 1024);
      const p = await putManifest(base, repo, 'max', max, MT.ociManifest);
      await assertStatus(p.res, 201, '4 MiB manifest');
      const got = await getManifest(base, repo, 'max');
      assert.equal(digestOf(await bodyOf(got)), digestOf(max));
      const over = make(4 * 1024 * 1024 + 1);
      // (waits for an early answer before sending the body: see the note in the report about
      // the server closing without draining, which can make a client miss the 413)
      const r1 = await rawRequest(base, 'PUT', `/v2/${repo}/manifests/over`, { body: over, headers: { 'Content-Type': MT.ociManifest }, earlyResponseMs: 1000 });
      await assertOciError(r1, 413, 'SIZE_INVALID', { what: 'Content-Length' });
      assert.equal((await getManifest(base, repo, 'over', 'HEAD')).status, 404);
    });

    it('DELETE by tag (delete enabled) → 202, removes only the tag', async () => {
      const repo = repoName('man-del');
      const img = await pushImage(base, repo, 'gone');
      await pushManifest(base, repo, 'stays', img.body, MT.ociManifest);
      const del = await req(`${base}/v2/${repo}/manifests/gone`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      await assertOciError(await getManifest(base, repo, 'gone'), 404, 'MANIFEST_UNKNOWN');
      await assertServed(repo, img.digest, img.body, MT.ociManifest);
      await assertServed(repo, 'stays', img.body, MT.ociManifest);
      const tags = await json<{ tags: string[] }>(await req(`${base}/v2/${repo}/tags/list`));
      assert.deepEqual(tags.tags, ['stays']);
      await assertOciError(await req(`${base}/v2/${repo}/manifests/gone`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN', { what: 'second delete' });
    });

    it('DELETE by digest (delete enabled) → 202, removes the manifest (and tags pointing at it stop resolving)', async () => {
      const repo = repoName('man-del');
      const img = await pushImage(base, repo, 'v1');
      const keep = await pushImage(base, repo, 'v2');
      const del = await req(`${base}/v2/${repo}/manifests/${img.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      await assertOciError(await getManifest(base, repo, img.digest), 404, 'MANIFEST_UNKNOWN', { what: 'by digest' });
      assert.equal((await getManifest(base, repo, img.digest, 'HEAD')).status, 404);
      await assertOciError(await getManifest(base, repo, 'v1'), 404, 'MANIFEST_UNKNOWN', { what: 'tag of deleted manifest' });
      await assertServed(repo, 'v2', keep.body, MT.ociManifest);
      await assertOciError(await req(`${base}/v2/${repo}/manifests/${randomDigest()}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN', { what: 'unknown digest' });
    });
  });

  // ------------------------------------------------------------------ tags
  describe('tags list', () => {
    let repo: string;
    const tags = ['v10', 'v2', 'latest', '1.0', 'Alpha', 'beta', '_x', 'v1.2.3-rc.1'];
    const sorted = [...tags].sort();
    before(async () => {
      repo = repoName('tags');
      const img = await pushImage(base, repo, tags[0]);
      for (const t of tags.slice(1)) await pushManifest(base, repo, t, img.body, MT.ociManifest);
    });

    it('GET tags/list → 200 {name, tags} in lexical order, no Link', async () => {
      const res = await req(`${base}/v2/${repo}/tags/list`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('link'), null);
      const j = await json<{ name: string; tags: string[] }>(res);
      assert.equal(j.name, repo);
      assert.deepEqual(j.tags, sorted);
    });

    it('?n=K pages with Link </v2/N/tags/list?last=X&n=K>; rel="next" only while more remain', async () => {
      for (const n of [1, 3, 5]) {
        const seen: string[] = [];
        let url = `${base}/v2/${repo}/tags/list?n=${n}`;
        for (let page = 0; page < 20; page++) {
          const res = await req(url);
          assert.equal(res.status, 200, url);
          const j = await json<{ tags: string[] }>(res);
          assert.ok(j.tags.length <= n);
          seen.push(...j.tags);
          const link = res.headers.get('link');
          if (seen.length < sorted.length) {
            assertLinkShape(base, link, `/v2/${repo}/tags/list`, seen[seen.length - 1], n);
            url = parseNextLink(base, link)!.toString();
          } else {
            assert.equal(link, null, `no Link after the last page (n=${n})`);
            break;
          }
        }
        assert.deepEqual(seen, sorted, `n=${n}`);
      }
    });

    it('n equal to the count → everything, no Link; n larger → everything, no Link', async () => {
      for (const n of [sorted.length, sorted.length + 5]) {
        const res = await req(`${base}/v2/${repo}/tags/list?n=${n}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('link'), null, `n=${n}`);
        assert.deepEqual((await json<{ tags: string[] }>(res)).tags, sorted);
      }
    });

    it('?last=X returns the tags after X (X need not be a tag)', async () => {
      let res = await req(`${base}/v2/${repo}/tags/list?last=${sorted[2]}`);
      assert.deepEqual((await json<{ tags: string[] }>(res)).tags, sorted.slice(3));
      res = await req(`${base}/v2/${repo}/tags/list?last=c`);
      assert.deepEqual((await json<{ tags: string[] }>(res)).tags, sorted.filter((t) => t > 'c'));
      res = await req(`${base}/v2/${repo}/tags/list?last=${sorted[1]}&n=2`);
      assert.deepEqual((await json<{ tags: string[] }>(res)).tags, sorted.slice(2, 4));
      assertLinkShape(base, res.headers.get('link'), `/v2/${repo}/tags/list`, sorted[3], 2);
    });

    it('bad n → 400 PAGINATION_NUMBER_INVALID', async () => {
      for (const n of ['-1', 'abc']) {
        await assertOciError(await req(`${base}/v2/${repo}/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID', { what: `n=${n}` });
      }
    });

    it('unknown repository → 404 NAME_UNKNOWN', async () => {
      await assertOciError(await req(`${base}/v2/${repoName('tags-none')}/tags/list`), 404, 'NAME_UNKNOWN');
    });
  });

  // ------------------------------------------------------------------ catalog
  describe('catalog', () => {
    const tag = Math.random().toString(36).slice(2, 8);
    // chosen so that plain string order differs from a directory walk: '-' < '.' < '/' < '_'
    const names = [`zzcat${tag}/a`, `zzcat${tag}-b`, `zzcat${tag}.c`, `zzcat${tag}_d`, `zzcat${tag}/a/b`, `zzcat${tag}/a-c`];
    before(async () => {
      for (const n of names) await pushImage(base, n, 'latest');
    });

    async function walkCatalog(n: number): Promise<string[]> {
      const seen: string[] = [];
      let url = `${base}/v2/_catalog?n=${n}`;
      for (let page = 0; page < 500; page++) {
        const res = await req(url);
        assert.equal(res.status, 200, url);
        const j = await json<{ repositories: string[] }>(res);
        assert.ok(j.repositories.length <= n);
        seen.push(...j.repositories);
        const link = res.headers.get('link');
        if (!link) return seen;
        assertLinkShape(base, link, '/v2/_catalog', seen[seen.length - 1], n);
        url = parseNextLink(base, link)!.toString();
      }
      throw new Error('catalog pagination did not end');
    }

    it('lists repositories (nested ones too) in lexical order', async () => {
      const all = await walkCatalog(1000);
      assert.deepEqual(all, [...all].sort(), 'catalog not in lexical order');
      const ours = all.filter((r) => r.startsWith(`zzcat${tag}`));
      assert.deepEqual(ours, [...names].sort());
    });

    it('?n=K pages with Link </v2/_catalog?last=X&n=K>; rel="next"; the pages add up to the full list', async () => {
      const all = await walkCatalog(1000);
      for (const n of [1, 4]) assert.deepEqual(await walkCatalog(n), all, `n=${n}`);
    });

    it('no Link when the page reaches the end; ?last= works', async () => {
      const all = await walkCatalog(1000);
      const lastTwo = all.slice(-2);
      assert.deepEqual(lastTwo, [...names].sort().slice(-2), 'our zz names sort last');
      const res = await req(`${base}/v2/_catalog?last=${encodeURIComponent(all[all.length - 3])}&n=2`);
      assert.equal(res.status, 200);
      assert.deepEqual((await json<{ repositories: string[] }>(res)).repositories, lastTwo);
      assert.equal(res.headers.get('link'), null, 'no more repositories remain');
      const res2 = await req(`${base}/v2/_catalog?last=${encodeURIComponent(all[all.length - 4])}&n=2`);
      assertLinkShape(base, res2.headers.get('link'), '/v2/_catalog', all[all.length - 2], 2);
    });

    it('bad n → 400 PAGINATION_NUMBER_INVALID', async () => {
      for (const n of ['-1', 'abc']) {
        await assertOciError(await req(`${base}/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID', { what: `n=${n}` });
      }
    });
  });

  // ------------------------------------------------------------------ referrers
  describe('referrers', () => {
    let repo: string;
    let subject: Awaited<ReturnType<typeof pushImage>>;
    const expected = new Map<string, { mediaType: string; size: number; artifactType: string; annotations?: Record<string, string> }>();
    let toDelete: string;

    before(async () => {
      repo = repoName('ref');
      subject = await pushImage(base, repo, 'app');
      await pushBlob(base, repo, EMPTY_JSON);
      const subjDesc = descriptor(MT.ociManifest, subject.body);
      const emptyCfg = { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 };
      // 1: artifactType + annotations, pushed by digest (untagged)
      const l1 = randomBytes(64); await pushBlob(base, repo, l1);
      const a1 = { schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.sbom', config: emptyCfg, layers: [descriptor('application/json', l1)], subject: subjDesc, annotations: { 'org.example.kind': 'sbom', 'org.opencontainers.image.created': '2024-05-01T00:00:00Z' } };
      const p1 = await pushManifest(base, repo, digestOf(JSON.stringify(a1)), a1);
      expected.set(p1.digest, { mediaType: MT.ociManifest, size: p1.body.length, artifactType: 'application/vnd.example.sbom', annotations: a1.annotations });
      // 2: no artifactType → config.mediaType; pushed by tag
      const cfg2 = Buffer.from('{"sig":true}');
      await pushBlob(base, repo, cfg2);
      const a2 = { schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor('application/vnd.example.signature.config.v1+json', cfg2), layers: [descriptor('application/json', l1)], subject: subjDesc };
      const p2 = await pushManifest(base, repo, 'sig', a2);
      expected.set(p2.digest, { mediaType: MT.ociManifest, size: p2.body.length, artifactType: 'application/vnd.example.signature.config.v1+json' });
      // 3: another sbom (for filtering), later deleted
      const a3 = { ...a1, annotations: { 'org.example.kind': 'sbom-2' } };
      const p3 = await pushManifest(base, repo, digestOf(JSON.stringify(a3)), a3);
      expected.set(p3.digest, { mediaType: MT.ociManifest, size: p3.body.length, artifactType: 'application/vnd.example.sbom', annotations: a3.annotations });
      toDelete = p3.digest;
      // 4: an index referrer
      const child = await pushImage(base, repo, '');
      const a4 = { schemaVersion: 2, mediaType: MT.ociIndex, artifactType: 'application/vnd.example.bundle', manifests: [descriptor(MT.ociManifest, child.body)], subject: subjDesc };
      const p4 = await pushManifest(base, repo, 'bundle', a4);
      expected.set(p4.digest, { mediaType: MT.ociIndex, size: p4.body.length, artifactType: 'application/vnd.example.bundle' });
      // not referrers: a manifest with another subject, and the same kind of artifact in another repo
      const otherSubj = await pushImage(base, repo, 'other');
      await pushManifest(base, repo, 'x', { ...a1, subject: descriptor(MT.ociManifest, otherSubj.body) });
      const repo2 = repoName('ref-other');
      await pushBlob(base, repo2, EMPTY_JSON); await pushBlob(base, repo2, l1);
      await pushManifest(base, repo2, 'x', a1);
    });

    type Index = { schemaVersion: number; mediaType: string; manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }> };

    async function getReferrers(digest: string, query = ''): Promise<{ res: Response; index: Index }> {
      const res = await req(`${base}/v2/${repo}/referrers/${digest}${query}`);
      assert.equal(res.status, 200, `referrers ${digest}${query}`);
      assert.equal(res.headers.get('content-type'), MT.ociIndex);
      const index = await json<Index>(res);
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, MT.ociIndex);
      assert.ok(Array.isArray(index.manifests), 'manifests array');
      return { res, index };
    }

    function check(index: Index, want: string[]): void {
      const got = [...index.manifests].sort((a, b) => a.digest.localeCompare(b.digest));
      assert.deepEqual(got.map((d) => d.digest), [...want].sort(), 'referrer digests');
      for (const d of got) {
        const e = expected.get(d.digest)!;
        assert.equal(d.mediaType, e.mediaType, `mediaType of ${d.digest}`);
        assert.equal(d.size, e.size, `size of ${d.digest}`);
        assert.equal(d.artifactType, e.artifactType, `artifactType of ${d.digest}`);
        if (e.annotations) assert.deepEqual(d.annotations, e.annotations, `annotations of ${d.digest}`);
        else assert.ok(d.annotations === undefined || Object.keys(d.annotations).length === 0, `unexpected annotations on ${d.digest}`);
      }
    }

    it('lists every manifest whose subject is the digest, as descriptors (artifactType from the manifest or its config)', async () => {
      const { index, res } = await getReferrers(subject.digest);
      assert.equal(res.headers.get('oci-filters-applied'), null);
      check(index, [...expected.keys()]);
    });

    it('?artifactType=X filters and sets OCI-Filters-Applied: artifactType', async () => {
      const { index, res } = await getReferrers(subject.digest, `?artifactType=${encodeURIComponent('application/vnd.example.sbom')}`);
      assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
      check(index, [...expected].filter(([, v]) => v.artifactType === 'application/vnd.example.sbom').map(([k]) => k));
      const r2 = await getReferrers(subject.digest, `?artifactType=${encodeURIComponent('application/vnd.example.signature.config.v1+json')}`);
      check(r2.index, [...expected].filter(([, v]) => v.artifactType === 'application/vnd.example.signature.config.v1+json').map(([k]) => k));
      const r3 = await getReferrers(subject.digest, '?artifactType=application%2Fnothing');
      assert.deepEqual(r3.index.manifests, []);
    });

    it('no referrers → 200 empty index', async () => {
      const { index } = await getReferrers(randomDigest());
      assert.deepEqual(index.manifests, []);
      const child = await getReferrers(expected.keys().next().value as string);
      assert.deepEqual(child.index.manifests, []);
    });

    it('a subject that does not exist still collects referrers', async () => {
      const ghost = randomDigest();
      const a = { schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.ghost', config: { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 }, layers: [{ mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 }], subject: { mediaType: MT.ociManifest, digest: ghost, size: 10 } };
      const p = await pushManifest(base, repo, 'ghost', a);
      assert.equal(p.res.headers.get('oci-subject'), ghost);
      const { index } = await getReferrers(ghost);
      assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType, m.size]), [[p.digest, 'application/vnd.example.ghost', p.body.length]]);
    });

    it('bad digest → 400 DIGEST_INVALID', async () => {
      for (const bad of ['sha256:123', 'latest', `sha256:${'Z'.repeat(64)}`]) {
        await assertOciError(await rawRequest(base, 'GET', `/v2/${repo}/referrers/${bad}`), 400, 'DIGEST_INVALID', { what: bad });
      }
    });

    it('a referrer deleted by digest disappears from the list', async () => {
      const del = await req(`${base}/v2/${repo}/manifests/${toDelete}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      expected.delete(toDelete);
      const { index } = await getReferrers(subject.digest);
      check(index, [...expected.keys()]);
    });
  });

  // ------------------------------------------------------------------ delete disabled
  describe('delete disabled (default server)', () => {
    let N: Target;
    let repo: string;
    let img: Awaited<ReturnType<typeof pushImage>>;
    before(async () => {
      N = await startTarget({ deleteEnabled: false });
      repo = repoName('nodel');
      img = await pushImage(N.url, repo, 'latest');
    });
    after(async () => { await N?.stop(); rmrf(N?.dataDir); });

    it('DELETE blob → 405 UNSUPPORTED, blob still there', async () => {
      const d = digestOf(img.layers[0]);
      await assertOciError(await req(`${N.url}/v2/${repo}/blobs/${d}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
      assert.equal((await req(`${N.url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' })).status, 200);
    });

    it('DELETE manifest by tag or by digest → 405 UNSUPPORTED, manifest still there', async () => {
      await assertOciError(await req(`${N.url}/v2/${repo}/manifests/latest`, { method: 'DELETE' }), 405, 'UNSUPPORTED', { what: 'by tag' });
      await assertOciError(await req(`${N.url}/v2/${repo}/manifests/${img.digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED', { what: 'by digest' });
      assert.equal((await getManifest(N.url, repo, 'latest', 'HEAD')).status, 200);
      assert.equal((await getManifest(N.url, repo, img.digest, 'HEAD')).status, 200);
    });

    it('cancelling an upload (DELETE upload) still works → 204', async () => {
      const u = await startUpload(N.url, repo);
      assert.equal((await req(u.location, { method: 'DELETE' })).status, 204);
    });
  });

  // ------------------------------------------------------------------ restart
  describe('uploads survive a restart', () => {
    for (const how of ['stop (SIGTERM)', 'kill -9'] as const) {
      it(`after ${how}: GET status shows the right Range, PATCH on, PUT → correct blob`, async () => {
        const dataDir = tempDir('lanyard-restart');
        const repo = repoName('restart');
        const data = randomBytes(3 * 1024 * 1024 + 77);
        let srv = await startTarget({ dataDir });
        try {
          let { location } = await startUpload(srv.url, repo);
          const cut = [0, 1 << 20, 2 << 20];
          for (let i = 0; i + 1 < cut.length; i++) {
            const res = await patchChunk(location, data.subarray(cut[i], cut[i + 1]), cut[i]);
            assert.equal(res.status, 202);
            location = abs(location, res.headers.get('location')!);
          }
          if (how === 'kill -9') await srv.kill9(); else await srv.stop();
          srv = await startTarget({ dataDir });
          location = relocate(location, srv.url);
          const st = await req(location);
          assert.equal(st.status, 204, 'upload status after restart');
          assert.equal(st.headers.get('range'), expectedRange(cut[2]));
          const res = await patchChunk(location, data.subarray(cut[2], 3 << 20), cut[2]);
          assert.equal(res.status, 202);
          assert.equal(res.headers.get('range'), expectedRange(3 << 20));
          location = abs(location, res.headers.get('location')!);
          const d = digestOf(data);
          const put = await putUpload(location, d, data.subarray(3 << 20));
          assert.equal(put.status, 201);
          assert.equal(put.headers.get('docker-content-digest'), d);
          const get = await req(`${srv.url}/v2/${repo}/blobs/${d}`);
          assert.equal(get.status, 200);
          assert.equal(digestOf(await bodyOf(get)), d);
        } finally {
          await srv.stop();
          rmrf(dataDir);
        }
      });
    }
  });

  // ------------------------------------------------------------------ robustness
  // Each test gets its own server, so that a crash here neither hides other results nor
  // cascades into the next test.
  describe('robustness: clients that stop early or send too much', () => {
    let S: Target;
    let base: string;
    beforeEach(async () => {
      S = await startTarget({ deleteEnabled: true });
      base = S.url;
    });
    afterEach(async () => {
      await S?.stop();
      rmrf(S?.dataDir);
    });

    async function assertAlive(what: string): Promise<void> {
      let status = 0;
      try { status = (await req(`${base}/v2/`, { signal: AbortSignal.timeout(5000) })).status; } catch (e) {
        assert.fail(`server is gone after ${what}: ${(e as Error).message}\n--- server output ---\n${S.output().slice(-2000)}`);
      }
      assert.equal(status, 200, `GET /v2/ after ${what}`);
    }

    it('oversized manifest streamed without Content-Length → 413 SIZE_INVALID, server survives', async () => {
      const repo = repoName('rob-big');
      const cfg = Buffer.from('{}');
      const layer = randomBytes(10);
      await pushBlob(base, repo, cfg);
      await pushBlob(base, repo, layer);
      const m = { schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(MT.ociConfig, cfg), layers: [descriptor(MT.ociLayer, layer)], annotations: { pad: '' } };
      m.annotations.pad = 'p'.repeat(4 * 1024 * 1024 + 1 - Buffer.byteLength(JSON.stringify(m)));
      const over = Buffer.from(JSON.stringify(m));
      async function* stream() { for (let o = 0; o < over.length; o += 256 * 1024) yield over.subarray(o, o + 256 * 1024); }
      const r = await rawRequest(base, 'PUT', `/v2/${repo}/manifests/over`, { body: stream(), headers: { 'Content-Type': MT.ociManifest } });
      await assertOciError(r, 413, 'SIZE_INVALID', { what: 'chunked transfer encoding' });
      await new Promise((ok) => setTimeout(ok, 300));
      await assertAlive('a streamed oversized manifest');
      assert.equal((await getManifest(base, repo, 'over', 'HEAD')).status, 404);
    });

    it('PATCH aborted mid-body: server survives; the upload resumes from what it reports', async () => {
      const repo = repoName('rob-abort');
      const data = randomBytes(1_100_000);
      let { location } = await startUpload(base, repo);
      const first = await patchChunk(location, data.subarray(0, 100_000), 0);
      assert.equal(first.status, 202);
      location = abs(location, first.headers.get('location')!);
      // declare 1,000,000 bytes, send 300,000, then drop the connection
      await new Promise<void>((resolve) => {
        const u = new URL(location);
        const r = http.request({ host: u.hostname, port: u.port, method: 'PATCH', path: u.pathname + u.search, agent: false, headers: {
          'Content-Type': 'application/octet-stream', 'Content-Length': '1000000', 'Content-Range': '100000-1099999',
        } });
        r.on('error', () => resolve());
        r.on('response', (res) => { res.resume(); resolve(); });
        r.write(data.subarray(100_000, 400_000), () => setTimeout(() => { r.destroy(); resolve(); }, 200));
      });
      await new Promise((ok) => setTimeout(ok, 300));
      await assertAlive('an aborted PATCH');
      const st = await req(location);
      assert.equal(st.status, 204);
      const size = rangeSize(st);
      assert.ok(size >= 100_000 && size <= 400_000, `upload reports ${size} bytes after an aborted PATCH (acknowledged 100000, sent 400000)`);
      let off = size;
      let loc = abs(location, st.headers.get('location') ?? location);
      const res = await patchChunk(loc, data.subarray(off), off);
      assert.equal(res.status, 202);
      loc = abs(loc, res.headers.get('location')!);
      off = data.length;
      const put = await putUpload(loc, digestOf(data));
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), digestOf(data));
    });

    it('blob GET aborted mid-stream: server survives', async () => {
      const repo = repoName('rob-get');
      const data = randomBytes(8 * 1024 * 1024);
      const d = await pushBlob(base, repo, data);
      const ac = new AbortController();
      const res = await fetch(`${base}/v2/${repo}/blobs/${d}`, { signal: ac.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await reader.cancel().catch(() => undefined);
      await new Promise((ok) => setTimeout(ok, 300));
      await assertAlive('an aborted blob download');
    });
  });

  // ------------------------------------------------------------------ header everywhere
  it('every response in this file carried Docker-Distribution-API-Version: registry/2.0', () => {
    assert.deepEqual(apiVersionViolations.slice(0, 30), [], `${apiVersionViolations.length} responses without the header`);
  });
});

