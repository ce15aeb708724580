import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { computeBudget } from '../../../src/backends/onnxruntime/native/compute-budget.js';
import { bytesOf, createInstance, loadModel, request, tensor, tensorsOf } from './onnxruntime-harness.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Input values point into memory the request lends them. A misaligned input is first copied into an
 * aligned buffer; that copy must live until the run ends, even when the run waits (here: for compute
 * tokens) while the garbage collector runs and the freed memory is reused.
 */
describe('onnxruntime engine: memory lent to a run', () => {
  it('keeps aligned copies of misaligned inputs alive until the run ends', async () => {
    const values = BigUint64Array.of(0n, 1n, 2n ** 63n, 42n, 7n, 2n ** 64n - 1n);
    const misaligned = Buffer.alloc(values.byteLength + 1).subarray(1);
    misaligned.set(bytesOf(values));
    for (let attempt = 0; attempt < 3; attempt++) {
      const loaded = await loadModel('identity_uint64');
      try {
        const instance = await createInstance(loaded);
        // Hold every compute token so the (first, off-thread) run waits with its inputs made.
        const held = await computeBudget.acquire(computeBudget.capacity);
        const running = instance.execute([request([tensor('INPUT0', 'UINT64', [1, 6], misaligned)], ['OUTPUT0'])]);
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        const churn = Array.from({ length: 20_000 }, () => new Uint8Array(new ArrayBuffer(values.byteLength)).fill(0xab));
        computeBudget.release(held);
        const [output] = tensorsOf((await running).responses[0]);
        assert.deepEqual(Buffer.from(output?.data ?? []), Buffer.from(bytesOf(values)), `attempt ${attempt}`);
        assert.equal(churn.length, 20_000);
      } finally {
        await loaded.model.close();
      }
    }
  });
});
