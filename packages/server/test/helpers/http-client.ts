import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { encodeBytesElements } from '@nereid/protocol';

/**
 * Small KServe v2 HTTP client for tests: raw calls over node:http (keep-alive, no automatic
 * Accept-Encoding), JSON and JSON+binary infer request builders, raw binary requests, and a decoder
 * for infer responses (binary tails split by Inference-Header-Content-Length, gzip/deflate undone).
 * It knows nothing of the server's internals, so conformance suites can reuse it against any server.
 */

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface CallOptions {
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Uint8Array | string;
  readonly agent?: Agent;
}

/** Shared keep-alive agent; tests destroy it (or their own) when done. */
export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 8 });

/** One HTTP exchange; the body is sent with Content-Length. */
export function httpCall(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<HttpReply> {
  const url = new URL(path, baseUrl);
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (body !== undefined && headers['Content-Length'] === undefined && headers['Transfer-Encoding'] === undefined) {
    headers['Content-Length'] = body.byteLength;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: options.agent ?? keepAliveAgent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON body of a reply. */
export function replyJson(reply: HttpReply): unknown {
  return JSON.parse(reply.body.toString('utf8'));
}

export interface InferInputSpec {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  /** JSON `data` (nested or flat); bigints are written as exact integers. */
  readonly data?: unknown;
  /** Wire-layout bytes sent in the binary tail (sets `binary_data_size`). */
  readonly binary?: Uint8Array;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface InferOutputSpec {
  readonly name: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface InferRequestSpec {
  readonly id?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly inputs: readonly InferInputSpec[];
  readonly outputs?: readonly InferOutputSpec[];
}

export interface BuiltInferBody {
  readonly body: Buffer;
  /** `Inference-Header-Content-Length` when binary data follows the JSON. */
  readonly headers: Readonly<Record<string, string>>;
}

/** JSON text that keeps bigints exact. */
export function jsonWithBigInts(value: unknown): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** Builds a JSON or JSON+binary infer body in Triton's layout (binary inputs in input order). */
export function buildInferBody(spec: InferRequestSpec): BuiltInferBody {
  const tails: Uint8Array[] = [];
  const inputs = spec.inputs.map((input) => {
    const json: Record<string, unknown> = { name: input.name, shape: input.shape, datatype: input.datatype };
    const parameters: Record<string, unknown> = { ...input.parameters };
    if (input.binary !== undefined) {
      parameters['binary_data_size'] = input.binary.byteLength;
      tails.push(input.binary);
    }
    if (Object.keys(parameters).length > 0) json['parameters'] = parameters;
    if (input.data !== undefined) json['data'] = input.data;
    return json;
  });
  const request: Record<string, unknown> = {};
  if (spec.id !== undefined) request['id'] = spec.id;
  if (spec.parameters !== undefined) request['parameters'] = spec.parameters;
  request['inputs'] = inputs;
  if (spec.outputs !== undefined) request['outputs'] = spec.outputs;
  const header = Buffer.from(jsonWithBigInts(request), 'utf8');
  if (tails.length === 0) return { body: header, headers: {} };
  return {
    body: Buffer.concat([header, ...tails]),
    headers: { 'Inference-Header-Content-Length': String(header.length) },
  };
}

export function inferPath(model: string, version?: string): string {
  const name = encodeURIComponent(model);
  return version === undefined ? `/v2/models/${name}/infer` : `/v2/models/${name}/versions/${version}/infer`;
}

export interface DecodedOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data?: readonly unknown[];
  /** The output's bytes from the binary tail. */
  readonly binary?: Buffer;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface InferReply extends HttpReply {
  /** The JSON part of the response (the error object for failures). */
  readonly json: Record<string, unknown>;
  readonly outputs: ReadonlyMap<string, DecodedOutput>;
}

/** Decodes an infer response: undoes Content-Encoding, splits the binary tail per output. */
export function decodeInferReply(reply: HttpReply): InferReply {
  let body = reply.body;
  const encoding = reply.headers['content-encoding'];
  if (encoding === 'gzip') body = gunzipSync(body);
  else if (encoding === 'deflate') body = inflateSync(body);
  const headerValue = reply.headers['inference-header-content-length'];
  const headerLength = headerValue === undefined ? body.length : Number(headerValue);
  const json = JSON.parse(body.subarray(0, headerLength).toString('utf8')) as Record<string, unknown>;
  const outputs = new Map<string, DecodedOutput>();
  let offset = headerLength;
  for (const output of (json['outputs'] ?? []) as DecodedOutput[]) {
    const size = output.parameters?.['binary_data_size'];
    if (typeof size === 'number') {
      outputs.set(output.name, { ...output, binary: body.subarray(offset, offset + size) });
      offset += size;
    } else {
      outputs.set(output.name, output);
    }
  }
  return { ...reply, body, json, outputs };
}

/** POSTs an infer request built from `spec`. */
export async function postInfer(
  baseUrl: string,
  model: string,
  spec: InferRequestSpec,
  options: { readonly version?: string; readonly headers?: OutgoingHttpHeaders } = {},
): Promise<InferReply> {
  const built = buildInferBody(spec);
  const reply = await httpCall(baseUrl, 'POST', inferPath(model, options.version), {
    headers: { 'Content-Type': 'application/json', ...built.headers, ...options.headers },
    body: built.body,
  });
  return reply.status === 200 ? decodeInferReply(reply) : { ...reply, json: replyJson(reply) as Record<string, unknown>, outputs: new Map() };
}

/** POSTs a raw binary request (`Inference-Header-Content-Length: 0`): the body is the one input. */
export async function postRawInfer(baseUrl: string, model: string, bytes: Uint8Array): Promise<InferReply> {
  const reply = await httpCall(baseUrl, 'POST', inferPath(model), {
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' },
    body: bytes,
  });
  return reply.status === 200 ? decodeInferReply(reply) : { ...reply, json: replyJson(reply) as Record<string, unknown>, outputs: new Map() };
}

/** The bytes of a TypedArray (little-endian wire layout on LE hosts). */
export function tensorBytes(values: ArrayBufferView): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** BYTES wire layout of the given elements. */
export function bytesTensor(elements: readonly (string | Uint8Array)[]): Buffer {
  return encodeBytesElements(elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : e)));
}
