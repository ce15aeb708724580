import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceError } from '@grpc/grpc-js';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger, type Logger } from '../../../src/observability/logger.js';
import { caseSeed, fuzzSeed, mutateBytes, Random } from '../../helpers/fuzz-random.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { bytesTensor, httpCall, replyJson, tensorBytes } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/**
 * A bounded, seeded fuzz of both frontends (issue: hardening): mutated infer requests, odd routes,
 * methods and headers, malformed HTTP framing, wrong-but-well-formed gRPC messages and raw gRPC
 * frames of random protobuf bytes. Every reply must be one the server means to give (no 500 or
 * INTERNAL from a bug, error bodies well-formed and bounded), nothing may hang, and afterwards the
 * server still answers correctly with its memory in bounds.
 *
 * Replay a failure with `NEREID_FUZZ_SEED=<seed>` (the seed is in the suite's name); each case is
 * rebuilt from (seed, stream, index) alone, so the index in a failure message names it exactly.
 */

const SEED = fuzzSeed(0x6e657265);
/** Cases and wall-time budget per stream; whichever runs out first ends the stream. */
const HTTP_CASES = 1500;
const HTTP_BUDGET_MS = 3500;
const GRPC_CASES = 400;
const GRPC_BUDGET_MS = 1700;
/** A reply slower than this counts as a hang. */
const REPLY_TIMEOUT_MS = 5000;
const CONCURRENCY = 4;
/** Small, so "too large" paths are reached with cheap bodies. */
const MAX_INPUT_SIZE = 2 * 1024 * 1024;
/** The server clips error messages to this many UTF-8 bytes. */
const MAX_ERROR_BYTES = 4096;
const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;

/** Case streams: each has its own sequence of case seeds. */
const Stream = { Http: 1, GrpcMessages: 2, GrpcFrames: 3 } as const;

const MODELS = ['simple', 'simple_string', 'identity_fp32', 'simple_identity'] as const;
type ModelName = (typeof MODELS)[number];

/** Error texts of models failing on their input (simple_string casts strings to numbers): Triton's INTERNAL. */
const MODEL_FAILURE = /^onnx runtime error: /;

// ---------------------------------------------------------------------------------------------
// Random values

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A string value `RAW + literal` is written into the JSON text as the bare literal. */
const RAW = '\u0001raw:';
const RAW_NUMBERS = [
  '18446744073709551616',
  '-9223372036854775809',
  '9223372036854775807',
  '99999999999999999999999999999999',
  '4294967296',
  '2147483648',
  '-2147483649',
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '0.0',
  '1.0000000000000002',
];

function jsonText(value: Json): string {
  return JSON.stringify(value).replace(/"\\u0001raw:([^"]*)"/g, '$1');
}

const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32',
  'FP64', 'BF16', 'BYTES', 'int32', '', 'STRING', 'TYPE_INT32', 'FP8', ' INT32', 'X'.repeat(300),
];
const DIMS: readonly Json[] = [0, 1, 1, 2, 8, 9, 16, 16, -1, -2, 3.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e20, '1', null, `${RAW}99999999999999999999`, `${RAW}-0`];
const KEYS = [
  'name', 'datatype', 'shape', 'data', 'parameters', 'binary_data_size', 'binary_data', 'binary_data_output',
  'classification', 'id', 'inputs', 'outputs', 'sequence_id', 'sequence_start', 'priority', 'timeout',
  'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', '', '__proto__', 'constructor',
];

function randomShape(r: Random): Json {
  if (r.chance(0.05)) return Array.from({ length: r.range(20, 200) }, () => r.pick([1, 2]));
  return Array.from({ length: r.int(5) }, () => r.pick(DIMS));
}

function randomValue(r: Random, key = ''): Json {
  if (key === 'shape' && r.chance(0.6)) return randomShape(r);
  if (key === 'datatype' && r.chance(0.6)) return r.pick(DATATYPES);
  switch (r.int(17)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 1e300, -1e-300]);
    case 3: return r.range(-1_000_000, 1_000_000);
    case 4: return `${RAW}${r.pick(RAW_NUMBERS)}`;
    case 5: return '';
    case 6: return r.text(r.int(20));
    case 7: return 'a'.repeat(r.pick([300, 5000, 70_000]));
    case 8: return [];
    case 9: return {};
    case 10: return [[[]]];
    case 11: return Array.from({ length: r.int(40) }, () => r.range(-5, 5));
    case 12: return Array.from({ length: r.int(6) }, () => r.text(r.int(6)));
    case 13: return { [r.pick(KEYS)]: randomValue(r) };
    case 14: return { binary_data_size: r.pick([0, -1, 64, 2 ** 40, 1.5]) };
    case 15: return Array.from({ length: r.int(4) }, () => ({ name: r.pick(['INPUT0', 'INPUT1', 'OUTPUT0', r.text(4)]) }));
    default: return randomShape(r);
  }
}

/** 1–3 edits to a JSON tree: a value replaced, a key added or deleted, an array cut or grown. */
function mutateTree(r: Random, root: Json): Json {
  const edits = r.range(1, 3);
  for (let e = 0; e < edits; e++) {
    const containers: (Json[] | { [key: string]: Json })[] = [];
    const walk = (node: Json): void => {
      if (node === null || typeof node !== 'object') return;
      containers.push(node);
      for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child);
    };
    walk(root);
    if (containers.length === 0) return randomValue(r);
    const target = r.pick(containers);
    if (Array.isArray(target)) {
      const at = r.int(target.length + 1);
      if (r.chance(0.5)) target[at] = randomValue(r);
      else if (r.chance(0.5)) target.splice(at, 1);
      else target.length = 0;
    } else {
      const keys = Object.keys(target);
      const key = keys.length > 0 && r.chance(0.7) ? r.pick(keys) : r.pick(KEYS);
      if (r.chance(0.2)) delete target[key];
      else Object.defineProperty(target, key, { value: randomValue(r, key), enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Valid requests to start from

interface ValidTensor {
  readonly name: string;
  readonly datatype: 'INT32' | 'BYTES' | 'FP32';
  readonly shape: number[];
  readonly values: (number | string)[];
}

function validTensors(r: Random, model: ModelName): ValidTensor[] {
  const ints = (): number[] => Array.from({ length: 16 }, () => r.range(-1000, 1000));
  switch (model) {
    case 'simple':
      return ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], values: ints() }));
    case 'simple_string':
      return ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], values: ints().map(String) }));
    case 'identity_fp32': {
      const n = r.int(9);
      return [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], values: Array.from({ length: n }, () => Math.fround(r.next() * 100 - 50)) }];
    }
    case 'simple_identity': {
      const n = r.int(7);
      return [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, n], values: Array.from({ length: n }, () => r.text(r.int(10))) }];
    }
  }
}

/** A tensor's elements in the wire layout of its datatype. */
function wireBytes(tensor: ValidTensor): Buffer {
  if (tensor.datatype === 'BYTES') return bytesTensor(tensor.values.map(String));
  const values = tensor.values.map(Number);
  return tensorBytes(tensor.datatype === 'INT32' ? Int32Array.from(values) : Float32Array.from(values));
}

function validInferJson(r: Random, model: ModelName, tensors: ValidTensor[]): { [key: string]: Json } {
  const body: { [key: string]: Json } = {};
  if (r.chance(0.3)) body['id'] = r.text(r.int(12));
  if (r.chance(0.2)) body['parameters'] = { binary_data_output: r.chance(0.5) };
  body['inputs'] = tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values }));
  if (r.chance(0.3)) {
    const outputs = model === 'simple' || model === 'simple_string' ? ['OUTPUT0', 'OUTPUT1'] : ['OUTPUT0'];
    body['outputs'] = outputs.filter(() => r.chance(0.7)).map((name) => ({ name, parameters: { binary_data: r.chance(0.5) } }));
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// HTTP cases

interface HttpCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** Bytes written as-is on a fresh socket instead (malformed framing). */
  readonly raw?: Buffer;
}

const JSON_TOKENS: readonly (string | Uint8Array)[] = [
  '{', '}', '[', ']', '"', ',', ':', '\\', '\\u', '\\ud800', 'null', 'true', '1e999', '-', '0x10', 'NaN',
  '\u0000', '"inputs"', '"shape":', '"datatype":"BYTES"', '"data":[', '99999999999999999999',
  Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]),
];

/** 3 MiB of spaces in 3 KiB of gzip: inflates past MAX_INPUT_SIZE. */
const GZIP_BOMB = gzipSync(Buffer.alloc(3 * 1024 * 1024, ' '));

function inferPathFor(r: Random, model: string): string {
  return r.chance(0.15) ? `/v2/models/${model}/versions/${r.pick(['1', '2', '0', '-1', 'abc', '99999999999999999999'])}/infer` : `/v2/models/${model}/infer`;
}

function jsonInferCase(r: Random): HttpCase {
  const model = r.pick(MODELS);
  let body = validInferJson(r, model, validTensors(r, model)) as Json;
  if (r.chance(0.85)) body = mutateTree(r, body);
  let bytes: Buffer = Buffer.from(jsonText(body), 'utf8');
  if (r.chance(0.35)) bytes = mutateBytes(r, bytes, JSON_TOKENS);
  return { method: 'POST', path: inferPathFor(r, model), headers: { 'Content-Type': 'application/json' }, body: bytes };
}

function binaryInferCase(r: Random): HttpCase {
  const model = r.pick(MODELS);
  const tensors = validTensors(r, model);
  const json = validInferJson(r, model, tensors);
  const inputs = json['inputs'] as { [key: string]: Json }[];
  const tails: Buffer[] = [];
  tensors.forEach((tensor, i) => {
    if (!r.chance(0.85)) return;
    const proper = wireBytes(tensor);
    let tail = r.weighted<() => Buffer>([
      [6, () => proper],
      [2, () => mutateBytes(r, proper)],
      [1, () => r.bytes(r.int(200))],
      [1, () => Buffer.alloc(0)],
      [1, () => Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
    ])();
    if (r.chance(0.05)) tail = Buffer.alloc(MAX_INPUT_SIZE + r.range(-64, 64));
    const input = inputs[i]!;
    delete input['data'];
    input['parameters'] = {
      binary_data_size: r.weighted<Json>([
        [8, tail.length],
        [1, tail.length + r.range(-8, 8)],
        [1, -1],
        [1, 0],
        [1, 1.5],
        [1, String(tail.length)],
        [1, 2 ** 40],
        [1, `${RAW}${r.pick(RAW_NUMBERS)}`],
      ]),
    };
    tails.push(tail);
  });
  let header: Buffer = Buffer.from(jsonText(r.chance(0.3) ? mutateTree(r, json) : json), 'utf8');
  if (r.chance(0.1)) header = mutateBytes(r, header, JSON_TOKENS);
  const body = Buffer.concat([header, ...tails]);
  const headerLength = r.weighted<string>([
    [8, String(header.length)],
    [2, String(header.length + r.range(-10, 10))],
    [1, '0'],
    [1, '-1'],
    [1, String(body.length + r.range(1, 100))],
    [1, String(body.length)],
    [1, 'abc'],
    [1, '99999999999999999999'],
    [1, `${header.length}.0`],
    [1, '1e3'],
    [1, '0x10'],
    [1, ''],
  ]);
  return {
    method: 'POST',
    path: inferPathFor(r, model),
    headers: { 'Content-Type': r.pick(['application/octet-stream', 'application/json']), 'Inference-Header-Content-Length': headerLength },
    body,
  };
}

/** A whole body that is one input's raw bytes (`Inference-Header-Content-Length: 0`). */
function rawBinaryCase(r: Random): HttpCase {
  const model = r.pick(['identity_fp32', 'simple_identity', 'simple'] as const);
  const proper = wireBytes(validTensors(r, model)[0]!);
  const body = r.chance(0.5) ? proper : mutateBytes(r, proper);
  return { method: 'POST', path: `/v2/models/${model}/infer`, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' }, body };
}

function compressedCase(r: Random): HttpCase {
  const model = r.pick(MODELS);
  const plain = Buffer.from(jsonText(validInferJson(r, model, validTensors(r, model))), 'utf8');
  const compress = r.chance(0.5) ? gzipSync : deflateSync;
  const body = r.weighted<() => Buffer>([
    [3, () => compress(plain)],
    [3, () => mutateBytes(r, compress(plain))],
    [2, () => r.bytes(r.int(100))],
    [1, () => Buffer.alloc(0)],
    [1, () => gzipSync(r.bytes(r.int(200)))],
    [1, () => deflateRawSync(plain)],
    [1, () => GZIP_BOMB],
  ])();
  const encoding = r.weighted<string>([
    [4, 'gzip'],
    [3, 'deflate'],
    [1, 'GZIP'],
    [1, ' gzip '],
    [1, 'br'],
    [1, 'gzip, deflate'],
    [1, 'identity'],
    [1, r.ascii(6)],
  ]);
  return { method: 'POST', path: `/v2/models/${model}/infer`, headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding }, body };
}

const SEGMENT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=:@';

function randomSegment(r: Random): string {
  return r.weighted<() => string>([
    [6, () => r.pick([...MODELS, 'add_sub_no_config', 'simple_int8', 'identity_fp16'])],
    [3, () => Array.from({ length: r.range(1, 12) }, () => SEGMENT_CHARS[r.int(SEGMENT_CHARS.length)]).join('')],
    [1, () => r.pick(['%', '%E0%A4%A', '%00', '%2F', '%2e%2e', '%FF%FE', '..', '.', '%20simple'])],
    [1, () => 'm'.repeat(r.pick([300, 3000, 20_000]))],
  ])();
}

function randomVersion(r: Random): string {
  return r.pick(['1', '2', '0', '-1', '00', '01', '+1', '%201', '1.5', 'abc', '0x1', '9223372036854775807', '9223372036854775808', '99999999999999999999', '1e3']);
}

function randomJsonBody(r: Random, path: string): Buffer {
  if (r.chance(0.15)) return r.bytes(r.int(64));
  let value: Json;
  if (path.includes('sharedmemory') && path.endsWith('/register')) {
    value = { key: `nereid-fuzz-${r.ascii(6).replace(/[^a-z0-9]/gi, '')}`, offset: randomValue(r), byte_size: randomValue(r), device_id: randomValue(r), raw_handle: { b64: r.bytes(r.int(20)).toString('base64') } };
  } else if (path.endsWith('/load')) {
    value = { parameters: { config: r.chance(0.5) ? jsonText(randomValue(r)) : randomValue(r), [`file:${r.pick(['1/model.onnx', '../x', r.ascii(5)])}`]: r.bytes(r.int(40)).toString('base64') } };
  } else if (path === '/v2/logging') {
    value = { [r.pick(['log_verbose_level', 'log_info', 'log_warning', 'log_error', 'log_format', 'log_file', r.ascii(4)])]: randomValue(r) };
  } else {
    value = { [r.pick(KEYS)]: randomValue(r) };
  }
  if (r.chance(0.3)) value = mutateTree(r, value);
  return Buffer.from(jsonText(value), 'utf8');
}

function routeCase(r: Random): HttpCase {
  const m = (): string => randomSegment(r);
  const v = (): string => randomVersion(r);
  const path = r.pick<() => string>([
    () => '/v2',
    () => '/v2/health/live',
    () => '/v2/health/ready',
    () => `/v2/models/${m()}`,
    () => `/v2/models/${m()}/versions/${v()}`,
    () => `/v2/models/${m()}/versions/${v()}/ready`,
    () => `/v2/models/${m()}/ready`,
    () => `/v2/models/${m()}/config`,
    () => `/v2/models/${m()}/versions/${v()}/config`,
    () => `/v2/models/${m()}/stats`,
    () => '/v2/models/stats',
    () => `/v2/models/${m()}/infer`,
    () => `/v2/models/${m()}/generate`,
    () => '/v2/repository/index',
    () => `/v2/repository/${m()}/index`,
    () => `/v2/repository/models/${m()}/load`,
    () => `/v2/repository/models/${m()}/unload`,
    () => `/v2/repository/${m()}/models/${m()}/${r.pick(['load', 'unload'])}`,
    () => `/v2/systemsharedmemory/${r.chance(0.5) ? `region/${m()}/` : ''}${r.pick(['status', 'register', 'unregister'])}`,
    () => `/v2/cudasharedmemory/${r.chance(0.5) ? `region/${m()}/` : ''}${r.pick(['status', 'register', 'unregister'])}`,
    () => '/v2/logging',
    () => '/v2/trace/setting',
    () => `/v2/models/${m()}/trace/setting`,
    () => `/${m()}/${m()}`,
    () => `/v2//models/${m()}`,
    () => '/',
    () => '*',
  ])();
  const query = r.chance(0.1) ? `?${r.pick(['a=b', '', '&&', 'x=%ZZ'])}` : '';
  const method = r.weighted<string>([
    [5, 'GET'],
    [5, 'POST'],
    [1, 'PUT'],
    [1, 'DELETE'],
    [1, 'PATCH'],
    [1, 'HEAD'],
    [1, 'OPTIONS'],
  ]);
  const body = method === 'POST' || (method !== 'HEAD' && r.chance(0.1)) ? randomJsonBody(r, path) : undefined;
  if (body === undefined) return { method, path: path + query, headers: {} };
  return { method, path: path + query, headers: { 'Content-Type': 'application/json' }, body };
}

/** Header lines node:http would refuse to send, bodies that lie about their length, garbage. */
function rawFramingCase(r: Random): HttpCase {
  const json = jsonText(validInferJson(r, 'simple', validTensors(r, 'simple')));
  const post = (headers: string, body = json): string => `POST /v2/models/simple/infer HTTP/1.1\r\nHost: a\r\n${headers}\r\n${body}`;
  const text = r.pick<() => string | Buffer>([
    () => post(`Content-Length: ${r.pick(['-1', 'abc', '99999999999999999999', '1, 2', String(json.length + r.range(1, 50)), '', '0x10', `${json.length}\r\nContent-Length: 3`])}\r\n`),
    () => post(`Content-Length: ${json.length - r.range(1, 20)}\r\n`),
    () =>
      post(
        'Transfer-Encoding: chunked\r\n',
        `${r.pick([json.length.toString(16), 'zz', 'ffffffffffffffffff', '-1', (json.length + 5).toString(16), `${json.length.toString(16)};x=y`])}\r\n${json}\r\n${r.pick(['0\r\n\r\n', '', '0\r\n', 'x\r\n\r\n'])}`,
      ),
    () => post(`Transfer-Encoding: chunked\r\nContent-Length: ${json.length}\r\n`),
    () => post(`Transfer-Encoding: ${r.pick(['gzip', 'chunked, gzip', 'identity', 'x'])}\r\nContent-Length: ${json.length}\r\n`),
    () => post(`Expect: 100-continue\r\nContent-Length: ${json.length}\r\n`),
    () => post(`Content-Length: ${json.length}\r\nInference-Header-Content-Length: ${r.pick(['-5', String(json.length * 2), 'x'])}\r\n`),
    () => Buffer.concat([r.bytes(r.int(200)), Buffer.from('\r\n\r\n')]),
    () => `GET /v2/health/live HTTP/1.1\r\n${r.pick(['NoColon', 'Bad Name: x', 'X: a\u0000b', 'X: \u007f', ' leading: space', ': empty'])}\r\n\r\n`,
    () => `GET /v2/health/live HTTP/1.1\r\nX-Big: ${'a'.repeat(r.pick([20_000, 70_000]))}\r\n\r\n`,
    () => `GET /v2/models/${'a'.repeat(r.pick([20_000, 100_000]))} HTTP/1.1\r\n\r\n`,
    () => `GET /v2/health/live HTTP/${r.pick(['1.0', '0.9', '2.0', '9.9', '1.1x', '1'])}\r\n\r\n`,
    () => `${r.ascii(r.range(1, 8)).replace(/ /g, '')} /v2 HTTP/1.1\r\n\r\n`,
    () => `GET /v2/health/live HTTP/1.1\r\nHost: a\r\n\r\n${post(`Content-Length: ${json.length}\r\n`).slice(0, r.int(200))}`,
    () => mutateBytes(r, Buffer.from(post(`Content-Length: ${json.length}\r\n`)), ['\r\n', '\r\n\r\n', ':', ' ', '\u0000']),
  ])();
  return { method: 'RAW', path: '', headers: {}, raw: typeof text === 'string' ? Buffer.from(text, 'latin1') : text };
}

/** Headers added to any request: encodings, types and lengths that do not fit, unknown names. */
function withRandomHeaders(r: Random, c: HttpCase): HttpCase {
  const headers = { ...c.headers };
  for (let i = r.range(1, 3); i > 0; i--) {
    const [name, value] = r.pick<() => [string, string]>([
      () => ['Accept-Encoding', r.pick(['gzip', 'deflate', 'gzip;q=0.5, deflate;q=0.9', 'br', '*', 'gzip;q=abc', 'identity;q=0', 'deflate;q=1e9', r.ascii(10)])],
      () => ['Content-Type', r.pick(['text/plain', 'application/octet-stream', 'application/json; charset=latin1', r.ascii(8)])],
      () => ['Inference-Header-Content-Length', r.pick(['0', '-1', '5', 'x', '99999999999999999999'])],
      () => ['Content-Encoding', r.pick(['gzip', 'deflate', 'identity', 'x'])],
      () => ['Connection', 'close'],
      () => [`X-${r.ascii(r.range(1, 10)).replace(/[^A-Za-z0-9]/g, 'z')}`, r.ascii(r.int(60)).trim()],
    ])();
    headers[name] = value;
  }
  return { ...c, headers };
}

function httpCase(r: Random): HttpCase {
  const c = r.weighted<() => HttpCase>([
    [30, () => jsonInferCase(r)],
    [15, () => binaryInferCase(r)],
    [4, () => rawBinaryCase(r)],
    [8, () => compressedCase(r)],
    [22, () => routeCase(r)],
    [4, () => rawFramingCase(r)],
  ])();
  return c.raw === undefined && r.chance(0.2) ? withRandomHeaders(r, c) : c;
}

type HttpOutcome = { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer } | { readonly error: string };

function sendHttp(port: number, agent: Agent, c: HttpCase): Promise<HttpOutcome> {
  // node:http frames a GET's body only when told its length; unframed, it would be read as the next request.
  const headers = c.body === undefined ? c.headers : { ...c.headers, 'Content-Length': String(c.body.length) };
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (error) => resolve({ error: `response: ${error.message}` }));
    });
    req.setTimeout(REPLY_TIMEOUT_MS, () => req.destroy(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms`)));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(c.body);
  });
}

/** Writes the bytes, half-closes, and collects everything the server sends until it closes. */
function sendRaw(port: number, bytes: Buffer): Promise<{ readonly text: string } | { readonly error: string }> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ error: `connection still open ${REPLY_TIMEOUT_MS} ms after the request` });
    }, REPLY_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after a refused request is the server closing on garbage: fine.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1') });
    });
    socket.end(bytes);
  });
}

const HTTP_STATUSES = new Set([200, 400, 404, 405, 413, 431, 501]);

function allowedStatus(status: number, path: string, text: string): boolean {
  if (HTTP_STATUSES.has(status)) return true;
  // Model control is off: load/unload are UNAVAILABLE, as in Triton.
  if (status === 503) return path.startsWith('/v2/repository');
  return status === 500 && MODEL_FAILURE.test(text);
}

function checkHttp(c: HttpCase, outcome: HttpOutcome): string | undefined {
  if ('error' in outcome) return `no reply: ${outcome.error}`;
  let body = outcome.body;
  const encoding = outcome.headers['content-encoding'];
  try {
    if (encoding === 'gzip') body = gunzipSync(body);
    else if (encoding === 'deflate') body = inflateSync(body);
  } catch {
    return `status ${outcome.status}: body not decodable as ${encoding}`;
  }
  let errorText = '';
  // Node's parser answers an oversized header section itself, with an empty body, before any route runs.
  const parserRefusal = outcome.status === 431 && body.length === 0;
  if (outcome.status !== 200 && c.method !== 'HEAD' && !parserRefusal) {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return `status ${outcome.status}: error body is not JSON: ${JSON.stringify(body.toString('latin1').slice(0, 200))}`;
    }
    const error = (json as { error?: unknown } | null)?.error;
    if (typeof error !== 'string') return `status ${outcome.status}: no "error" string in ${JSON.stringify(json).slice(0, 200)}`;
    if (Buffer.byteLength(error, 'utf8') > MAX_ERROR_BYTES) return `status ${outcome.status}: error of ${Buffer.byteLength(error)} bytes`;
    errorText = error;
  }
  if (!allowedStatus(outcome.status, c.path, errorText)) return `status ${outcome.status}: ${errorText.slice(0, 300)}`;
  if (outcome.status === 200 && c.method !== 'HEAD' && c.path.includes('/infer')) {
    const problem = inferReplyProblem(body, outcome.headers['inference-header-content-length']);
    if (problem !== undefined) return `200 infer reply: ${problem}`;
  }
  return undefined;
}

/** JSON as Triton writes it: FP values may be the bare tokens NaN, Infinity and -Infinity. */
function parseTritonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/([[,:]\s*)-?(?:Infinity|NaN)(?=\s*[\],}])/g, '$1null'));
  }
}

/** Why an infer reply (decompressed) is malformed: its JSON header, or binary outputs past its end. */
function inferReplyProblem(body: Buffer, headerLength: string | string[] | undefined): string | undefined {
  const jsonLength = headerLength === undefined ? body.length : Number(headerLength);
  if (!Number.isSafeInteger(jsonLength) || jsonLength > body.length) return `Inference-Header-Content-Length ${String(headerLength)} of ${body.length} bytes`;
  let json: { outputs?: { parameters?: { binary_data_size?: unknown } }[] };
  try {
    json = parseTritonJson(body.subarray(0, jsonLength).toString('utf8')) as typeof json;
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (!Array.isArray(json.outputs)) return 'no outputs';
  let binary = 0;
  for (const output of json.outputs) binary += Number(output.parameters?.binary_data_size ?? 0);
  return jsonLength + binary === body.length ? undefined : `binary outputs of ${binary} bytes after ${jsonLength} of ${body.length}`;
}

function checkRaw(outcome: { readonly text: string } | { readonly error: string }): string | undefined {
  if ('error' in outcome) return outcome.error;
  // Raw cases only post to /v2/models/simple/infer or probe health: a model failure is the only 500 allowed.
  const modelFailure = outcome.text.includes('{"error":"onnx runtime error: ') ? 'onnx runtime error: ' : '';
  for (const match of outcome.text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)) {
    const status = Number(match[1]);
    if (status !== 100 && !allowedStatus(status, '', modelFailure)) return `status ${status}: ${JSON.stringify(outcome.text.slice(0, 300))}`;
  }
  return undefined;
}

function describeHttp(c: HttpCase): string {
  const show = (bytes: Buffer | undefined): string =>
    bytes === undefined ? '' : ` body(${bytes.length})=${JSON.stringify(bytes.subarray(0, 400).toString('latin1'))}`;
  if (c.raw !== undefined) return `raw socket${show(c.raw)}`;
  return `${c.method} ${c.path.slice(0, 200)} headers=${JSON.stringify(c.headers).slice(0, 300)}${show(c.body)}`;
}

// ---------------------------------------------------------------------------------------------
// gRPC cases

type InferInit = MessageInitShape<typeof ModelInferRequestSchema>;
type TensorInit = NonNullable<InferInit['inputs']>[number];
type ParameterInit = NonNullable<TensorInit['parameters']>[string];
type ContentsInit = NonNullable<TensorInit['contents']>;
interface MutableTensor {
  name?: string;
  datatype?: string;
  shape?: bigint[];
  parameters?: Record<string, ParameterInit>;
  contents?: ContentsInit;
}

function validGrpcInfer(r: Random): InferInit {
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

const BIG_SHAPE = [0n, 1n, 1n, 2n, 8n, 9n, 16n, 16n, -1n, -2n, 2n ** 31n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];

function randomParameter(r: Random): ParameterInit {
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

const PARAMETER_KEYS = [
  'sequence_id', 'sequence_start', 'sequence_end', 'priority', 'timeout', 'binary_data_output', 'binary_data_size',
  'shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset', 'classification', 'binary_data', '', 'x',
];

function randomParameters(r: Random): Record<string, ParameterInit> {
  const parameters: Record<string, ParameterInit> = {};
  for (let i = r.range(1, 3); i > 0; i--) parameters[r.chance(0.9) ? r.pick(PARAMETER_KEYS) : r.text(8)] = randomParameter(r);
  return parameters;
}

function randomContents(r: Random): ContentsInit {
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
function grpcMessageCase(r: Random): InferInit {
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

const PROTO_TOKENS: readonly Uint8Array[] = [
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

interface GrpcFrameCase {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly chunks: Buffer[];
  /** The ModelInfer message, when it arrives whole in one uncompressed frame. */
  readonly message?: Buffer;
}

/** Whether protobuf-es decodes `bytes` as a ModelInferRequest (the server's own decoder). */
function decodable(bytes: Buffer): boolean {
  try {
    fromBinary(ModelInferRequestSchema, bytes);
    return true;
  } catch {
    return false;
  }
}

const INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
const UNARY_PATHS = [
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

function grpcFrameCase(r: Random): GrpcFrameCase {
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

interface GrpcOutcome {
  readonly code?: number;
  readonly details?: string;
  readonly httpStatus?: number;
  readonly error?: string;
}

function sendFrames(session: ClientHttp2Session, c: GrpcFrameCase): Promise<GrpcOutcome> {
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

/** What grpc-js itself answers for bytes it cannot take (Nereid never sees them). */
const GRPC_JS_REFUSALS: ReadonlyMap<number, RegExp> = new Map([
  [13, /^(Error deserializing request|Failed to decompress message)/],
  [8, /^Received message larger than max/],
]);

function checkGrpc(code: number | undefined, details: string, path: string): string | undefined {
  if (code === undefined) return 'no grpc-status';
  if (Buffer.byteLength(details, 'utf8') > MAX_ERROR_BYTES) return `code ${code}: details of ${Buffer.byteLength(details)} bytes`;
  // UNIMPLEMENTED covers Triton's UNSUPPORTED (client shared memory off, named repositories).
  if (code === 0 || code === 3 || code === 5 || code === 12) return undefined;
  if (code === 14 && path.includes('/Repository')) return undefined;
  if (code === 13 && MODEL_FAILURE.test(details)) return undefined;
  if (GRPC_JS_REFUSALS.get(code)?.test(details)) return undefined;
  return `code ${code}: ${details.slice(0, 300)}`;
}

function describeGrpcMessage(request: InferInit): string {
  const text = JSON.stringify(request, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value instanceof Uint8Array) return `bytes(${value.length})`;
    if (typeof value === 'string' && value.length > 64) return `${value.slice(0, 16)}...(${value.length} chars)`;
    if (Array.isArray(value) && value.length > 32) return `[${value.length} elements]`;
    return value;
  });
  return text.slice(0, 1500);
}

// ---------------------------------------------------------------------------------------------
// Running

/** Runs cases 0, 1, ... on `concurrency` workers until `count` ran or `budgetMs` passed. */
async function runCases(count: number, budgetMs: number, concurrency: number, run: (index: number) => Promise<void>): Promise<number> {
  const deadline = Date.now() + budgetMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) await run(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return next;
}

function reportFailures(failures: string[], ran: number): void {
  assert.equal(
    failures.length,
    0,
    `${failures.length} of ${ran} cases failed (replay with NEREID_FUZZ_SEED=${SEED}):\n${failures.slice(0, 10).join('\n')}`,
  );
}

describe(`fuzz: HTTP and gRPC requests, seeded (NEREID_FUZZ_SEED=${SEED})`, () => {
  let server: RunningServer;
  let base: string;
  let httpPort: number;
  let agent: Agent;
  let grpc: InferenceGrpcClient;
  let session: ClientHttp2Session;
  let rssBefore: number;
  const unexpectedErrors: string[] = [];
  /** Captures what the server logs as unexpected errors (bugs), otherwise silent. */
  const logger: Logger = { ...silentLogger, settings: { ...silentLogger.settings }, error: (message) => unexpectedErrors.push(message) };

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1', maxInputSize: MAX_INPUT_SIZE },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      logger,
    });
    httpPort = server.http!.port;
    base = `http://127.0.0.1:${httpPort}`;
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
    session = http2Connect(`http://127.0.0.1:${server.grpc!.port}`);
    session.on('error', () => {});
    await assertServesSimple();
    rssBefore = process.memoryUsage().rss;
  });

  after(async () => {
    agent?.destroy();
    grpc?.close();
    session?.close();
    await server?.close();
  });

  /** `simple` adds and subtracts correctly over HTTP and over the fuzzed gRPC client. */
  async function assertServesSimple(): Promise<void> {
    const input0 = Array.from({ length: 16 }, (_, i) => i);
    const input1 = Array.from({ length: 16 }, (_, i) => 3 * i - 7);
    const body = JSON.stringify({
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: input0 },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: input1 },
      ],
    });
    const reply = await httpCall(base, 'POST', '/v2/models/simple/infer', { body, agent });
    assert.equal(reply.status, 200, reply.body.toString());
    const outputs = (replyJson(reply) as { outputs: { name: string; data: number[] }[] }).outputs;
    const byName = new Map(outputs.map((o) => [o.name, o.data]));
    assert.deepEqual(byName.get('OUTPUT0'), input0.map((a, i) => a + input1[i]!));
    assert.deepEqual(byName.get('OUTPUT1'), input0.map((a, i) => a - input1[i]!));

    const response = await grpc.call('modelInfer', {
      modelName: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n] },
      ],
      rawInputContents: [tensorBytes(Int32Array.from(input0)), tensorBytes(Int32Array.from(input1))],
    });
    const raw = new Map(
      response.outputs.map((o, i) => {
        const bytes = Buffer.from(response.rawOutputContents[i]!);
        return [o.name, Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))];
      }),
    );
    assert.deepEqual(raw.get('OUTPUT0'), input0.map((a, i) => a + input1[i]!));
    assert.deepEqual(raw.get('OUTPUT1'), input0.map((a, i) => a - input1[i]!));
  }

  it(`HTTP: up to ${HTTP_CASES} mutated requests each get a sane status and a well-formed error, within ${REPLY_TIMEOUT_MS} ms`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(HTTP_CASES, HTTP_BUDGET_MS, CONCURRENCY, async (index) => {
      const c = httpCase(new Random(caseSeed(SEED, Stream.Http, index)));
      const problem = c.raw === undefined ? checkHttp(c, await sendHttp(httpPort, agent, c)) : checkRaw(await sendRaw(httpPort, c.raw));
      if (problem !== undefined) failures.push(`HTTP case ${index}: ${problem}\n    ${describeHttp(c)}`);
    });
    t.diagnostic(`seed ${SEED}: ${ran} HTTP cases`);
    reportFailures(failures, ran);
  });

  it(`gRPC: up to ${GRPC_CASES} wrong-but-well-formed ModelInfer messages each get a sane status`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(GRPC_CASES, GRPC_BUDGET_MS, CONCURRENCY, async (index) => {
      const request = grpcMessageCase(new Random(caseSeed(SEED, Stream.GrpcMessages, index)));
      const problem = await grpc.call('modelInfer', request, undefined, { deadline: Date.now() + REPLY_TIMEOUT_MS }).then(
        () => undefined,
        (error: ServiceError) =>
          // Every message here is valid protobuf: failing to deserialize one is a server bug.
          error.code === 13 && error.details.startsWith('Error deserializing')
            ? 'a valid message failed to deserialize'
            : checkGrpc(error.code, error.details, INFER_PATH),
      );
      if (problem !== undefined) failures.push(`gRPC message case ${index}: ${problem}\n    ${describeGrpcMessage(request)}`);
    });
    t.diagnostic(`seed ${SEED}: ${ran} gRPC message cases`);
    reportFailures(failures, ran);
  });

  it(`gRPC: up to ${GRPC_CASES} raw HTTP/2 calls of random protobuf bytes each end with a sane grpc-status`, async (t) => {
    const failures: string[] = [];
    const ran = await runCases(GRPC_CASES, GRPC_BUDGET_MS, CONCURRENCY, async (index) => {
      const c = grpcFrameCase(new Random(caseSeed(SEED, Stream.GrpcFrames, index)));
      const outcome = await sendFrames(session, c);
      const details = outcome.details ?? '';
      const problem =
        outcome.error !== undefined
          ? `stream failed: ${outcome.error}`
          : outcome.httpStatus !== 200
            ? `HTTP/2 status ${outcome.httpStatus}`
            : // grpc-js hides why a deserializer threw: a valid message refused so is the census failing.
              outcome.code === 13 && details.startsWith('Error deserializing') && c.message !== undefined && decodable(c.message)
              ? 'a decodable ModelInferRequest failed to deserialize'
              : checkGrpc(outcome.code, details, c.path);
      if (problem !== undefined) {
        const bytes = Buffer.concat(c.chunks);
        failures.push(`gRPC frame case ${index}: ${problem}\n    ${c.path} ${JSON.stringify(c.headers)} frames(${bytes.length})=${bytes.subarray(0, 300).toString('hex')}`);
      }
    });
    t.diagnostic(`seed ${SEED}: ${ran} raw gRPC cases`);
    reportFailures(failures, ran);
  });

  it('afterwards the server answers correctly, logged no unexpected error, and its memory stayed bounded', async () => {
    await assertServesSimple();
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      assert.equal((await httpCall(base, 'GET', path, { agent })).status, 200, path);
    }
    assert.equal((await grpc.call('serverLive', {})).live, true);
    assert.equal((await grpc.call('serverReady', {})).ready, true);
    assert.deepEqual(unexpectedErrors.slice(0, 5), [], `the server logged ${unexpectedErrors.length} unexpected errors`);
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round(growth / 2 ** 20)} MiB`);
  });
});
