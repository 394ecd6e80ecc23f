import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MT, parseManifest, referrerDescriptor } from '../../registry/oci/manifest';
import { OciError } from '../../registry/oci/errors';

const dg = (c: string) => 'sha256:' + c.repeat(64);
const image = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MT.ociManifest,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: dg('1'), size: 10 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: dg('2'), size: 20 }],
  ...extra,
});
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));
function errCode(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    assert.ok(e instanceof OciError);
    return e.code;
  }
}

describe('manifest parsing', () => {
  it('lists the blobs an image manifest references', () => {
    const p = parseManifest(buf(image()), MT.ociManifest);
    assert.equal(p.kind, 'image');
    assert.deepEqual(p.blobs.map((b) => b.value), [dg('1'), dg('2')]);
  });
  it('lists the child manifests of an index', () => {
    const p = parseManifest(buf({ schemaVersion: 2, mediaType: MT.dockerList, manifests: [{ mediaType: MT.dockerManifest, digest: dg('3'), size: 5 }] }), MT.dockerList);
    assert.equal(p.kind, 'index');
    assert.deepEqual(p.manifests.map((b) => b.value), [dg('3')]);
  });
  it('skips foreign layers with URLs', () => {
    const m = image({ layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: dg('4'), size: 1, urls: ['https://x'] }] });
    assert.deepEqual(parseManifest(buf(m), MT.ociManifest).blobs.map((b) => b.value), [dg('1')]);
  });
  it('takes the media type from Content-Type when the body has none', () => {
    const { mediaType: _omit, ...noType } = image();
    assert.equal(parseManifest(buf(noType), MT.ociManifest).mediaType, MT.ociManifest);
    assert.equal(parseManifest(buf(noType), undefined).mediaType, MT.ociManifest);
  });
  it('rejects invalid bodies with MANIFEST_INVALID', () => {
    assert.equal(errCode(() => parseManifest(Buffer.from('{nope'), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf([1]), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf(image()), MT.dockerManifest)), 'MANIFEST_INVALID'); // type mismatch
    assert.equal(errCode(() => parseManifest(buf(image({ schemaVersion: 1 })), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf(image({ config: { digest: 'x', size: 1, mediaType: 'a' } })), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf(image({ layers: 'x' })), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf(image({ annotations: { a: 1 } })), MT.ociManifest)), 'MANIFEST_INVALID');
    assert.equal(errCode(() => parseManifest(buf({ schemaVersion: 2, mediaType: 'text/plain' }), 'text/plain')), 'MANIFEST_INVALID');
  });
  it('describes referrers with artifactType or the config media type', () => {
    const subject = { mediaType: MT.ociManifest, digest: dg('9'), size: 1 };
    const a = parseManifest(buf(image({ artifactType: 'application/x-sbom', subject, annotations: { k: 'v' } })), MT.ociManifest);
    assert.equal(a.subject?.digest, dg('9'));
    assert.deepEqual(referrerDescriptor(a, dg('8'), 100), { mediaType: MT.ociManifest, digest: dg('8'), size: 100, artifactType: 'application/x-sbom', annotations: { k: 'v' } });
    const b = parseManifest(buf(image({ subject })), MT.ociManifest);
    assert.equal(referrerDescriptor(b, dg('7'), 1).artifactType, 'application/vnd.oci.image.config.v1+json');
  });
});
