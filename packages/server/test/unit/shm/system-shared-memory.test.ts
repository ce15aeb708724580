import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { ServerError } from '../../../src/errors/index.js';
import { SystemSharedMemoryManager } from '../../../src/shm/system-shared-memory.js';

/** Creates a real POSIX shm object (a file under /dev/shm) filled with 0..n-1. */
function makeShm(size: number): { key: string; path: string } {
  const key = `/nereid-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const path = `/dev/shm${key}`;
  writeFileSync(path, Buffer.from(Array.from({ length: size }, (_, i) => i % 256)));
  return { key, path };
}

function code(error: unknown): string | undefined {
  return error instanceof ServerError ? error.code : undefined;
}

test('register, status, read and write within bounds, unregister', () => {
  const shm = makeShm(64);
  const manager = new SystemSharedMemoryManager();
  manager.register('r', shm.key, 16, 32);
  assert.deepEqual(manager.status(''), [{ name: 'r', key: shm.key, offset: 16, byte_size: 32 }]);
  const handle = manager.acquire('r');
  assert.deepEqual([...handle.read(0, 4)], [16, 17, 18, 19]);
  handle.write(28, Buffer.from([9, 9, 9, 9]));
  assert.deepEqual([...readFileSync(shm.path).subarray(44, 48)], [9, 9, 9, 9]);
  assert.throws(() => handle.read(30, 4), (e) => code(e) === 'INVALID_ARG' && /Invalid offset \+ byte size/.test(String(e)));
  assert.throws(() => handle.read(32, 0), (e) => code(e) === 'INVALID_ARG' && /Invalid offset for/.test(String(e)));
  handle.release();
  manager.unregister('r');
  assert.deepEqual(manager.status(''), []);
  assert.throws(() => manager.status('r'), (e) => code(e) === 'NOT_FOUND');
  unlinkSync(shm.path);
});

test('registration errors: duplicate name, missing key, region past the end, reserved prefix', () => {
  const shm = makeShm(16);
  const manager = new SystemSharedMemoryManager();
  manager.register('a', shm.key, 0, 16);
  assert.throws(() => manager.register('a', shm.key, 0, 8), (e) => code(e) === 'ALREADY_EXISTS');
  assert.throws(() => manager.register('b', '/nereid-no-such-key', 0, 8), (e) => code(e) === 'INTERNAL' && /Unable to open/.test(String(e)));
  assert.throws(() => manager.register('c', shm.key, 8, 16), (e) => code(e) === 'INVALID_ARG');
  assert.throws(() => manager.register('d', '/../etc/passwd', 0, 1), (e) => code(e) === 'INTERNAL' && (e as Error).message === "Unable to open shared memory region: '/../etc/passwd'");
  assert.throws(() => manager.register('e', '/triton_python_backend_shm_region_x', 0, 1), (e) => code(e) === 'INVALID_ARG');
  manager.unregisterAll();
  unlinkSync(shm.path);
});

test('a region unregistered or truncated while a request holds it fails cleanly, never crashes', () => {
  const shm = makeShm(32);
  const manager = new SystemSharedMemoryManager();
  manager.register('r', shm.key, 0, 32);
  const handle = manager.acquire('r');
  manager.unregister('r');
  unlinkSync(shm.path);
  assert.equal(handle.read(0, 2)[1], 1, 'the borrowed descriptor still reads after unregister and unlink');
  assert.throws(() => manager.acquire('r'), (e) => code(e) === 'NOT_FOUND');
  handle.release();

  const short = makeShm(32);
  manager.register('s', short.key, 0, 32);
  truncateSync(short.path, 8);
  const borrowed = manager.acquire('s');
  assert.throws(() => borrowed.read(0, 16), (e) => code(e) === 'INVALID_ARG' && /truncated/.test(String(e)));
  assert.throws(() => borrowed.write(0, new Uint8Array(16)), (e) => code(e) === 'INVALID_ARG' && /truncated/.test(String(e)));
  borrowed.release();
  manager.unregisterAll();
  unlinkSync(short.path);
});
