// Real-client interop: skopeo (containers/image) against a live `lanyard serve`.
// push from an OCI layout, inspect (digest + byte-identical raw manifest), list-tags,
// a second tag, a cross-repo copy (blob mount), Docker schema2 / OCI conversions,
// pull back into an OCI layout, delete.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '../helpers/proc';
import { startLanyard, LanyardServer } from '../helpers/lanyard';
import { startRefRegistry } from '../helpers/refregistry';
import {
  writeOciLayout, OciImage, run, runOk, blobPath, fileDigest, digestOf,
  MT_OCI_MANIFEST, MT_OCI_CONFIG, MT_OCI_LAYER_GZIP, MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG, MT_DOCKER_LAYER_GZIP,
} from '../helpers/ocilayout';

const REPO = 'lanyard/skopeo';
const OTHER = 'lanyard/other';
const ACCEPT = [MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

describe('skopeo against lanyard', { timeout: 120_000 }, () => {
  let skopeo: string;
  let reg: LanyardServer;
  let img: OciImage;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let v2s2Digest = '';
  let ociDigest = '';

  // Private config: a permissive policy, empty registries.conf and registries.d, own tmpdir.
  const sk = (args: string[]) => runOk(skopeo, ['--policy', path.join(work, 'policy.json'),
    '--registries.d', path.join(work, 'registries.d'), '--tmpdir', path.join(work, 'tmp'), ...args], { env });
  const skRun = (args: string[]) => run(skopeo, ['--policy', path.join(work, 'policy.json'),
    '--registries.d', path.join(work, 'registries.d'), '--tmpdir', path.join(work, 'tmp'), ...args], { env });
  const ref = (repo: string, tagOrDigest: string) =>
    `docker://${reg.host}/${repo}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
  const getManifest = async (repo: string, reference: string) => {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };
  const inspect = async (repo: string, reference: string) =>
    JSON.parse(await sk(['inspect', '--tls-verify=false', ref(repo, reference)]));
  const inspectRaw = async (repo: string, reference: string) =>
    Buffer.from(await sk(['inspect', '--tls-verify=false', '--raw', ref(repo, reference)]), 'utf8');
  const listTags = async (repo: string) =>
    (JSON.parse(await sk(['list-tags', '--tls-verify=false', `docker://${reg.host}/${repo}`])).Tags as string[]).slice().sort();

  before(async () => {
    skopeo = requireTool('skopeo');
    work = tempDir('skopeo-test');
    for (const d of ['registries.d', 'tmp']) fs.mkdirSync(path.join(work, d));
    fs.writeFileSync(path.join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    fs.writeFileSync(path.join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: path.join(work, 'registries.conf'), TMPDIR: path.join(work, 'tmp') };
    img = await writeOciLayout({ dir: path.join(work, 'layout'), tag: 'v1', layers: 3, filesPerLayer: 2, fileSize: 256 * 1024 });
    // LANYARD_ITEST_REF=1 runs the same client checks against registry:2, to tell a test bug
    // from a server bug; by default the registry under test is Lanyard.
    reg = process.env.LANYARD_ITEST_REF === '1'
      ? await startRefRegistry({ deleteEnabled: true })
      : await startLanyard({ deleteEnabled: true });
  });

  after(async () => {
    await reg?.stop();
    if (reg?.dataDir) fs.rmSync(reg.dataDir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('pushes an OCI layout with skopeo copy (manifest stored byte for byte)', async () => {
    await sk(['copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, ref(REPO, 'v1')]);
    const { res, body } = await getManifest(REPO, 'v1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), img.manifestDigest);
    assert.equal(res.headers.get('content-type'), MT_OCI_MANIFEST);
    assert.ok(body.equals(img.manifestBytes), 'GET manifest returns the pushed bytes');
    for (const d of [img.configDigest, ...img.layers.map((l) => l.digest)]) {
      const h = await fetch(`${reg.url}/v2/${REPO}/blobs/${d}`, { method: 'HEAD' });
      assert.equal(h.status, 200, `HEAD blob ${d}`);
      assert.equal(h.headers.get('docker-content-digest'), d);
    }
    for (const l of img.layers) {
      const h = await fetch(`${reg.url}/v2/${REPO}/blobs/${l.digest}`, { method: 'HEAD' });
      assert.equal(Number(h.headers.get('content-length')), l.size, `size of ${l.digest}`);
    }
  });

  it('skopeo inspect reports the manifest digest; --raw is byte-identical', async () => {
    const info = await inspect(REPO, 'v1');
    assert.equal(info.Digest, img.manifestDigest);
    assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    const raw = await inspectRaw(REPO, 'v1');
    assert.ok(raw.equals(img.manifestBytes), `raw manifest differs:\n${raw.toString()}`);
    const config = Buffer.from(await sk(['inspect', '--tls-verify=false', '--config', '--raw', ref(REPO, 'v1')]), 'utf8');
    assert.ok(config.equals(img.configBytes), 'raw config is byte-identical');
    const byDigest = await inspect(REPO, img.manifestDigest);
    assert.equal(byDigest.Digest, img.manifestDigest);
  });

  it('a second tag reuses the blobs; list-tags shows both', async () => {
    const r = await skRun(['--debug', 'copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, ref(REPO, 'v2')]);
    assert.equal(r.code, 0, r.stderr);
    for (const l of img.layers) {
      assert.ok(!r.stderr.includes(`digest=sha256%3A${l.digest.slice(7)}`), `layer ${l.digest} was uploaded again`);
    }
    assert.equal((await inspect(REPO, 'v2')).Digest, img.manifestDigest);
    assert.deepEqual(await listTags(REPO), ['v1', 'v2']);
  });

  it('copies between two repositories with a cross-repo blob mount', async () => {
    const r = await skRun(['--debug', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', ref(REPO, 'v1'), ref(OTHER, 'v1')]);
    assert.equal(r.code, 0, r.stderr);
    for (const l of img.layers) {
      const hex = l.digest.slice(7);
      assert.match(r.stderr, new RegExp(`POST \\S+/v2/${OTHER}/blobs/uploads/\\?from=lanyard%2Fskopeo&mount=sha256%3A${hex}`),
        `skopeo tried to mount ${l.digest}`);
      assert.ok(!r.stderr.includes(`digest=sha256%3A${hex}`), `layer ${l.digest} was uploaded instead of mounted`);
    }
    const mounted = r.stderr.match(/\.\.\. mount OK/g) ?? [];
    assert.equal(mounted.length, img.layers.length, 'every layer mounted');
    const info = await inspect(OTHER, 'v1');
    assert.equal(info.Digest, img.manifestDigest);
    assert.ok((await inspectRaw(OTHER, 'v1')).equals(img.manifestBytes));
    for (const l of img.layers) {
      const res = await fetch(`${reg.url}/v2/${OTHER}/blobs/${l.digest}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(digestOf(body), l.digest, 'mounted blob content');
    }
  });

  it('copies as Docker schema2 (--format v2s2)', async () => {
    await sk(['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${img.dir}:v1`, ref(REPO, 'v2s2')]);
    const raw = await inspectRaw(REPO, 'v2s2');
    const m = JSON.parse(raw.toString());
    assert.equal(m.mediaType, MT_DOCKER_MANIFEST);
    assert.equal(m.config.mediaType, MT_DOCKER_CONFIG);
    assert.equal(m.config.digest, img.configDigest);
    assert.deepEqual(m.layers.map((l: { digest: string }) => l.digest), img.layers.map((l) => l.digest));
    assert.ok(m.layers.every((l: { mediaType: string }) => l.mediaType === MT_DOCKER_LAYER_GZIP));
    v2s2Digest = digestOf(raw);
    assert.notEqual(v2s2Digest, img.manifestDigest);
    const { res, body } = await getManifest(REPO, 'v2s2');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MT_DOCKER_MANIFEST);
    assert.equal(res.headers.get('docker-content-digest'), v2s2Digest);
    assert.ok(body.equals(raw));
    assert.equal((await inspect(REPO, 'v2s2')).Digest, v2s2Digest);
  });

  it('copies the schema2 image back as OCI (--format oci)', async () => {
    await sk(['copy', '--format', 'oci', '--src-tls-verify=false', '--dest-tls-verify=false', ref(REPO, 'v2s2'), ref(REPO, 'oci')]);
    const raw = await inspectRaw(REPO, 'oci');
    const m = JSON.parse(raw.toString());
    assert.equal(m.mediaType, MT_OCI_MANIFEST);
    assert.equal(m.config.mediaType, MT_OCI_CONFIG);
    assert.equal(m.config.digest, img.configDigest);
    assert.deepEqual(m.layers.map((l: { digest: string }) => l.digest), img.layers.map((l) => l.digest));
    assert.ok(m.layers.every((l: { mediaType: string }) => l.mediaType === MT_OCI_LAYER_GZIP));
    ociDigest = digestOf(raw);
    const { res } = await getManifest(REPO, 'oci');
    assert.equal(res.headers.get('content-type'), MT_OCI_MANIFEST);
    assert.equal(res.headers.get('docker-content-digest'), ociDigest);
    assert.deepEqual(await listTags(REPO), ['oci', 'v1', 'v2', 'v2s2']);
  });

  it('pulls back into an OCI layout with identical blobs', async () => {
    const out = path.join(work, 'pulled');
    await sk(['copy', '--src-tls-verify=false', ref(REPO, 'v1'), `oci:${out}:v1`]);
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].digest, img.manifestDigest);
    for (const d of [img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)]) {
      const p = blobPath(out, d);
      assert.ok(fs.existsSync(p), `pulled layout has ${d}`);
      assert.equal(await fileDigest(p), d, `content of ${d}`);
      assert.equal(fs.statSync(p).size, fs.statSync(blobPath(img.dir, d)).size);
    }
  });

  it('skopeo delete removes the manifest; inspect then fails with manifest unknown', async () => {
    await sk(['delete', '--tls-verify=false', ref(REPO, 'v1')]);
    for (const reference of ['v1', 'v2', img.manifestDigest]) {
      const r = await skRun(['inspect', '--tls-verify=false', ref(REPO, reference)]);
      assert.notEqual(r.code, 0, `inspect ${reference} after delete should fail`);
      assert.match(r.stderr, /manifest unknown/i, `inspect ${reference}`);
    }
    const { res, body } = await getManifest(REPO, img.manifestDigest);
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(body.toString()).errors[0].code, 'MANIFEST_UNKNOWN');
    // the other manifests in the repo and the mounted copy in the other repo survive
    assert.deepEqual(await listTags(REPO), ['oci', 'v2s2']);
    assert.equal((await inspect(REPO, 'v2s2')).Digest, v2s2Digest);
    assert.equal((await inspect(REPO, 'oci')).Digest, ociDigest);
    assert.equal((await inspect(OTHER, 'v1')).Digest, img.manifestDigest);
    const out = path.join(work, 'pulled-other');
    await sk(['copy', '--src-tls-verify=false', ref(OTHER, 'v1'), `oci:${out}:v1`]);
    for (const l of img.layers) assert.equal(await fileDigest(blobPath(out, l.digest)), l.digest);
  });
});
