import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { mutateBytes, Random } from '../../helpers/fuzz-random.js';
import { type Json, KEYS, MAX_ERROR_BYTES, MAX_INPUT_SIZE, MODELS, MODEL_FAILURE, RAW, RAW_NUMBERS, REPLY_TIMEOUT_MS, jsonText, mutateTree, randomValue, validInferJson, validTensors, wireBytes } from './fuzz-values.js';

/** The fuzz test's HTTP cases (fuzz.test.ts): mutated infer bodies, routes, compression, framing. */

// ---------------------------------------------------------------------------------------------
// HTTP cases

export interface HttpCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** Bytes written as-is on a fresh socket instead (malformed framing). */
  readonly raw?: Buffer;
}

export const JSON_TOKENS: readonly (string | Uint8Array)[] = [
  '{', '}', '[', ']', '"', ',', ':', '\\', '\\u', '\\ud800', 'null', 'true', '1e999', '-', '0x10', 'NaN',
  '\u0000', '"inputs"', '"shape":', '"datatype":"BYTES"', '"data":[', '99999999999999999999',
  Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]),
];

/** 3 MiB of spaces in 3 KiB of gzip: inflates past MAX_INPUT_SIZE. */
export const GZIP_BOMB = gzipSync(Buffer.alloc(3 * 1024 * 1024, ' '));

export function inferPathFor(r: Random, model: string): string {
  return r.chance(0.15) ? `/v2/models/${model}/versions/${r.pick(['1', '2', '0', '-1', 'abc', '99999999999999999999'])}/infer` : `/v2/models/${model}/infer`;
}

export function jsonInferCase(r: Random): HttpCase {
  const model = r.pick(MODELS);
  let body = validInferJson(r, model, validTensors(r, model)) as Json;
  if (r.chance(0.85)) body = mutateTree(r, body);
  let bytes: Buffer = Buffer.from(jsonText(body), 'utf8');
  if (r.chance(0.35)) bytes = mutateBytes(r, bytes, JSON_TOKENS);
  return { method: 'POST', path: inferPathFor(r, model), headers: { 'Content-Type': 'application/json' }, body: bytes };
}

export function binaryInferCase(r: Random): HttpCase {
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
export function rawBinaryCase(r: Random): HttpCase {
  const model = r.pick(['identity_fp32', 'simple_identity', 'simple'] as const);
  const proper = wireBytes(validTensors(r, model)[0]!);
  const body = r.chance(0.5) ? proper : mutateBytes(r, proper);
  return { method: 'POST', path: `/v2/models/${model}/infer`, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' }, body };
}

export function compressedCase(r: Random): HttpCase {
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

export const SEGMENT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=:@';

export function randomSegment(r: Random): string {
  return r.weighted<() => string>([
    [6, () => r.pick([...MODELS, 'add_sub_no_config', 'simple_int8', 'identity_fp16'])],
    [3, () => Array.from({ length: r.range(1, 12) }, () => SEGMENT_CHARS[r.int(SEGMENT_CHARS.length)]).join('')],
    [1, () => r.pick(['%', '%E0%A4%A', '%00', '%2F', '%2e%2e', '%FF%FE', '..', '.', '%20simple'])],
    [1, () => 'm'.repeat(r.pick([300, 3000, 20_000]))],
  ])();
}

export function randomVersion(r: Random): string {
  return r.pick(['1', '2', '0', '-1', '00', '01', '+1', '%201', '1.5', 'abc', '0x1', '9223372036854775807', '9223372036854775808', '99999999999999999999', '1e3']);
}

export function randomJsonBody(r: Random, path: string): Buffer {
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

export function routeCase(r: Random): HttpCase {
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
export function rawFramingCase(r: Random): HttpCase {
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
export function withRandomHeaders(r: Random, c: HttpCase): HttpCase {
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

export function httpCase(r: Random): HttpCase {
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

export type HttpOutcome = { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer } | { readonly error: string };

export function sendHttp(port: number, agent: Agent, c: HttpCase): Promise<HttpOutcome> {
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
export function sendRaw(port: number, bytes: Buffer): Promise<{ readonly text: string } | { readonly error: string }> {
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

export const HTTP_STATUSES = new Set([200, 400, 404, 405, 413, 431, 501]);

export function allowedStatus(status: number, path: string, text: string): boolean {
  if (HTTP_STATUSES.has(status)) return true;
  // Model control is off: load/unload are UNAVAILABLE, as in Triton; so is a log format it does not
  // know (Triton's HandleLogging answers UNAVAILABLE there).
  if (status === 503) return path.startsWith('/v2/repository') || (path.split('?')[0] === '/v2/logging' && text.startsWith('invalid argument for --log_format'));
  return status === 500 && MODEL_FAILURE.test(text);
}

export function checkHttp(c: HttpCase, outcome: HttpOutcome): string | undefined {
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
export function parseTritonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/([[,:]\s*)-?(?:Infinity|NaN)(?=\s*[\],}])/g, '$1null'));
  }
}

/** Why an infer reply (decompressed) is malformed: its JSON header, or binary outputs past its end. */
export function inferReplyProblem(body: Buffer, headerLength: string | string[] | undefined): string | undefined {
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

export function checkRaw(outcome: { readonly text: string } | { readonly error: string }): string | undefined {
  if ('error' in outcome) return outcome.error;
  // Raw cases only post to /v2/models/simple/infer or probe health: a model failure is the only 500 allowed.
  const modelFailure = /\{"error":"onnx runtime error(?: \d+)?: /.exec(outcome.text)?.[0].slice('{"error":"'.length) ?? '';
  for (const match of outcome.text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)) {
    const status = Number(match[1]);
    if (status !== 100 && !allowedStatus(status, '', modelFailure)) return `status ${status}: ${JSON.stringify(outcome.text.slice(0, 300))}`;
  }
  return undefined;
}

export function describeHttp(c: HttpCase): string {
  const show = (bytes: Buffer | undefined): string =>
    bytes === undefined ? '' : ` body(${bytes.length})=${JSON.stringify(bytes.subarray(0, 400).toString('latin1'))}`;
  if (c.raw !== undefined) return `raw socket${show(c.raw)}`;
  return `${c.method} ${c.path.slice(0, 200)} headers=${JSON.stringify(c.headers).slice(0, 300)}${show(c.body)}`;
}
