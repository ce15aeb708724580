import { request } from 'node:http';
import type { HttpCall } from './load.js';

/** One input tensor of a binary-extension request. */
export interface BinaryInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data: Buffer;
}

/** A tensor's place in a registered shared-memory region. */
export interface ShmPlace {
  readonly region: string;
  readonly byteSize: number;
  readonly offset?: number;
}

/** A binary-extension infer request, as tritonclient sends by default. */
export function binaryCall(model: string, inputs: readonly BinaryInput[], outputs: readonly string[]): HttpCall {
  const header = Buffer.from(
    JSON.stringify({
      inputs: inputs.map((i) => ({ name: i.name, shape: i.shape, datatype: i.datatype, parameters: { binary_data_size: i.data.length } })),
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  return {
    path: `/v2/models/${model}/infer`,
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
    body: Buffer.concat([header, ...inputs.map((i) => i.data)]),
  };
}

/** The `shared_memory_*` parameters tritonclient sets (the offset only when it is not 0). */
function shmParameters(place: ShmPlace): Record<string, string | number> {
  const parameters: Record<string, string | number> = {
    shared_memory_region: place.region,
    shared_memory_byte_size: place.byteSize,
  };
  if (place.offset) parameters['shared_memory_offset'] = place.offset;
  return parameters;
}

/** A JSON infer request whose one input and one output live in shared memory: no tensor bytes in the body. */
export function shmCall(
  model: string,
  input: { readonly name: string; readonly datatype: string; readonly shape: number[]; readonly place: ShmPlace },
  output: { readonly name: string; readonly place: ShmPlace },
): HttpCall {
  const body = JSON.stringify({
    inputs: [{ name: input.name, shape: input.shape, datatype: input.datatype, parameters: shmParameters(input.place) }],
    outputs: [{ name: output.name, parameters: shmParameters(output.place) }],
  });
  return { path: `/v2/models/${model}/infer`, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) };
}

/** A whole HTTP answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Sends one request and collects the answer (setup and checks, not the timed path). */
export function httpOnce(port: number, method: 'GET' | 'POST', path: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'Content-Length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Like httpOnce but fails unless the status is 200. */
export async function httpOk(port: number, method: 'GET' | 'POST', path: string, body?: Buffer, headers?: Record<string, string>): Promise<HttpAnswer> {
  const answer = await httpOnce(port, method, path, body, headers);
  if (answer.status !== 200) throw new Error(`${method} ${path}: ${answer.status} ${answer.body.toString()}`);
  return answer;
}

/**
 * Splits a binary-extension answer into its JSON header and the binary outputs, by name, in the
 * order the header lists them with `binary_data_size`.
 */
export function binaryOutputs(answer: HttpAnswer): Map<string, Buffer> {
  const headerLength = Number(answer.headers['inference-header-content-length'] ?? answer.body.length);
  const header = JSON.parse(answer.body.subarray(0, headerLength).toString()) as {
    outputs: { name: string; parameters?: { binary_data_size?: number } }[];
  };
  const outputs = new Map<string, Buffer>();
  let offset = headerLength;
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    outputs.set(output.name, answer.body.subarray(offset, offset + size));
    offset += size;
  }
  return outputs;
}
