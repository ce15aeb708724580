/**
 * BF16 graph inputs and outputs through onnxruntime-node, which has no bfloat16 tensor type (it
 * refuses to even open a session whose inputs or outputs are bfloat16: "Unsupported data type: 16").
 *
 * bfloat16 is the upper half of a float32, so float32 carries it exactly. The model is patched in
 * memory: each bfloat16 graph input `X` becomes a float32 input `X<suffix>` feeding `Cast(to=BF16)`
 * whose output is the original `X`; each bfloat16 graph output `Y` gets `Cast(Y, to=FLOAT)` exposed
 * as the float32 output `Y<suffix>`. Nodes keep their names, so nothing else in the graph changes.
 * The runner widens BF16 bits to float32 on input and keeps the upper 16 bits on output.
 */
import {
  encodeBytesField,
  encodeVarintField,
  findField,
  payload,
  readFields,
  stringValue,
  varintValue,
  type WireField,
} from './protobuf-wire.js';

/** Field numbers from onnx.proto. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_NAME = 8;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_TYPE_ELEM_TYPE = 1;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_I = 3;
const ATTRIBUTE_TYPE = 20;
const ATTRIBUTE_TYPE_INT = 2;
const ELEM_FLOAT = 1;
const ELEM_BFLOAT16 = 16;

/** Appended to the names of the float32 stand-ins. */
export const BF16_SUFFIX = '__nereid_bf16_as_fp32';

/** A patched model and which tensors it carries as float32. */
export interface Bf16Bridge {
  readonly model: Uint8Array;
  /** Original input names (bfloat16 in the model) whose session input is `name + BF16_SUFFIX`. */
  readonly inputs: ReadonlySet<string>;
  /** Original output names whose session output is `name + BF16_SUFFIX`. */
  readonly outputs: ReadonlySet<string>;
}

/** The error message onnxruntime-node gives for a bfloat16 graph input or output. */
export function isBf16Refusal(error: unknown): boolean {
  return error instanceof Error && /Unsupported data type: 16\b/.test(error.message);
}

/** Patches a serialized ModelProto; undefined when no graph input or output is bfloat16. */
export function bridgeBf16(model: Uint8Array): Bf16Bridge | undefined {
  const modelFields = readFields(model);
  const graphField = findField(modelFields, MODEL_GRAPH);
  if (graphField === undefined) return undefined;
  const graph = payload(model, graphField);
  const graphFields = readFields(graph);
  const initializers = initializerNames(graph, graphFields);
  const inputs = new Set<string>();
  const outputs = new Set<string>();
  const patched: Uint8Array[] = [];
  for (const field of graphFields) {
    const isIo = field.number === GRAPH_INPUT || field.number === GRAPH_OUTPUT;
    const info = isIo ? bf16ValueInfoName(payload(graph, field)) : undefined;
    if (info === undefined || (field.number === GRAPH_INPUT && initializers.has(info))) {
      patched.push(graph.subarray(field.start, field.end));
      continue;
    }
    (field.number === GRAPH_INPUT ? inputs : outputs).add(info);
    patched.push(encodeBytesField(field.number, asFloatValueInfo(payload(graph, field), info + BF16_SUFFIX)));
  }
  if (inputs.size === 0 && outputs.size === 0) return undefined;
  const head = [...inputs].map((name) => castNode(name + BF16_SUFFIX, name, ELEM_BFLOAT16));
  const tail = [...outputs].map((name) => castNode(name, name + BF16_SUFFIX, ELEM_FLOAT));
  const newGraph = Buffer.concat([...head, ...patched, ...tail]);
  const parts = modelFields.map((field) =>
    field === graphField
      ? encodeBytesField(MODEL_GRAPH, newGraph)
      : model.subarray(field.start, field.end),
  );
  return { model: Buffer.concat(parts), inputs, outputs };
}

function initializerNames(graph: Uint8Array, fields: readonly WireField[]): Set<string> {
  const names = new Set<string>();
  for (const field of fields) {
    if (field.number !== GRAPH_INITIALIZER) continue;
    const tensor = payload(graph, field);
    const name = findField(readFields(tensor), TENSOR_NAME);
    if (name !== undefined) names.add(stringValue(tensor, name));
  }
  return names;
}

/** The name of a ValueInfoProto whose tensor element type is bfloat16, else undefined. */
function bf16ValueInfoName(info: Uint8Array): string | undefined {
  const fields = readFields(info);
  const nameField = findField(fields, VALUE_INFO_NAME);
  const typeField = findField(fields, VALUE_INFO_TYPE);
  if (nameField === undefined || typeField === undefined) return undefined;
  const type = payload(info, typeField);
  const tensorField = findField(readFields(type), TYPE_TENSOR);
  if (tensorField === undefined) return undefined;
  const tensor = payload(type, tensorField);
  const elemField = findField(readFields(tensor), TENSOR_TYPE_ELEM_TYPE);
  if (elemField === undefined || varintValue(tensor, elemField) !== ELEM_BFLOAT16) return undefined;
  return stringValue(info, nameField);
}

/** The same ValueInfoProto renamed, with element type FLOAT. */
function asFloatValueInfo(info: Uint8Array, name: string): Uint8Array {
  return rewrite(info, (field, bytes) => {
    if (field.number === VALUE_INFO_NAME) return encodeBytesField(VALUE_INFO_NAME, name);
    if (field.number !== VALUE_INFO_TYPE) return undefined;
    const type = rewrite(payload(bytes, field), (typeField, typeBytes) => {
      if (typeField.number !== TYPE_TENSOR) return undefined;
      const tensor = rewrite(payload(typeBytes, typeField), (tensorField) =>
        tensorField.number === TENSOR_TYPE_ELEM_TYPE
          ? encodeVarintField(TENSOR_TYPE_ELEM_TYPE, ELEM_FLOAT)
          : undefined,
      );
      return encodeBytesField(TYPE_TENSOR, tensor);
    });
    return encodeBytesField(VALUE_INFO_TYPE, type);
  });
}

/** Re-encodes a message, replacing the fields for which `patch` returns bytes. */
function rewrite(
  message: Uint8Array,
  patch: (field: WireField, message: Uint8Array) => Uint8Array | undefined,
): Uint8Array {
  const parts = readFields(message).map(
    (field) => patch(field, message) ?? message.subarray(field.start, field.end),
  );
  return Buffer.concat(parts);
}

/** A graph `node` field: Cast(input) -> output with attribute to=`to`. */
function castNode(input: string, output: string, to: number): Uint8Array {
  const attribute = Buffer.concat([
    encodeBytesField(ATTRIBUTE_NAME, 'to'),
    encodeVarintField(ATTRIBUTE_I, to),
    encodeVarintField(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INT),
  ]);
  const node = Buffer.concat([
    encodeBytesField(NODE_INPUT, input),
    encodeBytesField(NODE_OUTPUT, output),
    encodeBytesField(NODE_NAME, `${output}${BF16_SUFFIX}_cast`),
    encodeBytesField(NODE_OP_TYPE, 'Cast'),
    encodeBytesField(NODE_ATTRIBUTE, attribute),
  ]);
  return encodeBytesField(GRAPH_NODE, node);
}
