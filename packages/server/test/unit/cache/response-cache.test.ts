import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createResponseCache } from '../../../src/cache/cache-config.js';
import { ResponseCache, entryByteSize } from '../../../src/cache/response-cache.js';
import { ServerError } from '../../../src/errors/index.js';
import type { Tensor } from '../../../src/tensor/tensor.js';

/** One output named `O` (1 byte of name, 4 of datatype, one dimension): 13 bytes beyond its data. */
function outputs(byteLength: number, fill = 1): Tensor[] {
  return [{ name: 'O', datatype: 'INT8', shape: [byteLength], data: new Uint8Array(byteLength).fill(fill) }];
}
const OVERHEAD = 13;

test('an entry is its tensor bytes plus names and shapes', () => {
  assert.equal(entryByteSize(outputs(100)), 100 + OVERHEAD);
  assert.equal(entryByteSize([]), 1);
});

test('lookups return what was inserted, as copies the caller may keep or move', () => {
  const cache = new ResponseCache(1000);
  const stored = outputs(8, 7);
  assert.equal(cache.insert('k', 1, stored), true);
  stored[0]!.data.fill(0); // the producer reuses its buffer
  const first = cache.lookup('k')!;
  assert.deepEqual([...first[0]!.data], Array(8).fill(7));
  assert.deepEqual(first[0]!.shape, [8]);
  first[0]!.data.fill(9);
  structuredClone(first[0]!.data.buffer, { transfer: [first[0]!.data.buffer as ArrayBuffer] }); // moved away
  assert.deepEqual([...cache.lookup('k')![0]!.data], Array(8).fill(7));
  assert.equal(cache.lookup('other'), undefined);
});

test('eviction is least recently used first, by bytes, and never exceeds the capacity', () => {
  const entry = 100 + OVERHEAD;
  const cache = new ResponseCache(3 * entry);
  for (const key of ['a', 'b', 'c']) cache.insert(key, 1, outputs(100));
  assert.equal(cache.byteSize, 3 * entry);
  cache.lookup('a'); // now b is the least recently used
  cache.insert('d', 1, outputs(100));
  assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => cache.lookup(k) !== undefined), [true, false, true, true]);
  // One large entry pushes out as many as it needs, oldest first (c, then a; d was just read).
  cache.lookup('d');
  cache.insert('big', 1, outputs(2 * 100 + OVERHEAD));
  assert.deepEqual(['a', 'c', 'd', 'big'].map((k) => cache.lookup(k) !== undefined), [false, false, true, true]);
  assert.ok(cache.byteSize <= cache.capacityBytes);
});

test('an entry larger than the whole cache is not inserted and evicts nothing', () => {
  const cache = new ResponseCache(200);
  cache.insert('small', 1, outputs(50));
  assert.equal(cache.insert('huge', 1, outputs(200)), false);
  assert.equal(cache.lookup('huge'), undefined);
  assert.notEqual(cache.lookup('small'), undefined);
  assert.equal(cache.entryCount, 1);
  const empty = new ResponseCache(0);
  assert.equal(empty.insert('k', 1, outputs(1)), false);
  assert.equal(empty.lookup('k'), undefined);
});

test('dropping a scope frees that model version\'s entries only', () => {
  const cache = new ResponseCache(10_000);
  const [one, two] = [cache.newScope(), cache.newScope()];
  assert.notEqual(one, two);
  cache.insert('a', one, outputs(10));
  cache.insert('b', two, outputs(10));
  cache.insert('c', one, outputs(10));
  cache.dropScope(one);
  assert.deepEqual(['a', 'b', 'c'].map((k) => cache.lookup(k) !== undefined), [false, true, false]);
  assert.equal(cache.byteSize, 10 + OVERHEAD);
});

test('--cache-config: none is no cache; local,size=N is an N-byte cache; anything else fails start-up', () => {
  const settings = (entries: [string, [string, string][]][]) => new Map(entries.map(([k, v]) => [k, new Map(v)]));
  assert.equal(createResponseCache(new Map()), undefined);
  assert.equal(createResponseCache(settings([['local', [['size', '1048576']]]]))!.capacityBytes, 1048576);
  assert.equal(createResponseCache(settings([['local', [['size', '0'], ['other', 'x']]]]))!.capacityBytes, 0);
  const refused = (config: Map<string, Map<string, string>>, pattern: RegExp) =>
    assert.throws(
      () => createResponseCache(config),
      (error: unknown) => error instanceof ServerError && error.code === 'INVALID_ARG' && pattern.test(error.message),
    );
  refused(settings([['redis', [['host', 'h']]]]), /^--cache-config: cache 'redis' is not supported; the only cache is 'local'/);
  refused(settings([['local', [['size', '1']]], ['redis', [['host', 'h']]]]), /^--cache-config: found multiple cache configurations/);
  refused(settings([['local', [['other', '1']]]]), /^--cache-config: the 'local' cache needs 'size'.*got none/);
  refused(settings([['local', [['size', '1MB']]]]), /^--cache-config: the 'local' cache needs 'size'.*got '1MB'/);
  refused(settings([['local', [['size', '99999999999999999999']]]]), /needs 'size'/);
});
