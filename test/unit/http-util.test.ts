import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteRange, parseContentRange } from '../../registry/http/util';
import { OciError } from '../../registry/oci/errors';
import { BoundedMap } from '../../registry/storage/cache';

describe('ranges', () => {
  it('parses blob GET byte ranges', () => {
    assert.deepEqual(parseByteRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=50-500', 100), { start: 50, end: 99 });
    assert.equal(parseByteRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=0-1,5-6', 100), null);
    assert.equal(parseByteRange('items=0-1', 100), null);
  });
  it('parses upload Content-Range in the forms clients send', () => {
    assert.deepEqual(parseContentRange('0-1023'), { start: 0, end: 1023 });
    assert.deepEqual(parseContentRange('bytes 10-20/*'), { start: 10, end: 20 });
    assert.equal(parseContentRange(''), undefined);
    assert.throws(() => parseContentRange('20-10'), (e) => e instanceof OciError && e.code === 'RANGE_INVALID');
    assert.throws(() => parseContentRange('x'), (e) => e instanceof OciError && e.code === 'RANGE_INVALID');
  });
});

describe('bounded cache', () => {
  it('evicts the oldest entries by count and by weight', () => {
    const m = new BoundedMap<string, string>(2, 10, (v) => v.length);
    m.set('a', '1234');
    m.set('b', '1234');
    m.set('c', '1');
    assert.equal(m.get('a'), undefined);
    assert.equal(m.get('c'), '1');
    m.set('d', '12345678');
    assert.equal(m.get('b'), undefined);
    assert.equal(m.size, 2);
    m.set('huge', 'x'.repeat(11));
    assert.equal(m.get('huge'), undefined);
  });
});
