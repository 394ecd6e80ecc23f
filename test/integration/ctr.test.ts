// Real-client interop: containerd's ctr against a live `lanyard serve`.
// A private containerd (own config, root/state dirs and gRPC socket in a temp dir, native
// snapshotter) imports an OCI archive and a docker-save tarball, pushes them with
// --plain-http, forgets them (rm --sync: content garbage-collected), pulls them back
// (unpacking checks every layer against the config's diff_ids) and compares digests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir, startDaemon, waitForOutput, Daemon } from '../helpers/proc';
import { startLanyard, LanyardServer } from '../helpers/lanyard';
import { startRefRegistry } from '../helpers/refregistry';
import {
  writeOciLayout, writeOciArchive, writeDockerArchive, OciImage, run, runOk, digestOf,
  MT_OCI_MANIFEST, MT_DOCKER_MANIFEST,
} from '../helpers/ocilayout';

const NS = 'lanyard-test';
const ACCEPT = [MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

interface CtrImage { ref: string; type: string; digest: string }

describe('containerd ctr against lanyard', { timeout: 120_000 }, () => {
  let ctrBin: string;
  let containerd: Daemon | undefined;
  let reg: LanyardServer;
  let work: string;
  let sock: string;
  let imgA: OciImage; // imported from an OCI archive
  let imgB: OciImage; // imported from a docker-save tarball
  let dockerDigest = ''; // the manifest containerd built for the docker-save import
  let dockerLayers: string[] = [];

  const ctr = (args: string[]) => runOk(ctrBin, ['-a', sock, '-n', NS, ...args], { timeoutMs: 60_000 });
  const ctrRun = (args: string[]) => run(ctrBin, ['-a', sock, '-n', NS, ...args], { timeoutMs: 60_000 });
  const nameA = () => `${reg.host}/ctr/oci:v1`;
  const nameB = () => `${reg.host}/ctr/docker:v1`;
  const images = async (): Promise<CtrImage[]> => {
    const lines = (await ctr(['images', 'ls'])).split('\n').slice(1).filter((l) => l.trim());
    return lines.map((l) => { const [ref, type, digest] = l.trim().split(/\s+/); return { ref, type, digest }; });
  };
  const image = async (ref: string) => {
    const found = (await images()).find((i) => i.ref === ref);
    assert.ok(found, `containerd has ${ref}`);
    return found;
  };
  const contentDigests = async () =>
    new Set((await ctr(['content', 'ls', '-q'])).split('\n').map((s) => s.trim()).filter(Boolean));
  const getManifest = async (repo: string, reference: string) => {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };

  before(async () => {
    ctrBin = requireTool('ctr');
    const containerdBin = requireTool('containerd');
    work = tempDir('ctr-test');
    sock = path.join(work, 'containerd.sock');
    const conf = path.join(work, 'containerd.toml');
    fs.writeFileSync(conf, [
      'version = 2',
      `root = "${path.join(work, 'root')}"`,
      `state = "${path.join(work, 'state')}"`,
      // only what image import/push/pull need; nothing that touches /opt, CRI or other snapshotters
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",',
      '  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt",',
      '  "io.containerd.tracing.processor.v1.otlp"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '',
    ].join('\n'));
    containerd = startDaemon(containerdBin, ['--config', conf, '--log-level', 'info'], { logFile: path.join(work, 'containerd.log') });
    await waitForOutput(containerd, /containerd successfully booted/, 30_000);

    // LANYARD_ITEST_REF=1 runs the same client checks against registry:2, to tell a test bug
    // from a server bug; by default the registry under test is Lanyard.
    reg = process.env.LANYARD_ITEST_REF === '1'
      ? await startRefRegistry({ deleteEnabled: true })
      : await startLanyard({ deleteEnabled: true });
    imgA = await writeOciLayout({ dir: path.join(work, 'layout-a'), tag: 'v1', layers: 3, fileSize: 256 * 1024 });
    imgB = await writeOciLayout({ dir: path.join(work, 'layout-b'), tag: 'v1', layers: 2, fileSize: 256 * 1024 });
  });

  after(async () => {
    await containerd?.stop();
    await reg?.stop();
    if (reg?.dataDir) fs.rmSync(reg.dataDir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('imports an OCI archive and a docker-save tarball', async () => {
    const ociTar = path.join(work, 'a-oci.tar');
    await writeOciArchive(imgA, ociTar, nameA());
    await ctr(['images', 'import', '--snapshotter', 'native', ociTar]);
    const a = await image(nameA());
    assert.equal(a.digest, imgA.manifestDigest, 'OCI import keeps the manifest digest');
    assert.equal(a.type, MT_OCI_MANIFEST);

    const dockerTar = path.join(work, 'b-docker.tar');
    await writeDockerArchive(imgB, dockerTar, [nameB()]);
    await ctr(['images', 'import', '--snapshotter', 'native', dockerTar]);
    const b = await image(nameB());
    assert.equal(b.type, MT_DOCKER_MANIFEST);
    dockerDigest = b.digest;
    const m = JSON.parse(await ctr(['content', 'get', dockerDigest]));
    assert.equal(m.config.digest, imgB.configDigest, 'docker import keeps the config');
    dockerLayers = m.layers.map((l: { digest: string }) => l.digest);
  });

  it('ctr images push --plain-http stores the OCI manifest byte for byte', async () => {
    await ctr(['images', 'push', '--plain-http', nameA()]);
    const { res, body } = await getManifest('ctr/oci', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), imgA.manifestDigest);
    assert.equal(res.headers.get('content-type'), MT_OCI_MANIFEST);
    assert.ok(body.equals(imgA.manifestBytes), 'manifest bytes unchanged');
    for (const d of [imgA.configDigest, ...imgA.layers.map((l) => l.digest)]) {
      const b = await fetch(`${reg.url}/v2/ctr/oci/blobs/${d}`);
      assert.equal(b.status, 200, `GET blob ${d}`);
      assert.equal(digestOf(Buffer.from(await b.arrayBuffer())), d, `content of ${d}`);
    }
  });

  it('ctr images push --plain-http of the docker-save import (Docker schema2)', async () => {
    await ctr(['images', 'push', '--plain-http', nameB()]);
    const { res, body } = await getManifest('ctr/docker', 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), dockerDigest);
    assert.equal(res.headers.get('content-type'), MT_DOCKER_MANIFEST);
    assert.equal(digestOf(body), dockerDigest);
    for (const d of [imgB.configDigest, ...dockerLayers]) {
      const h = await fetch(`${reg.url}/v2/ctr/docker/blobs/${d}`, { method: 'HEAD' });
      assert.equal(h.status, 200, `HEAD blob ${d}`);
    }
  });

  it('removes the images, then ctr images pull --plain-http brings back the same digests', async () => {
    await ctr(['images', 'rm', '--sync', nameA(), nameB()]);
    assert.deepEqual(await images(), []);
    const left = await contentDigests();
    for (const d of [imgA.manifestDigest, ...imgA.layers.map((l) => l.digest), dockerDigest, ...dockerLayers]) {
      assert.ok(!left.has(d), `content ${d} was garbage-collected`);
    }

    await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', nameA()]);
    await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', nameB()]);
    assert.equal((await image(nameA())).digest, imgA.manifestDigest);
    assert.equal((await image(nameB())).digest, dockerDigest);
    const manifest = Buffer.from(await ctr(['content', 'get', imgA.manifestDigest]), 'utf8');
    assert.ok(manifest.equals(imgA.manifestBytes), 'pulled manifest bytes');
    const have = await contentDigests();
    for (const d of [imgA.configDigest, ...imgA.layers.map((l) => l.digest), imgB.configDigest, ...dockerLayers]) {
      assert.ok(have.has(d), `pulled ${d}`);
    }
    // unpacked into the snapshotter (layers verified against the diff_ids on the way)
    const check = await ctr(['images', 'check', '--snapshotter', 'native']);
    for (const ref of [nameA(), nameB()]) {
      const line = check.split('\n').find((l) => l.startsWith(`${ref} `)) ?? '';
      assert.match(line, /complete \(\d+\/\d+\).*true\s*$/, `check: ${line}`);
    }

    // by digest
    const byDigest = `${reg.host}/ctr/oci@${imgA.manifestDigest}`;
    await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', byDigest]);
    assert.equal((await image(byDigest)).digest, imgA.manifestDigest);
  });

  it('pushing the pulled image to another repository mounts its blobs', async () => {
    const copy = `${reg.host}/ctr/copy:v1`;
    await ctr(['images', 'tag', nameA(), copy]);
    const r = await ctrRun(['images', 'push', '--plain-http', '--http-dump', copy]);
    assert.equal(r.code, 0, r.stderr);
    const dump = r.stdout + r.stderr;
    for (const l of imgA.layers) {
      assert.ok(dump.includes(`POST /v2/ctr/copy/blobs/uploads/?mount=${l.digest}&from=ctr/oci`), `mount of ${l.digest} requested`);
    }
    assert.ok(!/(PUT|PATCH) \/v2\/ctr\/copy\/blobs\/uploads\//.test(dump), 'no blob was uploaded: all mounted');
    const { res, body } = await getManifest('ctr/copy', 'v1');
    assert.equal(res.status, 200);
    assert.ok(body.equals(imgA.manifestBytes));
    for (const l of imgA.layers) {
      const b = await fetch(`${reg.url}/v2/ctr/copy/blobs/${l.digest}`);
      assert.equal(digestOf(Buffer.from(await b.arrayBuffer())), l.digest, `mounted ${l.digest}`);
    }
  });

  it('pulling a tag that does not exist fails with not found', async () => {
    const r = await ctrRun(['images', 'pull', '--plain-http', '--snapshotter', 'native', `${reg.host}/ctr/oci:nope`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found/);
  });
});
