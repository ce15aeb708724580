import { constants as h2, type ClientHttp2Session } from 'node:http2';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { mutateBytes, Random } from '../../helpers/fuzz-random.js';
import { DATATYPES, MAX_ERROR_BYTES, MODELS, MODEL_FAILURE, REPLY_TIMEOUT_MS, validTensors, wireBytes } from './fuzz-values.js';

/** The fuzz test's gRPC cases (fuzz.test.ts): wrong-but-well-formed messages and raw frames. */

// ---------------------------------------------------------------------------------------------
// gRPC cases

export type InferInit = MessageInitShape<typeof ModelInferRequestSchema>;
export type TensorInit = NonNullable<InferInit['inputs']>[number];
export type ParameterInit = NonNullable<TensorInit['parameters']>[string];
export type ContentsInit = NonNullable<TensorInit['contents']>;
export interface MutableTensor {
  name?: string;
  datatype?: string;
  shape?: bigint[];
  parameters?: Record<string, ParameterInit>;
  contents?: ContentsInit;
}

export function validGrpcInfer(r: Random): InferInit {
  const model = r.pick(MODELS);
  const tensors = validTensors(r, model);
  const raw = r.chance(0.5);
  return {
    modelName: model,
    inputs: tensors.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape.map(BigInt),
      contents: raw
        ? undefined
        : t.datatype === 'INT32'
          ? { intContents: t.values.map(Number) }
          : t.datatype === 'FP32'
            ? { fp32Contents: t.values.map(Number) }
            : { bytesContents: t.values.map((v) => Buffer.from(String(v))) },
    })),
    rawInputContents: raw ? tensors.map(wireBytes) : [],
  };
}

export const BIG_SHAPE = [0n, 1n, 1n, 2n, 8n, 9n, 16n, 16n, -1n, -2n, 2n ** 31n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];

export function randomParameter(r: Random): ParameterInit {
  const choice = r.pick<() => NonNullable<ParameterInit['parameterChoice']>>([
    () => ({ case: 'boolParam', value: r.chance(0.5) }),
    () => ({ case: 'int64Param', value: r.pick([0n, 1n, -1n, 64n, 2n ** 62n, -(2n ** 63n)]) }),
    () => ({ case: 'stringParam', value: r.chance(0.1) ? 's'.repeat(100_000) : r.text(r.int(12)) }),
    () => ({ case: 'doubleParam', value: r.pick([Number.NaN, Infinity, -0, 1.5, 1e300]) }),
    () => ({ case: 'uint64Param', value: r.pick([0n, 2n ** 64n - 1n, 64n]) }),
    () => ({ case: undefined }),
  ])();
  return { parameterChoice: choice };
}

export const PARAMETER_KEYS = [
  'sequence_id', 'sequence_start', 'sequence_end', 'priority', 'timeout', 'binary_data_output', 'binary_data_size',
  'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', 'classification', 'binary_data', '', 'x',
];

export function randomParameters(r: Random): Record<string, ParameterInit> {
  const parameters: Record<string, ParameterInit> = {};
  for (let i = r.range(1, 3); i > 0; i--) parameters[r.chance(0.9) ? r.pick(PARAMETER_KEYS) : r.text(8)] = randomParameter(r);
  return parameters;
}

export function randomContents(r: Random): ContentsInit {
  const contents: ContentsInit = {};
  const count = (): number => (r.chance(0.02) ? 200_000 : r.int(20));
  for (let i = r.range(1, 2); i > 0; i--) {
    const n = count();
    switch (r.int(8)) {
      case 0: contents.boolContents = Array.from({ length: n }, () => r.chance(0.5)); break;
      case 1: contents.intContents = Array.from({ length: n }, () => r.range(-(2 ** 31), 2 ** 31 - 1)); break;
      case 2: contents.int64Contents = Array.from({ length: n }, () => r.pick(BIG_SHAPE)); break;
      case 3: contents.uintContents = Array.from({ length: n }, () => r.int(2 ** 32)); break;
      case 4: contents.uint64Contents = Array.from({ length: n }, () => r.pick([0n, 1n, 2n ** 64n - 1n])); break;
      case 5: contents.fp32Contents = Array.from({ length: n }, () => r.pick([0, 1.5, Number.NaN, -Infinity, 3.4e38])); break;
      case 6: contents.fp64Contents = Array.from({ length: n }, () => r.pick([0, 1e308, Number.NaN, -0])); break;
      default: contents.bytesContents = Array.from({ length: Math.min(n, 50) }, () => r.bytes(r.int(12)));
    }
  }
  return contents;
}

/** A valid request with 1–3 fields made wrong. */
export function grpcMessageCase(r: Random): InferInit {
  const request = validGrpcInfer(r);
  const inputs = [...(request.inputs ?? [])] as MutableTensor[];
  const mutable = request as { -readonly [K in keyof InferInit]: InferInit[K] };
  for (let e = r.range(1, 3); e > 0; e--) {
    const at = r.int(Math.max(inputs.length, 1));
    const tensor = (inputs[at] ??= { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] });
    switch (r.int(13)) {
      case 0: mutable.modelName = r.pick(['', r.text(r.int(20)), 'x'.repeat(100_000), 'simple_int8', 'add_sub_no_config']); break;
      case 1: mutable.modelVersion = r.pick(['1', '0', '-1', '2', 'abc', '99999999999999999999', ' 1']); break;
      case 2: mutable.id = r.chance(0.2) ? 'i'.repeat(100_000) : r.text(r.int(20)); break;
      case 3: mutable.parameters = randomParameters(r); break;
      case 4: tensor.shape = Array.from({ length: r.chance(0.05) ? 200 : r.int(5) }, () => r.pick(BIG_SHAPE)); break;
      case 5: tensor.datatype = r.pick(DATATYPES); break;
      case 6: tensor.name = r.pick(['INPUT0', 'INPUT1', 'OUTPUT0', '', r.text(6), 'n'.repeat(50_000)]); break;
      case 7: tensor.contents = randomContents(r); break;
      case 8: tensor.parameters = randomParameters(r); break;
      case 9: mutable.rawInputContents = Array.from({ length: r.int(4) }, () => r.bytes(r.chance(0.1) ? r.pick([64, 63, 65]) : r.int(300))); break;
      case 10: inputs.splice(at, 1, ...(r.chance(0.5) ? [] : [tensor, tensor])); break;
      case 11: mutable.outputs = Array.from({ length: r.range(1, 3) }, () => ({ name: r.pick(['OUTPUT0', 'OUTPUT1', 'INPUT0', r.text(5)]), parameters: r.chance(0.5) ? randomParameters(r) : {} })); break;
      default: inputs.push({ name: r.text(4), datatype: r.pick(DATATYPES), shape: [r.pick(BIG_SHAPE)], contents: randomContents(r) });
    }
  }
  mutable.inputs = inputs as TensorInit[];
  return request;
}

export const PROTO_TOKENS: readonly Uint8Array[] = [
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // a 10-byte varint
  Buffer.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // raw_input_contents claiming 4 GiB
  Buffer.from([0x2a, 0xff, 0xff, 0xff, 0x7f]), // an input claiming 256 MiB
  Buffer.from([0x9b, 0x06]), // start group 99
  Buffer.from([0x9c, 0x06]), // end group 99
  Buffer.from([0x00]), // field number 0
  Buffer.from([0x0e]), // wire type 6
  Buffer.from([0x0f]), // wire type 7
  Buffer.from([0x1a, 0x0a, 0x01, 0x10]), // packed shape with a short body
  Buffer.from([0x2a, 0x05, 0x2a, 0x03, 0x2a, 0x01, 0x2a]), // nested inputs running past their parent
  Buffer.from(Array.from({ length: 4000 }, (_, i) => (i % 2 === 0 ? 0x9b : 0x06))), // 2000 nested groups
];

export interface GrpcFrameCase {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly chunks: Buffer[];
  /** The ModelInfer message, when it arrives whole in one uncompressed frame. */
  readonly message?: Buffer;
}

/** Whether protobuf-es decodes `bytes` as a ModelInferRequest (the server's own decoder). */
export function decodable(bytes: Buffer): boolean {
  try {
    fromBinary(ModelInferRequestSchema, bytes);
    return true;
  } catch {
    return false;
  }
}

export const INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
export const UNARY_PATHS = [
  '/inference.GRPCInferenceService/ModelMetadata',
  '/inference.GRPCInferenceService/ModelReady',
  '/inference.GRPCInferenceService/ModelConfig',
  '/inference.GRPCInferenceService/ModelStatistics',
  '/inference.GRPCInferenceService/ServerMetadata',
  '/inference.GRPCInferenceService/RepositoryIndex',
  '/inference.GRPCInferenceService/RepositoryModelUnload',
  '/inference.GRPCInferenceService/SystemSharedMemoryStatus',
  '/inference.GRPCInferenceService/SystemSharedMemoryUnregister',
  '/inference.GRPCInferenceService/ModelStreamInfer',
  '/inference.GRPCInferenceService/NoSuchMethod',
  '/grpc.health.v1.Health/Check',
];

export function grpcFrameCase(r: Random): GrpcFrameCase {
  const valid = (): Buffer => Buffer.from(toBinary(ModelInferRequestSchema, create(ModelInferRequestSchema, validGrpcInfer(r))));
  const message = r.weighted<() => Buffer>([
    [5, () => mutateBytes(r, valid(), PROTO_TOKENS)],
    [3, () => Buffer.from(toBinary(ModelInferRequestSchema, create(ModelInferRequestSchema, grpcMessageCase(r))))],
    [2, () => r.bytes(r.int(300))],
    [1, () => Buffer.concat([valid(), r.pick(PROTO_TOKENS)])],
    [1, () => Buffer.concat([r.pick(PROTO_TOKENS), valid()])],
    [1, () => valid()],
  ])();
  const flag = r.weighted([[20, 0], [1, 1], [1, r.int(256)]]);
  const length = r.weighted<number>([
    [20, message.length],
    [1, Math.max(0, message.length + r.range(-8, 8))],
    [1, 0],
    [1, 0xffffffff],
    [1, r.int(2 ** 32)],
  ]);
  const frame = Buffer.alloc(5);
  frame[0] = flag;
  frame.writeUInt32BE(length, 1);
  const framed = Buffer.concat([frame, message]);
  const chunks: Buffer[] = [];
  if (r.chance(0.2)) {
    const cut = r.int(framed.length + 1);
    chunks.push(framed.subarray(0, cut), framed.subarray(cut));
  } else {
    chunks.push(framed);
  }
  const twice = r.chance(0.05);
  if (twice) chunks.push(framed);
  const headers: Record<string, string> = {};
  if (r.chance(0.1)) headers['grpc-encoding'] = r.pick(['gzip', 'deflate', 'br', 'identity']);
  const path = r.chance(0.85) ? INFER_PATH : r.pick(UNARY_PATHS);
  const intact = path === INFER_PATH && flag === 0 && length === message.length && !twice;
  return intact ? { path, headers, chunks, message } : { path, headers, chunks };
}

export interface GrpcOutcome {
  readonly code?: number;
  readonly details?: string;
  readonly httpStatus?: number;
  readonly error?: string;
}

export function sendFrames(session: ClientHttp2Session, c: GrpcFrameCase): Promise<GrpcOutcome> {
  return new Promise((resolve) => {
    const outcome: { -readonly [K in keyof GrpcOutcome]: GrpcOutcome[K] } = {};
    const stream = session.request({
      ':method': 'POST',
      ':path': c.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...c.headers,
    });
    const timer = setTimeout(() => {
      outcome.error = `no status within ${REPLY_TIMEOUT_MS} ms`;
      stream.close(h2.NGHTTP2_CANCEL);
    }, REPLY_TIMEOUT_MS);
    const readStatus = (headers: Record<string, unknown>): void => {
      if (headers['grpc-status'] !== undefined) outcome.code = Number(headers['grpc-status']);
      const message = headers['grpc-message'];
      if (typeof message === 'string') {
        try {
          outcome.details = decodeURIComponent(message);
        } catch {
          outcome.details = message;
        }
      }
    };
    stream.on('response', (headers) => {
      outcome.httpStatus = Number(headers[':status']);
      readStatus(headers);
    });
    stream.on('trailers', readStatus);
    stream.on('data', () => {});
    stream.on('error', (error) => {
      outcome.error ??= error.message;
    });
    stream.on('close', () => {
      clearTimeout(timer);
      resolve(outcome);
    });
    for (const chunk of c.chunks) stream.write(chunk);
    stream.end();
  });
}

/** What the gRPC transport answers for bytes it cannot take, before any handler sees them. */
export const TRANSPORT_REFUSALS: ReadonlyMap<number, RegExp> = new Map([
  [13, /^(Error deserializing request|Failed to decompress message|Incomplete message)/],
  [8, /^Received message larger than max/],
]);

export function checkGrpc(code: number | undefined, details: string, path: string): string | undefined {
  if (code === undefined) return 'no grpc-status';
  if (Buffer.byteLength(details, 'utf8') > MAX_ERROR_BYTES) return `code ${code}: details of ${Buffer.byteLength(details)} bytes`;
  // UNIMPLEMENTED covers Triton's UNSUPPORTED (client shared memory off, named repositories).
  if (code === 0 || code === 3 || code === 5 || code === 12) return undefined;
  if (code === 14 && path.includes('/Repository')) return undefined;
  if (code === 13 && MODEL_FAILURE.test(details)) return undefined;
  if (TRANSPORT_REFUSALS.get(code)?.test(details)) return undefined;
  return `code ${code}: ${details.slice(0, 300)}`;
}

export function describeGrpcMessage(request: InferInit): string {
  const text = JSON.stringify(request, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value instanceof Uint8Array) return `bytes(${value.length})`;
    if (typeof value === 'string' && value.length > 64) return `${value.slice(0, 16)}...(${value.length} chars)`;
    if (Array.isArray(value) && value.length > 32) return `[${value.length} elements]`;
    return value;
  });
  return text.slice(0, 1500);
}
