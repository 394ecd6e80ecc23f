// Real Docker client against Lanyard: push a 52 MiB, 3-layer image, pull it back after removing
// it locally, add a second tag, pull by digest, and check tags list, catalog and name rules
// over plain HTTP. Docker treats 127.0.0.0/8 as insecure, so no daemon config is needed.
//
// LANYARD_IT_TARGET=ref runs the same file against Debian's docker-registry (registry:2) instead,
// to tell a test bug from a server bug.
import { describe, it, before, after, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/proc';
import { startLanyard } from '../helpers/lanyard';
import { startRefRegistry } from '../helpers/refregistry';
import { startDockerd, Dockerd, imageId, removeImage, pushedDigest } from '../helpers/dockerd';
import { buildImage, MiB } from '../helpers/images';

const TARGET = process.env.LANYARD_IT_TARGET === 'ref' ? 'ref' : 'lanyard';

const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');
const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';

interface Server {
  url: string;
  host: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

const REPO = 'some/repo';
const LAYERS = [28 * MiB, 16 * MiB, 8 * MiB]; // 52 MiB in 3 layers

describe(`docker client against ${TARGET}`, { timeout: 240_000 }, () => {
  let work = '';
  let dk: Dockerd | undefined;
  let reg: Server | undefined;
  let failed = false;

  // state shared by the steps (they run in order)
  let builtId = '';
  let digest = '';
  let layerDigests: string[] = [];

  const dumpLogs = () => {
    failed = true;
    if (reg) console.error(`--- ${TARGET} output (last 80 lines) ---\n${reg.output().split('\n').slice(-80).join('\n')}`);
    if (dk) console.error(`--- dockerd log (last 60 lines) ---\n${dk.logTail(60)}`);
  };
  const step = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => async (...a: A) => {
    try { await fn(...a); } catch (e) { dumpLogs(); throw e; }
  };

  const ref = (suffix: string) => `${reg!.host}/${REPO}${suffix}`;

  before(step(async () => {
    work = tempDir('lanyard-it-docker');
    const dataDir = path.join(work, 'data');
    fs.mkdirSync(dataDir);
    dk = await startDockerd();
    reg = TARGET === 'ref' ? await startRefRegistry({ dataDir }) : await startLanyard({ dataDir });
  }));

  after(async () => {
    if (reg) {
      await reg.stop();
      fs.writeFileSync(path.join(work, `${TARGET}.log`), reg.output());
    }
    if (dk) {
      if (failed) fs.copyFileSync(dk.logFile, path.join(work, 'dockerd.log'));
      await dk.stop();
    }
    if (work) {
      if (failed) console.error(`logs kept in ${work}`);
      else fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('docker push of a 52 MiB, 3-layer image; the stored manifest matches', { timeout: 150_000 }, step(async () => {
    const img = await buildImage(dk!, LAYERS, { tags: [ref(':v1')] });
    builtId = img.id;
    const push = await dk!.docker(['push', ref(':v1')]);
    digest = pushedDigest(push.stdout);

    const head = await fetch(`${reg!.url}/v2/${REPO}/manifests/v1`, { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), digest);
    assert.equal(head.headers.get('content-type'), SCHEMA2);

    const get = await fetch(`${reg!.url}/v2/${REPO}/manifests/${digest}`, { headers: { Accept: MANIFEST_ACCEPT } });
    assert.equal(get.status, 200);
    const body = Buffer.from(await get.arrayBuffer());
    assert.equal(`sha256:${crypto.createHash('sha256').update(body).digest('hex')}`, digest, 'manifest body hashes to its digest');
    assert.equal(Number(head.headers.get('content-length')), body.length, 'HEAD Content-Length = manifest size');
    const manifest = JSON.parse(body.toString()) as { mediaType: string; config: { digest: string }; layers: { digest: string; size: number }[] };
    assert.equal(manifest.mediaType, SCHEMA2);
    assert.equal(manifest.config.digest, builtId, 'config digest = image ID');
    assert.equal(manifest.layers.length, 3);
    layerDigests = manifest.layers.map((l) => l.digest);
    for (const [i, l] of manifest.layers.entries()) {
      // one random file per layer, tar overhead only: the layer can't be smaller than its data
      assert.ok(l.size > LAYERS[i], `layer ${i} size ${l.size} > ${LAYERS[i]}`);
      const h = await fetch(`${reg!.url}/v2/${REPO}/blobs/${l.digest}`, { method: 'HEAD' });
      assert.equal(h.status, 200, `HEAD blob ${l.digest}`);
      assert.equal(Number(h.headers.get('content-length')), l.size, `blob ${l.digest} Content-Length`);
      assert.equal(h.headers.get('docker-content-digest'), l.digest);
    }
  }));

  it('docker rmi (all tags), then docker pull gives the same image ID', { timeout: 120_000 }, step(async () => {
    assert.ok(builtId && digest, 'the push step succeeded');
    await removeImage(dk!, builtId);
    const pull = await dk!.docker(['pull', ref(':v1')]);
    // every layer really came over the wire
    assert.equal((pull.stdout.match(/Pull complete/g) ?? []).length, 3, pull.stdout);
    assert.doesNotMatch(pull.stdout, /Already exists/);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
    assert.equal(await imageId(dk!, ref(':v1')), builtId);
  }));

  it('a second tag :v2 pushes no layer again; tags list has v1 and v2', { timeout: 60_000 }, step(async () => {
    assert.ok(builtId && digest, 'the push step succeeded');
    await dk!.docker(['tag', ref(':v1'), ref(':v2')]);
    const push = await dk!.docker(['push', ref(':v2')]);
    assert.equal(pushedDigest(push.stdout), digest, 'same manifest, same digest');
    assert.equal((push.stdout.match(/Layer already exists/g) ?? []).length, 3, push.stdout);

    const r = await fetch(`${reg!.url}/v2/${REPO}/tags/list`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await r.json(), { name: REPO, tags: ['v1', 'v2'] });

    const h2 = await fetch(`${reg!.url}/v2/${REPO}/manifests/v2`, { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
    assert.equal(h2.status, 200);
    assert.equal(h2.headers.get('docker-content-digest'), digest);
  }));

  it('docker pull by digest (after removing the image) gives the same image ID', { timeout: 120_000 }, step(async () => {
    assert.ok(builtId && digest, 'the push step succeeded');
    await removeImage(dk!, builtId);
    const byDigest = `${reg!.host}/${REPO}@${digest}`;
    const pull = await dk!.docker(['pull', byDigest]);
    assert.equal((pull.stdout.match(/Pull complete/g) ?? []).length, 3, pull.stdout);
    assert.equal(await imageId(dk!, byDigest), builtId);
    const rd = await dk!.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', byDigest]);
    assert.ok((JSON.parse(rd.stdout) as string[]).includes(byDigest), rd.stdout);
  }));

  it('a repository name with upper case is rejected with 400 NAME_INVALID', { timeout: 30_000 }, step(async (t: TestContext) => {
    if (TARGET === 'ref') {
      // registry:2's router does not match such paths at all (plain 404): nothing to compare
      t.skip('registry:2 answers these paths with a plain 404');
      return;
    }
    assert.ok(digest, 'the push step succeeded');
    const expectNameInvalid = async (method: string, p: string, init: RequestInit = {}) => {
      const r = await fetch(`${reg!.url}${p}`, { method, ...init });
      const text = await r.text();
      assert.equal(r.status, 400, `${method} ${p} → ${r.status} ${text}`);
      assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0', `${method} ${p} API version header`);
      if (method !== 'HEAD') {
        const body = JSON.parse(text) as { errors: { code: string }[] };
        assert.equal(body.errors?.[0]?.code, 'NAME_INVALID', `${method} ${p} → ${text}`);
      }
    };
    await expectNameInvalid('POST', '/v2/Some/Repo/blobs/uploads/');
    await expectNameInvalid('POST', '/v2/some/Repo/blobs/uploads/');
    await expectNameInvalid('GET', '/v2/Some/Repo/tags/list');
    await expectNameInvalid('GET', `/v2/Some/repo/manifests/v1`, { headers: { Accept: MANIFEST_ACCEPT } });
    await expectNameInvalid('HEAD', `/v2/Some/repo/manifests/v1`, { headers: { Accept: MANIFEST_ACCEPT } });
    await expectNameInvalid('HEAD', `/v2/SOME/REPO/blobs/${layerDigests[0] ?? `sha256:${'0'.repeat(64)}`}`);
    // a valid manifest (the one we pushed), PUT under an upper-case name
    const m = await fetch(`${reg!.url}/v2/${REPO}/manifests/${digest}`, { headers: { Accept: MANIFEST_ACCEPT } });
    const manifest = Buffer.from(await m.arrayBuffer());
    await expectNameInvalid('PUT', '/v2/Some/Repo/manifests/v1', { headers: { 'Content-Type': SCHEMA2 }, body: manifest });
    // nothing of it reached the disk
    const repos = path.join(reg!.dataDir, 'docker', 'registry', 'v2', 'repositories');
    const upper: string[] = [];
    (function walk(dir: string) {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (/[A-Z]/.test(e.name)) upper.push(path.join(dir, e.name));
        if (e.isDirectory() && !e.name.startsWith('_')) walk(path.join(dir, e.name));
      }
    })(repos);
    assert.deepEqual(upper, [], 'no upper-case repository folder on disk');
  }));

  it('GET /v2/_catalog lists the repository (and only it)', { timeout: 30_000 }, step(async () => {
    const r = await fetch(`${reg!.url}/v2/_catalog`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { repositories: [REPO] });
  }));
});
