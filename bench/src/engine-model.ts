/**
 * A compute-bound FP32 model built in memory for the engine, lag and load benchmarks: a chain of
 * MatMuls, each with its own WIDTH×WIDTH fp32 weight (16 MiB at 2048), on a [batch, WIDTH] input:
 * INPUT0 → MatMul W0 (× repeat) → … → MatMul W(n-1) (× repeat) → OUTPUT0. Applying each weight
 * `repeat` times makes runs long (tens of ms) while requests stay small, so the benchmarks measure
 * the engine rather than the copying of large tensors. Encoded with the server's protobuf-wire helpers
 * (as onnxruntime-sessions.test.ts does), written to a temporary model repository with a config.pbtxt.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBytesField, encodeVarintField } from '../../packages/server/dist/src/backends/onnxruntime/protobuf-wire.js';
import { binaryCall } from './infer-calls.js';
import type { HttpCall } from './load.js';

export const WIDTH = 2048;
export const MIB = 2 ** 20;

/** Weight bytes of a chain of `layers` MatMuls. */
export function weightBytes(layers: number): number {
  return layers * WIDTH * WIDTH * 4;
}

const FLOAT = 1;

function valueInfo(name: string, dims: ReadonlyArray<number | string>): Uint8Array {
  const dim = (value: number | string): Uint8Array =>
    encodeBytesField(1, typeof value === 'number' ? encodeVarintField(1, value) : encodeBytesField(2, value));
  const shape = Buffer.concat(dims.map(dim));
  const tensorType = Buffer.concat([encodeVarintField(1, FLOAT), encodeBytesField(2, shape)]);
  return Buffer.concat([encodeBytesField(1, name), encodeBytesField(2, encodeBytesField(1, tensorType))]);
}

/**
 * The ONNX ModelProto (IR 8, opset 13). Weights are small and mean-zero (|w| ≤ 6/(6·WIDTH)), so
 * activations stay finite and normal through the chain; layer `l` is offset so no two weights share bytes.
 */
export function matmulChainModel(layers: number, repeat = 1): Buffer {
  const parts: Uint8Array[] = [];
  const steps = layers * repeat;
  const name = (step: number): string => (step === 0 ? 'INPUT0' : step === steps ? 'OUTPUT0' : `H${step}`);
  for (let step = 0; step < steps; step++) {
    parts.push(
      encodeBytesField(
        1,
        Buffer.concat([
          encodeBytesField(1, name(step)),
          encodeBytesField(1, `W${Math.floor(step / repeat)}`),
          encodeBytesField(2, name(step + 1)),
          encodeBytesField(3, `matmul${step}`),
          encodeBytesField(4, 'MatMul'),
        ]),
      ),
    );
  }
  parts.push(encodeBytesField(2, 'matmul_chain'));
  for (let l = 0; l < layers; l++) {
    // Period 13: write one period, then keep doubling the filled prefix (a multiple of 13 long).
    const weight = new Float32Array(WIDTH * WIDTH);
    for (let i = 0; i < 13; i++) weight[i] = (((i + 5 * l) % 13) - 6) / (6 * WIDTH);
    for (let filled = 13; filled < weight.length; filled *= 2) weight.copyWithin(filled, 0, filled);
    parts.push(
      encodeBytesField(
        5,
        Buffer.concat([
          encodeVarintField(1, WIDTH),
          encodeVarintField(1, WIDTH),
          encodeVarintField(2, FLOAT),
          encodeBytesField(8, `W${l}`),
          encodeBytesField(9, new Uint8Array(weight.buffer)),
        ]),
      ),
    );
  }
  parts.push(encodeBytesField(11, valueInfo('INPUT0', ['batch', WIDTH])));
  parts.push(encodeBytesField(12, valueInfo('OUTPUT0', ['batch', WIDTH])));
  const graph = Buffer.concat(parts);
  return Buffer.concat([encodeVarintField(1, 8), encodeBytesField(8, encodeVarintField(2, 13)), encodeBytesField(7, graph)]);
}

/** config.pbtxt of the model: `count` CPU instances (omitted: Nereid's default), extra lines appended. */
export function engineConfig(name: string, count: number | undefined, extra: readonly string[] = []): string {
  return [
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 64',
    count === undefined ? '' : `instance_group [ { kind: KIND_CPU count: ${count} } ]`,
    ...extra,
  ].join('\n');
}

/** Writes the model as `<repository>/<name>/1/model.onnx`; returns the model file's path. */
export function writeModel(repository: string, name: string, model: Uint8Array, config: string): string {
  mkdirSync(join(repository, name, '1'), { recursive: true });
  const file = join(repository, name, '1', 'model.onnx');
  writeFileSync(file, model);
  writeFileSync(join(repository, name, 'config.pbtxt'), config);
  return file;
}

const temporary: string[] = [];

/** A fresh temporary folder (a model repository), removed by removeTempRepositories. */
export function tempRepository(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(folder);
  return folder;
}

/** Removes every folder tempRepository made (the models are 64–128 MiB each). */
export function removeTempRepositories(): void {
  for (const folder of temporary.splice(0)) rmSync(folder, { recursive: true, force: true });
}

/** A deterministic [batch, WIDTH] input. */
export function engineInput(batch: number): Float32Array {
  return new Float32Array(batch * WIDTH).map((_, i) => ((i % 17) - 8) / 8);
}

/** The binary-extension infer request for `model` with a [batch, WIDTH] input. */
export function engineCall(model: string, batch: number): HttpCall {
  const input = engineInput(batch);
  return binaryCall(model, [{ name: 'INPUT0', datatype: 'FP32', shape: [batch, WIDTH], data: Buffer.from(input.buffer) }], ['OUTPUT0']);
}
