/**
 * Entry point of a session worker thread: opens one session, runs it on request, releases it.
 * onnxruntime-node computes `session.run` synchronously on the calling thread, so a session in its
 * own worker is the only way two sessions compute at the same time without blocking the event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SessionRunner, type PlainTensor } from './session-runner.js';
import type { FromWorker, SessionWorkerData, ToWorker } from './worker-messages.js';

const port = parentPort;
if (port === null) throw new Error('session-worker.ts must run in a worker thread');
const data = workerData as SessionWorkerData;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  try {
    port?.postMessage(message, transfer);
  } catch (error) {
    // Buffers onnxruntime does not let go of (external memory) cannot move; copy them instead.
    if (transfer.length === 0) throw error;
    port?.postMessage(message);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Output buffers move to the main thread instead of being copied. */
function transferables(tensors: readonly PlainTensor[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of tensors) {
    if (Array.isArray(tensor.data)) continue;
    const { buffer } = tensor.data as Uint8Array;
    if (buffer instanceof ArrayBuffer) buffers.add(buffer);
  }
  return [...buffers];
}

async function main(): Promise<void> {
  let runner: SessionRunner;
  try {
    runner = await SessionRunner.open(data.modelPath, data.sessionOptions);
  } catch (error) {
    send({ kind: 'failed', message: messageOf(error) });
    return;
  }
  const inflight = new Set<Promise<void>>();
  port?.on('message', (message: ToWorker) => {
    if (message.kind === 'release') {
      // Runs already asked for finish first; the host sends nothing after 'release'.
      void Promise.allSettled(inflight)
        .then(() => runner.release())
        .finally(() => {
          send({ kind: 'released' });
          port.close();
        });
      return;
    }
    const run = runner
      .run(message.feeds, message.fetches, data.runOptions)
      .then((result) => send({ kind: 'result', id: message.id, result }, transferables(result.outputs)))
      .catch((error: unknown) => send({ kind: 'error', id: message.id, message: messageOf(error) }));
    inflight.add(run);
    void run.finally(() => inflight.delete(run));
  });
  send({ kind: 'ready', inputs: runner.inputs, outputs: runner.outputs });
}

void main();
