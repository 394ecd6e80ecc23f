import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryPaths } from '../../registry/storage/paths';
import { checkDigest } from '../../registry/oci/grammar';

describe('registry:2 layout', () => {
  const p = new RegistryPaths('/data');
  const d = checkDigest('sha256:' + 'ab'.repeat(32));
  const v2 = '/data/docker/registry/v2';
  it('puts blobs under blobs/<alg>/<hex[0:2]>/<hex>/data', () => {
    assert.equal(p.blobData(d), `${v2}/blobs/sha256/ab/${d.hex}/data`);
  });
  it('puts repository links where registry:2 reads them', () => {
    assert.equal(p.layerLink('team/app', d), `${v2}/repositories/team/app/_layers/sha256/${d.hex}/link`);
    assert.equal(p.revisionLink('team/app', d), `${v2}/repositories/team/app/_manifests/revisions/sha256/${d.hex}/link`);
    assert.equal(p.tagCurrentLink('team/app', 'v1'), `${v2}/repositories/team/app/_manifests/tags/v1/current/link`);
    assert.equal(p.tagIndexLink('team/app', 'v1', d), `${v2}/repositories/team/app/_manifests/tags/v1/index/sha256/${d.hex}/link`);
    assert.equal(p.uploadData('team/app', 'u'), `${v2}/repositories/team/app/_uploads/u/data`);
    assert.equal(p.uploadStartedAt('team/app', 'u'), `${v2}/repositories/team/app/_uploads/u/startedat`);
  });
  it('keeps its own files outside docker/', () => {
    assert.ok(!p.tmpDir().startsWith(`${'/data'}/docker`));
    assert.ok(!p.logsDir().startsWith(`${'/data'}/docker`));
  });
});
