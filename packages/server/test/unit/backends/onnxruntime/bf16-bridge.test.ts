import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { BF16_SUFFIX, bridgeBf16, isBf16Refusal } from '../../../../src/backends/onnxruntime/bf16-bridge.js';
import {
  encodeBytesField,
  encodeVarintField,
  findField,
  payload,
  readFields,
  stringValue,
  varintValue,
} from '../../../../src/backends/onnxruntime/protobuf-wire.js';
import { fixtureModelFile } from './fixtures.js';

/** Names and element types of a serialized graph's inputs (11) or outputs (12), and its node ops. */
function describeGraph(model: Uint8Array): { inputs: string[]; outputs: string[]; ops: string[] } {
  const graphField = findField(readFields(model), 7);
  assert.ok(graphField);
  const graph = payload(model, graphField);
  const io = (number: number): string[] =>
    readFields(graph)
      .filter((field) => field.number === number)
      .map((field) => {
        const info = payload(graph, field);
        const fields = readFields(info);
        const type = payload(info, findField(fields, 2)!);
        const tensor = payload(type, findField(readFields(type), 1)!);
        const elem = varintValue(tensor, findField(readFields(tensor), 1)!);
        return `${stringValue(info, findField(fields, 1)!)}:${elem}`;
      });
  const ops = readFields(graph)
    .filter((field) => field.number === 1)
    .map((field) => {
      const node = payload(graph, field);
      return stringValue(node, findField(readFields(node), 4)!);
    });
  return { inputs: io(11), outputs: io(12), ops };
}

describe('protobuf wire helpers', () => {
  it('encodes and reads varints, strings and nested messages', () => {
    const inner = Buffer.concat([encodeBytesField(1, 'héllo'), encodeVarintField(2, 300)]);
    const big = 2 ** 40 + 5;
    const outer = Buffer.concat([encodeVarintField(1, big), encodeBytesField(7, inner)]);
    const fields = readFields(outer);
    assert.equal(varintValue(outer, fields[0]!), big);
    const nested = payload(outer, findField(fields, 7)!);
    const nestedFields = readFields(nested);
    assert.equal(stringValue(nested, nestedFields[0]!), 'héllo');
    assert.equal(varintValue(nested, nestedFields[1]!), 300);
  });

  it('refuses truncated messages', () => {
    assert.throws(() => readFields(Uint8Array.of(0x3a, 10, 1)), /truncated/);
    assert.throws(() => readFields(Uint8Array.of(0x08, 0x80)), /varint/);
  });
});

describe('BF16 bridge', () => {
  it('rewrites bfloat16 graph inputs and outputs as float32 with Cast nodes', async () => {
    const model = await readFile(fixtureModelFile('identity_bf16'));
    const bridge = bridgeBf16(model);
    assert.ok(bridge);
    assert.deepEqual([...bridge.inputs], ['INPUT0']);
    assert.deepEqual([...bridge.outputs], ['OUTPUT0']);
    const graph = describeGraph(bridge.model);
    assert.deepEqual(graph.inputs, [`INPUT0${BF16_SUFFIX}:1`]);
    assert.deepEqual(graph.outputs, [`OUTPUT0${BF16_SUFFIX}:1`]);
    assert.deepEqual(graph.ops, ['Cast', 'Identity', 'Cast']);
    assert.deepEqual(describeGraph(model).inputs, ['INPUT0:16']);
  });

  it('leaves models without bfloat16 inputs or outputs alone', async () => {
    assert.equal(bridgeBf16(await readFile(fixtureModelFile('identity_fp16'))), undefined);
  });

  it("recognises onnxruntime-node's refusal of bfloat16", () => {
    assert.equal(isBf16Refusal(new Error('Unsupported data type: 16')), true);
    assert.equal(isBf16Refusal(new Error('Unsupported data type: 1')), false);
    assert.equal(isBf16Refusal('Unsupported data type: 16'), false);
  });
});
