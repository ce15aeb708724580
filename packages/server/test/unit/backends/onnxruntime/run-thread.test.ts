import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runThreads } from '../../../../src/backends/onnxruntime/native/run-thread.js';
import type { NativeOp } from '../../../../src/backends/onnxruntime/native/run-thread-protocol.js';

describe('run threads', () => {
  it('reject a call the thread cannot make, and keep serving', async () => {
    await assert.rejects(runThreads.call({ op: 99 as NativeOp, args: [] }), /could not make native call 99/);
    await assert.rejects(runThreads.call({ op: 99 as NativeOp, args: [] }), /could not make native call 99/);
    assert.ok(runThreads.size >= 1);
  });

  it('refuse more arguments than a call can carry', async () => {
    await assert.rejects(
      runThreads.call({ op: 1 as NativeOp, args: Array.from({ length: 9 }, () => 0n) }),
      /at most 8 arguments/,
    );
  });
});
