import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseModelConfig } from '../../../src/config/read-config.js';
import { ServerError } from '../../../src/errors/index.js';
import { buildWarmupSamples, type WarmupSample } from '../../../src/model/warmup-samples.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { buildModelSignature } from '../../../src/request/model-signature.js';

const IO = `
input [ { name: "F" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "S" data_type: TYPE_STRING dims: [ 3 ] } ]
output [ { name: "O" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

/** Samples of a model `m` with `io` and `warmup` (config.pbtxt text), `files` under its warmup/ folder. */
async function samples(maxBatchSize: number, warmup: string, files: Record<string, Uint8Array> = {}, io = IO): Promise<WarmupSample[]> {
  const modelDir = mkdtempSync(join(tmpdir(), 'nereid-warmup-unit-'));
  mkdirSync(join(modelDir, 'warmup'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(modelDir, 'warmup', name), data);
  const config = parseModelConfig(`name: "m"\nmax_batch_size: ${maxBatchSize}\n${io}\nmodel_warmup [ ${warmup} ]`, 'config.pbtxt');
  return buildWarmupSamples({ config, signature: buildModelSignature(config), version: 1n, modelDir, logger: silentLogger });
}

function input(sample: WarmupSample, name: string) {
  const tensor = sample.requests[0]!.inputs.find((candidate) => candidate.name === name);
  assert.ok(tensor, `input ${name}`);
  return tensor;
}

async function refused(maxBatchSize: number, warmup: string, message: string): Promise<void> {
  await assert.rejects(samples(maxBatchSize, warmup), (error: unknown) => error instanceof ServerError && error.message === message);
}

test('zero_data and random_data: zeros, random bytes, and empty strings for BYTES either way', async () => {
  const [zero, random] = await samples(
    4,
    `{ name: "z" batch_size: 2 inputs { key: "F" value { data_type: TYPE_FP32 dims: [ 16 ] zero_data: true } }
                                inputs { key: "S" value { data_type: TYPE_STRING dims: [ 3 ] random_data: true } } },
     { name: "r" batch_size: 1 count: 0 inputs { key: "F" value { data_type: TYPE_FP32 dims: [ 16 ] random_data: true } }
                                         inputs { key: "S" value { data_type: TYPE_STRING dims: [ 3 ] zero_data: false } } }`,
  );
  assert.equal(zero!.requests.length, 2);
  assert.equal(zero!.count, 1);
  assert.deepEqual(input(zero!, 'F').shape, [1, 16]);
  assert.deepEqual([...input(zero!, 'F').data], new Array(64).fill(0));
  // Three empty strings: a zero length prefix each.
  assert.deepEqual([...input(zero!, 'S').data], new Array(12).fill(0));
  assert.equal(random!.count, 1, 'count 0 runs once');
  assert.equal(input(random!, 'F').data.byteLength, 64);
  assert.ok(input(random!, 'F').data.some((byte) => byte !== 0), 'random bytes');
  assert.deepEqual([...input(random!, 'S').data], new Array(12).fill(0), 'zero_data: false still means zeros, as in Triton');
});

test('input_data_file: the first bytes of a longer file; BYTES files whole; a model that does not batch gets no batch dim', async () => {
  const floats = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
  const strings = Buffer.from([1, 0, 0, 0, 0x61, 0, 0, 0, 0, 2, 0, 0, 0, 0x62, 0x63]);
  const [sample] = await samples(
    0,
    `{ name: "f" batch_size: 1 inputs { key: "F" value { data_type: TYPE_FP32 dims: [ 4 ] input_data_file: "floats" } }
                                inputs { key: "S" value { data_type: TYPE_STRING dims: [ 3 ] input_data_file: "strings" } } }`,
    { floats, strings },
  );
  assert.deepEqual(input(sample!, 'F').shape, [4]);
  assert.deepEqual([...new Float32Array(Uint8Array.from(input(sample!, 'F').data).buffer)], [1, 2, 3, 4]);
  assert.deepEqual(Buffer.from(input(sample!, 'S').data), strings);
});

test('names that are not model inputs (sequence controls) go to the backend with a batch dim when the model batches', async () => {
  const [sample] = await samples(
    8,
    `{ name: "seq" batch_size: 3 inputs { key: "F" value { data_type: TYPE_FP32 dims: [ 2 ] zero_data: true } }
                                  inputs { key: "S" value { data_type: TYPE_STRING dims: [ 3 ] zero_data: true } }
                                  inputs { key: "START" value { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true } } }`,
  );
  assert.equal(sample!.requests.length, 3);
  assert.deepEqual(
    sample!.requests[2]!.inputs.map((tensor) => [tensor.name, tensor.datatype, tensor.shape]),
    [
      ['F', 'FP32', [1, 2]],
      ['S', 'BYTES', [1, 3]],
      ['START', 'INT32', [1, 1]],
    ],
  );
  assert.deepEqual(sample!.requests[0]!.requestedOutputs.map((output) => output.name), ['O'], 'every output, as a request naming none');
});

test("Triton's sizing errors: no data type, bad dims, int64 overflow, beyond a buffer", async () => {
  const one = (value: string) => `{ name: "x" batch_size: 1 inputs { key: "F" value { ${value} } } }`;
  await refused(4, one('dims: [ 4 ] zero_data: true'), "warmup setting expects all variable-size dimensions are specified for input 'F'");
  await refused(4, one('data_type: TYPE_FP32 dims: [ 4, -3 ] zero_data: true'), "tensor 'F' contains an invalid dimension [4,-3]");
  await refused(
    4,
    one('data_type: TYPE_STRING dims: [ -3 ] zero_data: true'),
    "tensor 'F' contains an invalid dimension in shape [-3]",
  );
  await refused(
    4,
    one('data_type: TYPE_FP64 dims: [ 4294967296, 4294967296 ] zero_data: true'),
    "byte size for tensor 'F' exceeds maximum size of 9223372036854775807",
  );
  await assert.rejects(samples(4, one('data_type: TYPE_FP32 dims: [ 4294967296, 4 ] zero_data: true')), /needs 68719476736 bytes, more than one buffer can hold/);
});
