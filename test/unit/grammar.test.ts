import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDigest, checkName, isValidName, isValidTag, parseReference, checkUploadId } from '../../registry/oci/grammar';
import { OciError } from '../../registry/oci/errors';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OciError, `expected OciError, got ${e}`);
    return e.code;
  }
  return 'no error';
}

describe('repository names', () => {
  it('accepts the spec grammar', () => {
    for (const n of ['a', 'library/alpine', 'a.b_c__d-e--f/g', 'x0/y1/z2', 'a'.repeat(255)]) assert.ok(isValidName(n), n);
  });
  it('rejects traversal, upper case, empty components, separators at the ends and long names', () => {
    for (const n of ['..', 'a/../b', '../a', 'A', 'a/B', 'a//b', '/a', 'a/', 'a_', '-a', 'a___b', 'a.-b', 'a'.repeat(256), 'a'.repeat(300), '', 'a b', 'a%2fb']) {
      assert.equal(isValidName(n), false, n);
      assert.equal(code(() => checkName(n)), 'NAME_INVALID', n);
    }
  });
});

describe('tags and references', () => {
  it('tags follow [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
    assert.ok(isValidTag('latest'));
    assert.ok(isValidTag('_v1.2-RC'));
    assert.ok(isValidTag('a'.repeat(128)));
    assert.equal(isValidTag('a'.repeat(129)), false);
    assert.equal(isValidTag('.hidden'), false);
    assert.equal(isValidTag('-x'), false);
    assert.equal(isValidTag(''), false);
  });
  it('a reference with a colon is a digest', () => {
    assert.equal(code(() => parseReference('sha256:abc')), 'DIGEST_INVALID');
    assert.equal(code(() => parseReference('../etc')), 'TAG_INVALID');
    const r = parseReference('sha256:' + 'a'.repeat(64));
    assert.equal(r.kind, 'digest');
    assert.deepEqual(parseReference('v1'), { kind: 'tag', tag: 'v1' });
  });
});

describe('digests', () => {
  it('accepts sha256 and sha512 with lower-case hex of the right length', () => {
    assert.equal(checkDigest('sha256:' + '0'.repeat(64)).algorithm, 'sha256');
    assert.equal(checkDigest('sha512:' + 'f'.repeat(128)).algorithm, 'sha512');
  });
  it('rejects anything else as DIGEST_INVALID', () => {
    for (const d of ['sha256:' + 'A'.repeat(64), 'sha256:' + '0'.repeat(63), 'sha256:../../x', 'md5:' + '0'.repeat(32), 'sha256', '', 'sha512:' + '0'.repeat(64)]) {
      assert.equal(code(() => checkDigest(d)), 'DIGEST_INVALID', d);
    }
    assert.equal(code(() => checkDigest(undefined)), 'DIGEST_INVALID');
  });
  it('upload ids are UUIDs only', () => {
    assert.equal(code(() => checkUploadId('../../../etc')), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(checkUploadId('3498b971-9254-49c0-8326-dfec03c6142c'), '3498b971-9254-49c0-8326-dfec03c6142c');
  });
});
