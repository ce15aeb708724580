import { connect as netConnect, type Socket } from 'node:net';
import { InferenceServerError, type InferInput, type RequestedOutput } from '@nereid/client';

/**
 * The HTTP hot path: each data step's request is encoded once (the binary tensor extension: a JSON
 * header then the raw tensors) and sent as one buffer over keep-alive connections, the response read
 * and dropped. Fetch (undici, under HttpClient.infer) costs about ten times more CPU per request, and
 * node:http about twice as much as this, enough to make the client the bottleneck; everything else
 * (metadata, statistics, shared memory) still goes through @nereid/client.
 */

export interface EncodedRequest {
  readonly body: Buffer;
  readonly headerLength: number;
}

/** Encodes one request: inline inputs as binary data, shared-memory inputs and outputs as references. */
export function encodeBinaryRequest(inputs: readonly InferInput[], bytes: readonly (Uint8Array | undefined)[], outputs: readonly RequestedOutput[]): EncodedRequest {
  const header = {
    inputs: inputs.map((input, i) => {
      const parameters: Record<string, unknown> =
        input.sharedMemory !== undefined
          ? { shared_memory_region: input.sharedMemory.region, shared_memory_byte_size: input.sharedMemory.byteSize, ...(input.sharedMemory.offset ? { shared_memory_offset: input.sharedMemory.offset } : {}) }
          : { binary_data_size: bytes[i]!.byteLength };
      return { name: input.name, datatype: input.datatype, shape: input.shape, parameters };
    }),
    outputs: outputs.map((output) => ({
      name: output.name,
      parameters:
        output.sharedMemory !== undefined
          ? { shared_memory_region: output.sharedMemory.region, shared_memory_byte_size: output.sharedMemory.byteSize }
          : { binary_data: true },
    })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const parts: Uint8Array[] = [json];
  inputs.forEach((input, i) => {
    if (input.sharedMemory === undefined) parts.push(bytes[i]!);
  });
  return { body: Buffer.concat(parts), headerLength: json.byteLength };
}

export interface HttpInferTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function httpTarget(baseUrl: string, model: string, version: string, headers: Readonly<Record<string, string>>): HttpInferTarget {
  const url = new URL(baseUrl);
  const path = `${url.pathname.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(model)}${version === '' ? '' : `/versions/${encodeURIComponent(version)}`}/infer`;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80), path, headers };
}

/**
 * A sender of pre-encoded requests over a pool of keep-alive HTTP/1.1 connections (one request in
 * flight per connection, as perf_analyzer's one curl handle per context). Each request is one
 * pre-built buffer (request line, headers, body): a send is a single socket write, and the response
 * parser reads only the status line and the framing headers. Resolves on 200, rejects with the
 * server's error (InferenceServerError carrying its status and message) otherwise.
 */
export function httpSender(target: HttpInferTarget, requests: readonly EncodedRequest[]): { send: (index: number) => Promise<number>; close: () => void } {
  const extra = Object.entries(target.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const wire = requests.map((r) =>
    Buffer.concat([
      Buffer.from(
        `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\n${extra}Content-Type: application/octet-stream\r\nInference-Header-Content-Length: ${r.headerLength}\r\nContent-Length: ${r.body.byteLength}\r\n\r\n`,
        'latin1',
      ),
      r.body,
    ]),
  );
  const n = wire.length;
  const idle: HttpConnection[] = [];
  const all = new Set<HttpConnection>();
  let closed = false;
  const send = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new Error('the sender is closed'));
      let connection = idle.pop();
      if (connection === undefined) {
        connection = new HttpConnection(target.host, target.port, (c) => all.delete(c));
        all.add(connection);
      }
      const c = connection;
      c.request(wire[index % n]!, (error, status, body) => {
        if (!closed && c.reusable) idle.push(c);
        if (error !== undefined) reject(error);
        else if (status === 200) resolve(1);
        else reject(new InferenceServerError(errorMessage(body!), 'http', status));
      });
    });
  return {
    send,
    close: () => {
      closed = true;
      for (const c of all) c.destroy();
      all.clear();
      idle.length = 0;
    },
  };
}

type Done = (error: Error | undefined, status: number, body: Buffer | undefined) => void;

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection; responses parsed by Content-Length (or chunked framing). */
class HttpConnection {
  readonly #socket: Socket;
  #done: Done | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  reusable = true;

  constructor(host: string, port: number, onClose: (c: HttpConnection) => void) {
    this.#socket = netConnect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (error: Error) => {
      this.reusable = false;
      const done = this.#done;
      this.#done = undefined;
      done?.(error, 0, undefined);
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => {
      this.reusable = false;
      onClose(this);
      fail(new Error('the server closed the connection'));
    });
  }

  request(bytes: Buffer, done: Done): void {
    this.#done = done;
    this.#socket.write(bytes);
  }

  destroy(): void {
    this.reusable = false;
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseResponse(this.#buffer);
      if (parsed === undefined) return;
      this.#buffer = this.#buffer.subarray(parsed.consumed);
      if (parsed.close) this.reusable = false;
      const done = this.#done;
      this.#done = undefined;
      done?.(undefined, parsed.status, parsed.body);
      if (parsed.close) this.#socket.end();
      if (this.#buffer.length === 0) return;
    }
  }
}

/** A whole response at the start of `buffer`, or undefined when more bytes are needed. */
export function parseResponse(buffer: Buffer): { status: number; body: Buffer; consumed: number; close: boolean } | undefined {
  const end = buffer.indexOf(HEADER_END);
  if (end < 0) return undefined;
  const head = buffer.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const close = /\r\nconnection:\s*close/.test(lower);
  const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  const start = end + 4;
  if (length !== null) {
    const total = start + Number(length[1]);
    if (buffer.length < total) return undefined;
    return { status, body: buffer.subarray(start, total), consumed: total, close };
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at, 'latin1');
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        // Trailers are not used by the inference endpoints: the terminating CRLF follows.
        return { status, body: Buffer.concat(parts), consumed: lineEnd + 4, close };
      }
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  // No framing: a bodyless response (e.g. 204).
  return { status, body: Buffer.alloc(0), consumed: start, close };
}

function errorMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return text;
}
