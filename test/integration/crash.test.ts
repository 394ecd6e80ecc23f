// Crash safety: kill -9 Lanyard in the middle of several concurrent chunked uploads (and
// while small blobs are being committed), then check that no partial blob ever became
// visible, that acknowledged data survived, and that the interrupted uploads can be resumed
// from the offset the restarted server reports (or restarted from scratch). Also: SIGTERM
// with a stalled upload in flight stops the server promptly and the restart works.
// LANYARD_TEST_TARGET=registry2 runs it against registry:2 (whose upload state does not
// survive a restart without a fixed http secret, so the resume parts fail there).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Target, abs, assertBlobStoreIntact, bodyOf, digestOf, expectedRange, getManifest, hexOf,
  listBlobFiles, patchChunk, pushBlob, pushImage, putUpload, randomBytes, rangeSize, rawRequest,
  relocate, repoName, req, snapshotTree, startTarget, startUpload,
} from '../helpers/oci';
import { sleep, tempDir } from '../helpers/proc';

const MiB = 1 << 20;

interface Uploader {
  i: number;
  repo: string;
  data: Buffer;
  digest: string;
  chunk: number;
  location: string;
  acked: number; // bytes the server acknowledged with 202
  inflight: number; // bytes of the PATCH that was in flight when the server died
  error?: string;
}

async function verifyBlob(base: string, repo: string, digest: string, size: number): Promise<void> {
  const head = await req(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200, `HEAD ${repo}@${digest}`);
  assert.equal(head.headers.get('content-length'), String(size), `size of ${repo}@${digest}`);
  const get = await req(`${base}/v2/${repo}/blobs/${digest}`);
  assert.equal(get.status, 200);
  assert.equal(digestOf(await bodyOf(get)), digest, `content of ${repo}@${digest}`);
}

/** PATCH data[from..] in chunks with Content-Range, then PUT ?digest. Returns the PUT response. */
async function finishUpload(location: string, data: Buffer, from: number, chunk: number): Promise<Response> {
  let loc = location;
  for (let off = from; off < data.length; off += chunk) {
    const part = data.subarray(off, Math.min(off + chunk, data.length));
    const res = await patchChunk(loc, part, off);
    assert.equal(res.status, 202, `PATCH ${off}-${off + part.length - 1}: ${await res.text()}`);
    assert.equal(res.headers.get('range'), expectedRange(off + part.length));
    loc = abs(loc, res.headers.get('location') ?? loc);
  }
  return putUpload(loc, digestOf(data));
}

describe('crash safety', () => {
  const dirs: string[] = [];
  const servers: Target[] = [];
  after(async () => {
    for (const s of servers) await s.kill9().catch(() => undefined);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('kill -9 during 6 concurrent chunked uploads: no partial blob visible; uploads resume or restart', { timeout: 170_000 }, async (t) => {
    const dataDir = tempDir('lanyard-crash');
    dirs.push(dataDir);
    let srv = await startTarget({ dataDir });
    servers.push(srv);

    // Committed before the crash: must survive it.
    const preRepo = repoName('crash-pre');
    const preImg = await pushImage(srv.url, preRepo, 'v1', { layers: 2, layerSize: 2 * MiB });

    // Six uploads, different repos; #0 and #1 upload the same content.
    const sizes = [32 * MiB + 11, 0, 40 * MiB + 7, 24 * MiB + 3, 36 * MiB + 5, 28 * MiB + 1];
    const chunks = [1 * MiB, 2 * MiB, 1.5 * MiB, 4 * MiB, 1 * MiB, 3 * MiB];
    const shared = randomBytes(sizes[0]);
    const ups: Uploader[] = sizes.map((size, i) => {
      const data = i === 0 || i === 1 ? shared : randomBytes(size);
      return { i, repo: repoName(`crash-u${i}`), data, digest: digestOf(data), chunk: chunks[i], location: '', acked: 0, inflight: 0 };
    });
    assert.equal(ups[0].digest, ups[1].digest);
    const total = ups.reduce((s, u) => s + u.data.length, 0);

    let killed = false;
    let releaseHold!: () => void;
    const hold = new Promise<void>((r) => { releaseHold = r; });

    async function run(u: Uploader): Promise<void> {
      try {
        const up = await startUpload(srv.url, u.repo);
        u.location = up.location;
        while (u.acked < u.data.length && !killed) {
          const end = Math.min(u.acked + u.chunk, u.data.length);
          // never let an upload finish before the crash
          if (end > u.data.length * 0.8) await hold;
          if (killed) break;
          u.inflight = end - u.acked;
          const res = await patchChunk(u.location, u.data.subarray(u.acked, end), u.acked);
          if (res.status !== 202) throw new Error(`PATCH ${u.acked}-${end - 1} -> ${res.status} ${await res.text()}`);
          assert.equal(res.headers.get('range'), expectedRange(end));
          u.acked = end;
          u.inflight = 0;
          u.location = abs(u.location, res.headers.get('location') ?? u.location);
        }
      } catch (e) {
        if (!killed) u.error = (e as Error).message;
      }
    }

    // Meanwhile, small blobs are committed one after the other (some PUT will be cut short).
    const commitRepo = repoName('crash-commit');
    const committed: Array<{ digest: string; size: number }> = [];
    let commitInflight: { digest: string; size: number } | null = null;
    let commitError: string | undefined;
    async function committer(): Promise<void> {
      while (!killed) {
        const data = randomBytes(256 * 1024 + Math.floor(Math.random() * 65536));
        commitInflight = { digest: digestOf(data), size: data.length };
        try {
          await pushBlob(srv.url, commitRepo, data, { mode: 'post-put' });
          if (killed) return; // acknowledged after the kill? cannot happen, but do not count it
          committed.push(commitInflight);
          commitInflight = null;
        } catch (e) {
          if (!killed) commitError = (e as Error).message;
          return;
        }
      }
    }

    const t0 = Date.now();
    const running = [...ups.map(run), committer()];
    // Kill when about a third of all bytes are acknowledged and every upload has some data.
    for (;;) {
      await sleep(5);
      const acked = ups.reduce((s, u) => s + u.acked, 0);
      if ((acked >= total * 0.35 && ups.every((u) => u.acked >= u.chunk)) || Date.now() - t0 > 60_000) break;
      if (ups.some((u) => u.error) || commitError) break;
    }
    killed = true;
    await srv.kill9();
    releaseHold();
    await Promise.all(running);
    assert.deepEqual(ups.filter((u) => u.error).map((u) => `#${u.i}: ${u.error}`), [], 'uploads failed before the crash');
    assert.equal(commitError, undefined, 'committing small blobs failed before the crash');
    t.diagnostic(`killed after ${Date.now() - t0} ms; acked ${ups.map((u) => `${(u.acked / MiB).toFixed(1)}${u.inflight ? '+' + (u.inflight / MiB).toFixed(1) : ''}/${(u.data.length / MiB).toFixed(0)}`).join(', ')} MiB; ${committed.length} small blobs committed`);
    for (const u of ups) assert.ok(u.acked >= u.chunk && u.acked < u.data.length, `upload #${u.i} should be partial at the crash (${u.acked}/${u.data.length})`);

    // 1. On disk, with the server dead: every committed blob file hashes to its name, and
    //    none of the unfinished uploads has a blob file.
    const hexes = await assertBlobStoreIntact(dataDir);
    for (const u of ups) assert.ok(!hexes.has(hexOf(u.digest)), `unfinished upload #${u.i} has a blob file`);
    const stray = listBlobFiles(dataDir).stray;
    if (stray.length) t.diagnostic(`other files under blobs/: ${stray.slice(0, 10).join(', ')}`);

    // 2. Restart on the same data dir.
    srv = await startTarget({ dataDir });
    servers.push(srv);
    const base = srv.url;
    for (const u of ups) {
      const head = await req(`${base}/v2/${u.repo}/blobs/${u.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404, `unfinished upload #${u.i} visible after restart`);
    }
    // acknowledged data survived
    const m = await getManifest(base, preRepo, 'v1');
    assert.equal(m.status, 200);
    assert.deepEqual(await bodyOf(m), preImg.body);
    for (const l of preImg.layers) await verifyBlob(base, preRepo, digestOf(l), l.length);
    for (const c of committed) await verifyBlob(base, commitRepo, c.digest, c.size);
    const pending = commitInflight as { digest: string; size: number } | null;
    if (pending) {
      const head = await req(`${base}/v2/${commitRepo}/blobs/${pending.digest}`, { method: 'HEAD' });
      assert.ok(head.status === 404 || head.status === 200, `in-flight commit: HEAD ${head.status}`);
      if (head.status === 200) await verifyBlob(base, commitRepo, pending.digest, pending.size);
    }

    // 3. Resume #0, #2, #4 from the offset the server reports; restart #1, #3, #5 from scratch.
    const resumed = [0, 2, 4];
    await Promise.all(ups.map(async (u) => {
      const loc = relocate(u.location, base);
      const st = await req(loc);
      assert.equal(st.status, 204, `upload #${u.i} status after restart: ${st.status} ${await st.clone().text()}`);
      const size = rangeSize(st);
      assert.ok(size >= u.acked, `upload #${u.i}: server reports ${size} bytes but had acknowledged ${u.acked}`);
      assert.ok(size <= u.acked + u.inflight, `upload #${u.i}: server reports ${size} bytes, more than was ever sent (${u.acked + u.inflight})`);
      if (resumed.includes(u.i)) {
        const put = await finishUpload(abs(loc, st.headers.get('location') ?? loc), u.data, size, u.chunk);
        assert.equal(put.status, 201, `resumed upload #${u.i}: PUT ${put.status} ${await put.clone().text()}`);
        assert.equal(put.headers.get('docker-content-digest'), u.digest);
      } else {
        const del = await req(loc, { method: 'DELETE' });
        assert.equal(del.status, 204, `cancel interrupted upload #${u.i}`);
        const fresh = await startUpload(base, u.repo);
        const put = await finishUpload(fresh.location, u.data, 0, u.chunk);
        assert.equal(put.status, 201, `restarted upload #${u.i}: PUT ${put.status}`);
        assert.equal(put.headers.get('docker-content-digest'), u.digest);
      }
    }));

    // 4. Everything is there with the right content, including the shared blob in both repos.
    for (const u of ups) await verifyBlob(base, u.repo, u.digest, u.data.length);
    await srv.stop();
    const finalHexes = await assertBlobStoreIntact(dataDir);
    for (const u of ups) assert.ok(finalHexes.has(hexOf(u.digest)), `blob file of #${u.i} missing`);
  });

  for (const delayMs of [10, 40]) {
    it(`kill -9 ${delayMs} ms after 6 big uploads sent their final PUT: each blob is either fully visible or still resumable`, { timeout: 120_000 }, async (t) => {
      const dataDir = tempDir('lanyard-crash-put');
      dirs.push(dataDir);
      let srv = await startTarget({ dataDir });
      servers.push(srv);
      const sizes = [30 * MiB + 1, 0, 24 * MiB + 2, 36 * MiB + 3, 28 * MiB + 4, 20 * MiB + 5];
      const shared = randomBytes(sizes[0]);
      const ups = sizes.map((size, i) => {
        const data = i <= 1 ? shared : randomBytes(size);
        return { i, repo: repoName(`crashput-u${i}`), data, digest: digestOf(data), location: '' };
      });
      // upload everything but do not commit yet
      await Promise.all(ups.map(async (u) => {
        const { location } = await startUpload(srv.url, u.repo);
        let loc = location;
        for (let off = 0; off < u.data.length; off += 4 * MiB) {
          const part = u.data.subarray(off, Math.min(off + 4 * MiB, u.data.length));
          const res = await patchChunk(loc, part, off);
          assert.equal(res.status, 202);
          loc = abs(loc, res.headers.get('location') ?? loc);
        }
        u.location = loc;
      }));
      // all commit at once; the server dies while it verifies and moves them
      const answers: Array<number | string> = ups.map(() => 'no answer');
      const puts = ups.map((u, k) => putUpload(u.location, u.digest).then((r) => { answers[k] = r.status; }, () => undefined));
      await sleep(delayMs);
      await srv.kill9();
      await Promise.all(puts);
      t.diagnostic(`answers to the PUTs before the kill: ${answers.join(', ')}`);

      const hexes = await assertBlobStoreIntact(dataDir);
      srv = await startTarget({ dataDir });
      servers.push(srv);
      const base = srv.url;
      const outcome: string[] = [];
      for (const [k, u] of ups.entries()) {
        const head = await req(`${base}/v2/${u.repo}/blobs/${u.digest}`, { method: 'HEAD' });
        if (answers[k] === 201) assert.equal(head.status, 200, `upload #${u.i} was acknowledged with 201 before the crash but is not visible`);
        if (head.status === 200) {
          assert.ok(hexes.has(hexOf(u.digest)), `#${u.i} visible but its blob file was not on disk at the crash`);
          await verifyBlob(base, u.repo, u.digest, u.data.length);
          outcome.push(`#${u.i} committed`);
          continue;
        }
        assert.equal(head.status, 404, `HEAD #${u.i}`);
        const loc = relocate(u.location, base);
        const st = await req(loc);
        if (st.status !== 204) {
          const repoTree = snapshotTree(path.join(dataDir, 'docker', 'registry', 'v2', 'repositories', u.repo));
          assert.fail(`upload #${u.i} is neither committed (HEAD 404) nor resumable (upload status ${st.status}): its data is lost for this repository. `
            + `Blob file on disk: ${hexes.has(hexOf(u.digest))}; files under repositories/${u.repo}: ${JSON.stringify(repoTree)}`);
        }
        assert.equal(rangeSize(st), u.data.length, `upload #${u.i} size after the crash`);
        const put = await putUpload(abs(loc, st.headers.get('location') ?? loc), u.digest);
        assert.equal(put.status, 201, `committing #${u.i} again: ${put.status} ${await put.clone().text()}`);
        await verifyBlob(base, u.repo, u.digest, u.data.length);
        outcome.push(`#${u.i} resumed`);
      }
      t.diagnostic(outcome.join(', '));
      await srv.stop();
      const finalHexes = await assertBlobStoreIntact(dataDir);
      for (const u of ups) assert.ok(finalHexes.has(hexOf(u.digest)));
    });
  }

  it('SIGTERM with a stalled upload in flight: exits within 10 s; restart on the same dir works', { timeout: 90_000 }, async (t) => {
    const dataDir = tempDir('lanyard-sigterm');
    dirs.push(dataDir);
    let srv = await startTarget({ dataDir });
    servers.push(srv);
    const repo = repoName('term');
    const img = await pushImage(srv.url, repo, 'v1');

    // upload A: two acknowledged chunks
    const a = randomBytes(5 * MiB + 3);
    let locA = (await startUpload(srv.url, repo)).location;
    for (const off of [0, 1 * MiB]) {
      const res = await patchChunk(locA, a.subarray(off, off + MiB), off);
      assert.equal(res.status, 202);
      locA = abs(locA, res.headers.get('location') ?? locA);
    }

    // upload B: a streamed PATCH that sends 512 KiB and then stalls
    const b = randomBytes(3 * MiB);
    const locB = (await startUpload(srv.url, repo)).location;
    let unstall!: () => void;
    const stalled = new Promise<void>((r) => { unstall = r; });
    let sent = 0;
    async function* slowBody() {
      for (let off = 0; off < 512 * 1024; off += 64 * 1024) { sent += 64 * 1024; yield b.subarray(off, off + 64 * 1024); }
      await stalled;
    }
    const u = new URL(locB);
    const inflight = rawRequest(srv.url, 'PATCH', u.pathname + u.search, { body: slowBody(), headers: { 'Content-Type': 'application/octet-stream' }, timeoutMs: 30_000 })
      .then((r) => `answered ${r.status}`, (e: Error) => `failed: ${e.message}`);
    await sleep(500);

    const t0 = Date.now();
    process.kill(srv.pid, 'SIGTERM');
    const code = await Promise.race([srv.exited, sleep(10_000).then(() => 'timeout' as const)]);
    const took = Date.now() - t0;
    unstall();
    t.diagnostic(`SIGTERM → exit ${String(code)} after ${took} ms; stalled PATCH ${await inflight}`);
    if (code === 'timeout') await srv.kill9();
    assert.notEqual(code, 'timeout', 'server did not exit within 10 s of SIGTERM (stalled upload in flight)');

    srv = await startTarget({ dataDir });
    servers.push(srv);
    const base = srv.url;
    const m = await getManifest(base, repo, 'v1');
    assert.equal(m.status, 200);
    assert.deepEqual(await bodyOf(m), img.body);

    // A resumes at exactly 2 MiB
    locA = relocate(locA, base);
    const stA = await req(locA);
    assert.equal(stA.status, 204);
    assert.equal(stA.headers.get('range'), expectedRange(2 * MiB));
    const putA = await finishUpload(locA, a, 2 * MiB, MiB);
    assert.equal(putA.status, 201);
    await verifyBlob(base, repo, digestOf(a), a.length);

    // B resumes wherever the server says (0..512 KiB were sent)
    const lb = relocate(locB, base);
    const stB = await req(lb);
    assert.equal(stB.status, 204);
    const sizeB = rangeSize(stB);
    assert.ok(sizeB <= sent, `upload B reports ${sizeB} bytes, only ${sent} were sent`);
    const putB = await finishUpload(lb, b, sizeB, MiB);
    assert.equal(putB.status, 201);
    await verifyBlob(base, repo, digestOf(b), b.length);

    // and the restarted server takes new work
    const c = randomBytes(100_000);
    await pushBlob(base, repoName('term-new'), c, { mode: 'chunked', chunkSize: 30_000 });
    await srv.stop();
    await assertBlobStoreIntact(dataDir);
  });
});
