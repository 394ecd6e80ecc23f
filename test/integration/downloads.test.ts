// Blob downloads, both send paths: zero-copy (sendfile through the native module, the default
// on Linux) and buffered (LANYARD_SENDFILE=0, which is also what TLS and small blobs use).
// Each server gets the same blobs, and every answer is checked byte for byte: full bodies,
// ranges at the edges, keep-alive reuse, concurrent downloads, clients that go away halfway,
// and a blob file that is shorter on disk than the registry thinks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startLanyard, type LanyardServer } from '../helpers/lanyard';
import { until } from '../helpers/proc';
import { digestOf, pushBlob, repoName } from '../helpers/oci';
import { NATIVE_MODULE_PATH, ZERO_COPY_MIN_BYTES } from '../../registry/storage/zerocopy';

const MiB = 1024 * 1024;

interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer; socket: unknown }

function get(url: string, headers: http.OutgoingHttpHeaders = {}, agent: http.Agent | false = false): Promise<Got> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), socket: res.socket }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    r.setTimeout(60_000, () => r.destroy(new Error(`GET ${url}: timed out`)));
    r.on('error', reject);
    r.end();
  });
}

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Sizes around the zero-copy threshold, plus an odd-sized bigger one. */
const SIZES = [ZERO_COPY_MIN_BYTES - 1, ZERO_COPY_MIN_BYTES, 5 * MiB + 7];

for (const mode of ['zero-copy', 'buffered'] as const) {
  describe(`blob downloads, ${mode}`, () => {
    let srv: LanyardServer;
    const repo = repoName('dl');
    const blobs: { data: Buffer; digest: string }[] = [];
    let big: { data: Buffer; digest: string };

    before(async () => {
      srv = await startLanyard({ env: mode === 'buffered' ? { LANYARD_SENDFILE: '0' } : {} });
      for (const n of SIZES) {
        const data = crypto.randomBytes(n);
        blobs.push({ data, digest: await pushBlob(srv.url, repo, data) });
      }
      const data = crypto.randomBytes(48 * MiB);
      big = { data, digest: await pushBlob(srv.url, repo, data, { mode: 'chunked', chunkSize: 8 * MiB }) };
    });
    after(async () => {
      await srv?.stop();
    });

    it('says at start-up which path it uses', () => {
      if (mode === 'buffered') {
        assert.match(srv.output(), /Downloads: buffered \(turned off by LANYARD_SENDFILE=0\)/);
      } else if (process.platform === 'linux') {
        // `npm run build` compiles the module on Linux; a missing compiler must fail here, not hide
        assert.ok(fs.existsSync(NATIVE_MODULE_PATH), `${NATIVE_MODULE_PATH} was not built`);
        assert.match(srv.output(), /Downloads: zero-copy \(sendfile\)/);
      }
    });

    it('sends every blob whole, with the right headers', async () => {
      for (const b of [...blobs, big]) {
        const r = await get(`${srv.url}/v2/${repo}/blobs/${b.digest}`);
        assert.equal(r.status, 200);
        assert.equal(Number(r.headers['content-length']), b.data.length);
        assert.equal(r.headers['docker-content-digest'], b.digest);
        assert.equal(r.body.length, b.data.length);
        assert.equal(digestOf(r.body), b.digest, `body of ${b.data.length} bytes`);
      }
    });

    it('sends ranges exactly, including the first and last byte', async () => {
      const b = blobs[2];
      const n = b.data.length;
      const cases: [string, number, number][] = [
        ['bytes=0-0', 0, 0],
        ['bytes=1-', 1, n - 1],
        [`bytes=${n - 1}-`, n - 1, n - 1],
        ['bytes=-1048577', n - 1048577, n - 1],
        ['bytes=12345-3000000', 12345, 3000000],
        [`bytes=4096-${n + 100}`, 4096, n - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await get(`${srv.url}/v2/${repo}/blobs/${b.digest}`, { range });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${n}`, range);
        assert.equal(Number(r.headers['content-length']), end - start + 1, range);
        assert.ok(r.body.equals(b.data.subarray(start, end + 1)), `body of ${range}`);
      }
    });

    it('keeps a keep-alive connection in order: big body, then more requests on the same socket', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const a = await get(`${srv.url}/v2/${repo}/blobs/${big.digest}`, {}, agent);
        const b = await get(`${srv.url}/v2/${repo}/blobs/${blobs[1].digest}`, { range: 'bytes=10-2000000' }, agent);
        const c = await get(`${srv.url}/v2/`, {}, agent);
        assert.equal(a.socket, b.socket, 'the second request must reuse the connection');
        assert.equal(b.socket, c.socket, 'the third request must reuse the connection');
        assert.equal(digestOf(a.body), big.digest);
        assert.ok(b.body.equals(blobs[1].data.subarray(10, 2000001)));
        assert.equal(c.status, 200);
        assert.equal(c.body.toString(), '{}');
      } finally {
        agent.destroy();
      }
    });

    it('serves concurrent downloads of the same and different blobs', async () => {
      const jobs = Array.from({ length: 8 }, (_, i) => (i % 2 ? big : blobs[2]));
      const got = await Promise.all(jobs.map((b) => get(`${srv.url}/v2/${repo}/blobs/${b.digest}`)));
      got.forEach((r, i) => assert.equal(digestOf(r.body), jobs[i].digest, `download ${i}`));
    });

    it('lets go of clients that disconnect halfway, without leaking descriptors', async () => {
      const before = openFds(srv.pid);
      for (let i = 0; i < 12; i++) {
        await new Promise<void>((resolve, reject) => {
          const r = http.get(`${srv.url}/v2/${repo}/blobs/${big.digest}`, { agent: false }, (res) => {
            let seen = 0;
            res.on('data', (b: Buffer) => {
              seen += b.length;
              // a slow client that stops reading (i odd) or one that reads a little and leaves
              if (i % 2 === 1 && seen > 0) res.pause();
              if (seen > 0) setTimeout(() => { r.destroy(); resolve(); }, i % 2 ? 100 : 0);
            });
          });
          r.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
        });
      }
      // the server keeps working and closes what it opened for those transfers
      const r = await get(`${srv.url}/v2/${repo}/blobs/${big.digest}`);
      assert.equal(digestOf(r.body), big.digest);
      await until(`open descriptors back to ${before} (now ${openFds(srv.pid)})`, () => openFds(srv.pid) <= before + 2);
    });

    it('cuts the connection, rather than hang, when the blob file is shorter than its size', async () => {
      const data = crypto.randomBytes(3 * MiB);
      const digest = await pushBlob(srv.url, repo, data);
      const first = await get(`${srv.url}/v2/${repo}/blobs/${digest}`); // the size is now cached
      assert.equal(first.body.length, data.length);
      const hex = digest.slice('sha256:'.length);
      const file = path.join(srv.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      fs.truncateSync(file, 2 * MiB); // damage on disk, behind the registry's back
      await assert.rejects(get(`${srv.url}/v2/${repo}/blobs/${digest}`), /aborted|socket hang up|ECONNRESET/);
      const ok = await get(`${srv.url}/v2/${repo}/blobs/${blobs[2].digest}`);
      assert.equal(digestOf(ok.body), blobs[2].digest, 'other downloads still work');
    });
  });
}
