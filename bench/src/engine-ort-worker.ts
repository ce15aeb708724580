/**
 * A worker thread of engine-ort.ts: owns one onnxruntime-node session of the engine model and runs
 * it each time the parent asks, answering with the run's time (µs). The parent terminates it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { WIDTH, engineInput } from './engine-model.js';

const { model, intra, batch } = workerData as { model: string; intra: number; batch: number };
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: intra, interOpNumThreads: 1, executionMode: 'sequential' });
const feeds = { INPUT0: new ort.Tensor('float32', engineInput(batch), [batch, WIDTH]) };
parentPort?.on('message', async () => {
  const start = process.hrtime.bigint();
  await session.run(feeds);
  parentPort?.postMessage(Number(process.hrtime.bigint() - start) / 1000);
});
parentPort?.postMessage('ready');
