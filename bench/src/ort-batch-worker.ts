/**
 * A worker thread of ort-batches.ts: owns one onnxruntime-node session of a model and, on each
 * {batch, ms} message, runs it back to back at that batch size for `ms` milliseconds, then answers
 * {runs, seconds}. The parent terminates it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { inputValues, type InputSpec } from './batching-models.js';

const { file, inputs, intra } = workerData as { file: string; inputs: InputSpec[]; intra: number };
const session = await ort.InferenceSession.create(file, { intraOpNumThreads: intra, interOpNumThreads: 1, executionMode: 'sequential' });

function feeds(batch: number): Record<string, ort.Tensor> {
  const entries = inputs.map((spec) => [spec.name, new ort.Tensor(spec.datatype === 'INT32' ? 'int32' : 'float32', inputValues(spec, batch), [batch, ...spec.dims])]);
  return Object.fromEntries(entries) as Record<string, ort.Tensor>;
}

parentPort?.on('message', async ({ batch, ms }: { batch: number; ms: number }) => {
  const batchFeeds = feeds(batch);
  await session.run(batchFeeds); // warm: the first run at a new shape plans its memory
  let runs = 0;
  const start = performance.now();
  // At least a few runs: one run of a slow model at a large batch outlasts a short window.
  while (performance.now() - start < ms || runs < 4) {
    await session.run(batchFeeds);
    runs += 1;
  }
  parentPort?.postMessage({ runs, seconds: (performance.now() - start) / 1000 });
});
parentPort?.postMessage('ready');
