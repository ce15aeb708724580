import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedulePrecise } from '../src/index.js';

const nowNs = (): number => Number(process.hrtime.bigint());

test('precise timers fire in due order, never early, and a cancelled one never fires', async () => {
  // The timer thread does not keep the process alive (in the server, sockets do); here this does.
  const keepAlive = setInterval(() => {}, 1000);
  // The first timer starts the thread (milliseconds); measure after that.
  await new Promise<void>((resolve) => schedulePrecise(0, resolve));
  const start = nowNs();
  const fired: Array<{ name: string; atNs: number }> = [];
  const done = new Promise<void>((resolve) => {
    schedulePrecise(300_000, () => {
      fired.push({ name: 'late', atNs: nowNs() });
      resolve();
    });
  });
  schedulePrecise(100_000, () => fired.push({ name: 'early', atNs: nowNs() }));
  const cancel = schedulePrecise(200_000, () => fired.push({ name: 'cancelled', atNs: nowNs() }));
  cancel();
  await done;
  clearInterval(keepAlive);
  assert.deepEqual(fired.map((f) => f.name), ['early', 'late']);
  assert.ok(fired[0]!.atNs - start >= 100_000, 'not before its 100 µs');
  assert.ok(fired[1]!.atNs - start >= 300_000, 'not before its 300 µs');
});
