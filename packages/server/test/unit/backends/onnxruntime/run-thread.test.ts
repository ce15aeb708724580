import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runThreads } from '../../../../src/backends/onnxruntime/native/run-thread.js';
import { NativeOp } from '../../../../src/backends/onnxruntime/native/run-thread-protocol.js';

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

  // A run thread's late notify for one call (sent after it marked the call done) could wake the
  // wait of the next call on the same thread while that call still ran: the main thread took the
  // previous call's status and times for it, and read a run's outputs before the run wrote them (a
  // crash). A call's outcome must be its own: it started after it was made. Many small calls from
  // several callers at once, as a loaded server makes them.
  it("give each call its own outcome, never the previous call's, under many concurrent calls", async () => {
    const callers = 6;
    const deadline = Date.now() + 2000;
    let calls = 0;
    const stale: string[] = [];
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (Date.now() < deadline && stale.length === 0) {
          const madeAt = process.hrtime.bigint();
          // ReleaseValue(NULL) does nothing: the cheapest real call a run thread makes.
          const outcome = await runThreads.call({ op: NativeOp.ReleaseValue, args: [0n] });
          calls++;
          if (outcome.startedAtNs < madeAt) stale.push(`call ${calls}: started ${madeAt - outcome.startedAtNs} ns before it was made`);
        }
      }),
    );
    assert.deepEqual(stale, []);
    assert.ok(calls > 1000, `only ${calls} calls`);
  });
});

