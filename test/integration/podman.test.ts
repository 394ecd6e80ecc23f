// Real-client interop: podman (private vfs storage, no systemd) against a live `lanyard serve`.
// Images come from an OCI layout (`podman pull oci:`) and a docker-save tarball
// (`podman load`); podman re-compresses the layers itself on push, so the registry
// receives blobs it has never seen in the layout. Push, rmi, pull back, compare IDs/digests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { requireTool } from '../helpers/proc';
import { startLanyard, LanyardServer } from '../helpers/lanyard';
import { startRefRegistry } from '../helpers/refregistry';
import {
  writeOciLayout, writeDockerArchive, OciImage, run, runOk, digestOf,
  MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST,
} from '../helpers/ocilayout';

const ACCEPT = [MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_DOCKER_LIST].join(', ');

interface Manifest {
  mediaType: string;
  config: { digest: string; mediaType: string };
  layers: { digest: string; mediaType: string; size: number }[];
}

describe('podman against lanyard', { timeout: 120_000 }, () => {
  let podman: string;
  let reg: LanyardServer;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let imgA: OciImage; // pulled from an OCI layout
  let imgB: OciImage; // loaded from a docker-save tarball
  let imgC: OciImage; // pushed with zstd compression
  let archiveB: string;
  const pushed: Record<string, string> = {}; // name → manifest digest podman reported

  // private storage and runtime dirs; no systemd (cgroupfs, file events)
  const globals = () => ['--root', path.join(work, 'root'), '--runroot', path.join(work, 'runroot'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--tmpdir', path.join(work, 'tmp')];
  const pm = (args: string[]) => runOk(podman, [...globals(), ...args], { env });
  const name = (repo: string, tag: string) => `${reg.host}/${repo}:${tag}`;
  const imageId = async (ref: string) => (await pm(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
  const localImages = async () => (await pm(['images', '--all', '--quiet', '--no-trunc'])).split('\n').filter(Boolean).map((id) => id.replace(/^sha256:/, ''));
  const getManifest = async (repo: string, reference: string) => {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };
  const push = async (ref: string, extra: string[] = []) => {
    const digestFile = path.join(work, `digest-${crypto.randomUUID()}`);
    await pm(['push', '--tls-verify=false', '--digestfile', digestFile, ...extra, ref]);
    const d = fs.readFileSync(digestFile, 'utf8').trim();
    assert.match(d, /^sha256:[0-9a-f]{64}$/);
    return d;
  };

  /** Download a layer blob, check its digest, and check that it decompresses to the diff_id. */
  const checkLayer = async (repo: string, layer: { digest: string; mediaType: string }, diffId: string) => {
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/${layer.digest}`);
    assert.equal(res.status, 200, `GET blob ${layer.digest}`);
    const file = path.join(work, 'tmp', `blob-${layer.digest.slice(7)}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(file));
    try {
      const compressed = crypto.createHash('sha256');
      await pipeline(fs.createReadStream(file), async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) compressed.update(c);
      });
      assert.equal(`sha256:${compressed.digest('hex')}`, layer.digest, 'blob content matches its digest');
      const raw = crypto.createHash('sha256');
      const sink = async function* (src: AsyncIterable<Buffer>) { for await (const c of src) raw.update(c); };
      if (layer.mediaType.endsWith('+zstd')) {
        const z = spawn(requireTool('zstd'), ['-dc', file], { stdio: ['ignore', 'pipe', 'inherit'] });
        await pipeline(z.stdout, sink);
      } else {
        await pipeline(fs.createReadStream(file), zlib.createGunzip(), sink);
      }
      assert.equal(`sha256:${raw.digest('hex')}`, diffId, `layer ${layer.digest} decompresses to its diff_id`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  };

  const checkPushed = async (repo: string, tag: string, digest: string, img: OciImage, mediaType: string) => {
    const { res, body } = await getManifest(repo, tag);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), digest, 'registry digest = podman --digestfile');
    assert.equal(digestOf(body), digest, 'manifest body hashes to its digest');
    assert.equal(res.headers.get('content-type'), mediaType);
    const m = JSON.parse(body.toString()) as Manifest;
    assert.equal(m.mediaType, mediaType);
    assert.equal(m.config.digest, img.configDigest);
    assert.equal(m.layers.length, img.layers.length);
    for (let i = 0; i < m.layers.length; i++) await checkLayer(repo, m.layers[i], img.layers[i].diffId);
    return m;
  };

  before(async () => {
    podman = requireTool('podman');
    // podman names an image pulled from `oci:DIR` after DIR, which must then be lowercase
    // (tempDir's random suffix is mixed case)
    work = path.join(os.tmpdir(), `podman-test-${crypto.randomBytes(6).toString('hex')}`);
    fs.mkdirSync(work, { mode: 0o700 });
    for (const d of ['root', 'runroot', 'tmp']) fs.mkdirSync(path.join(work, d));
    fs.writeFileSync(path.join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
    fs.writeFileSync(path.join(work, 'containers.conf'), '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
    env = {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: path.join(work, 'registries.conf'),
      CONTAINERS_CONF: path.join(work, 'containers.conf'),
      TMPDIR: path.join(work, 'tmp'),
    };
    // LANYARD_ITEST_REF=1 runs the same client checks against registry:2, to tell a test bug
    // from a server bug; by default the registry under test is Lanyard.
    reg = process.env.LANYARD_ITEST_REF === '1'
      ? await startRefRegistry({ deleteEnabled: true })
      : await startLanyard({ deleteEnabled: true });
    imgA = await writeOciLayout({ dir: path.join(work, 'layout-a'), tag: 'v1', layers: 3, fileSize: 256 * 1024 });
    imgB = await writeOciLayout({ dir: path.join(work, 'layout-b'), tag: 'v1', layers: 2, fileSize: 256 * 1024 });
    imgC = await writeOciLayout({ dir: path.join(work, 'layout-c'), tag: 'v1', layers: 2, fileSize: 128 * 1024 });
    archiveB = path.join(work, 'b-docker.tar');
    await writeDockerArchive(imgB, archiveB, [name('pod/b', 'v1')]);
  });

  after(async () => {
    await reg?.stop();
    if (reg?.dataDir) fs.rmSync(reg.dataDir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('gets images into podman from an OCI layout and a docker-save tarball', async () => {
    const out = await pm(['pull', `oci:${imgA.dir}:v1`]);
    assert.equal(out.trim().split('\n').pop(), imgA.configDigest.slice(7), 'pull oci: prints the image ID = config digest');
    await pm(['tag', imgA.configDigest.slice(7), name('pod/a', 'v1')]);
    assert.equal(await imageId(name('pod/a', 'v1')), imgA.configDigest.slice(7));

    await pm(['load', '-i', archiveB]);
    assert.equal(await imageId(name('pod/b', 'v1')), imgB.configDigest.slice(7));

    await pm(['pull', `oci:${imgC.dir}:v1`]);
    await pm(['tag', imgC.configDigest.slice(7), name('pod/c', 'v1')]);
  });

  it('podman push (OCI) stores a manifest whose re-compressed layers match the diff_ids', async () => {
    pushed.a = await push(name('pod/a', 'v1'));
    await checkPushed('pod/a', 'v1', pushed.a, imgA, MT_OCI_MANIFEST);
  });

  it('podman push --format v2s2 of the loaded image', async () => {
    pushed.b = await push(name('pod/b', 'v1'), ['--format', 'v2s2']);
    await checkPushed('pod/b', 'v1', pushed.b, imgB, MT_DOCKER_MANIFEST);
  });

  it('podman push --compression-format zstd', async () => {
    pushed.c = await push(name('pod/c', 'v1'), ['--compression-format', 'zstd']);
    const m = await checkPushed('pod/c', 'v1', pushed.c, imgC, MT_OCI_MANIFEST);
    assert.ok(m.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd'), JSON.stringify(m.layers));
  });

  it('podman manifest push --all stores an image index', async () => {
    const list = name('pod/list', 'v1');
    await pm(['manifest', 'create', list]);
    await pm(['manifest', 'add', '--tls-verify=false', list, `docker://${name('pod/a', 'v1')}`]);
    const digestFile = path.join(work, 'digest-list');
    await pm(['manifest', 'push', '--all', '--tls-verify=false', '--digestfile', digestFile, list, `docker://${list}`]);
    pushed.list = fs.readFileSync(digestFile, 'utf8').trim();
    const { res, body } = await getManifest('pod/list', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), pushed.list);
    assert.equal(digestOf(body), pushed.list);
    const idx = JSON.parse(body.toString());
    assert.ok([MT_OCI_INDEX, MT_DOCKER_LIST].includes(idx.mediaType), idx.mediaType);
    assert.equal(res.headers.get('content-type'), idx.mediaType);
    assert.equal(idx.manifests.length, 1);
    assert.equal(idx.manifests[0].digest, pushed.a);
    assert.deepEqual({ ...idx.manifests[0].platform }, { architecture: 'amd64', os: 'linux' });
    // the child manifest is in the list's repository too
    const child = await getManifest('pod/list', pushed.a);
    assert.equal(child.res.status, 200);
    assert.equal(digestOf(child.body), pushed.a);
    await pm(['manifest', 'rm', list]);
  });

  it('podman rmi, then podman pull brings back the same images', async () => {
    await pm(['rmi', '--all', '--force']);
    assert.deepEqual(await localImages(), []);

    await pm(['pull', '--tls-verify=false', name('pod/a', 'v1')]);
    assert.equal(await imageId(name('pod/a', 'v1')), imgA.configDigest.slice(7));
    assert.equal((await pm(['image', 'inspect', '--format', '{{.Digest}}', name('pod/a', 'v1')])).trim(), pushed.a);
    const repoDigests = JSON.parse(await pm(['image', 'inspect', '--format', '{{json .RepoDigests}}', name('pod/a', 'v1')]));
    assert.ok(repoDigests.includes(`${reg.host}/pod/a@${pushed.a}`), JSON.stringify(repoDigests));

    // by digest
    await pm(['pull', '--tls-verify=false', `${reg.host}/pod/b@${pushed.b}`]);
    assert.equal(await imageId(`${reg.host}/pod/b@${pushed.b}`), imgB.configDigest.slice(7));

    await pm(['pull', '--tls-verify=false', name('pod/c', 'v1')]);
    assert.equal(await imageId(name('pod/c', 'v1')), imgC.configDigest.slice(7));
    assert.equal((await pm(['image', 'inspect', '--format', '{{.Digest}}', name('pod/c', 'v1')])).trim(), pushed.c);

    // through the index: podman picks the linux/amd64 instance
    await pm(['pull', '--tls-verify=false', name('pod/list', 'v1')]);
    assert.equal(await imageId(name('pod/list', 'v1')), imgA.configDigest.slice(7));

    const ids = new Set(await localImages());
    assert.deepEqual([...ids].sort(), [imgA, imgB, imgC].map((i) => i.configDigest.slice(7)).sort());
  });

  it('pulling a tag that does not exist fails with manifest unknown', async () => {
    const r = await run(podman, [...globals(), 'pull', '--tls-verify=false', name('pod/a', 'nope')], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /manifest unknown/i);
  });
});
