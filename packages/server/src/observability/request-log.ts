import { randomUUID } from 'node:crypto';
import { pino, type Logger as PinoLogger } from 'pino';
import { nowNs } from '../util/clock.js';

/**
 * Nereid's access log (`--request-log`, beyond Triton): one JSON line per inference request, written
 * through pino's buffered destination so the request path never waits on the disk. A request without
 * an id gets one (a UUID), which the client sees in the response `id` and the `X-Request-Id` header
 * (HTTP) or `x-request-id` metadata (gRPC). With `--request-log-payload-bytes` the line also holds the
 * first bytes of every input and output tensor (base64), as KServe's payload logger does.
 */

export type RequestProtocol = 'http' | 'grpc' | 'grpc-stream';

interface NamedData {
  readonly name: string;
  readonly data: Uint8Array;
}

/** What the log reads of a request (the core's InferRequestInit has this shape). */
export interface LoggedRequest {
  readonly id: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly inputs: readonly NamedData[];
}

/** What the log reads of a response (the core's InferResponse has this shape). */
export interface LoggedResponse {
  readonly modelVersion: string;
  readonly outputs: readonly NamedData[];
  /** The request's queue and compute time and batch size, when the core reports them. */
  readonly stats?: { readonly queueNs: number; readonly computeNs: number; readonly batchSize: number } | undefined;
}

/** One line of the log. */
export interface RequestLogLine {
  readonly request_id: string;
  /** The id was made by the server (the client sent none). */
  readonly id_generated: boolean;
  readonly model: string;
  /** The version that answered ('' when the request failed before one was chosen). */
  readonly version: string;
  readonly protocol: RequestProtocol;
  /** HTTP status, or the gRPC status code. */
  readonly status: number;
  readonly error?: string;
  readonly duration_us: number;
  readonly queue_us?: number;
  readonly compute_us?: number;
  readonly batch_size?: number;
  /** HTTP: body bytes as received and sent. gRPC: tensor bytes (the transport does not expose message sizes). */
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly inputs?: Readonly<Record<string, string>>;
  readonly outputs?: Readonly<Record<string, string>>;
}

export interface RequestLogOptions {
  /** A file to append to, or '-' for stdout. */
  readonly destination: string;
  /** Bytes of each tensor to include, base64; 0 for none. */
  readonly payloadBytes: number;
}

/** The header (HTTP) and metadata key (gRPC) carrying the request id. */
export const REQUEST_ID_HEADER = 'x-request-id';

export class RequestLog {
  readonly #pino: PinoLogger;
  readonly #destination: ReturnType<typeof pino.destination>;
  readonly #payloadBytes: number;
  #closed: Promise<void> | undefined;
  readonly #toStdout: boolean;

  constructor(options: RequestLogOptions) {
    this.#toStdout = options.destination === '-';
    this.#destination = pino.destination({ dest: options.destination === '-' ? 1 : options.destination, sync: false, minLength: 4096, mkdir: true });
    this.#pino = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, this.#destination);
    this.#payloadBytes = options.payloadBytes;
  }

  /**
   * Starts the line of one request: gives it an id if it has none (`headerId`, e.g. the client's
   * X-Request-Id, wins over a new UUID). Returns the request to run and the line's recorder.
   */
  begin<T extends LoggedRequest>(protocol: RequestProtocol, init: T, headerId?: string): { init: T; line: RequestLine } {
    const generated = init.id === '' && (headerId === undefined || headerId === '');
    const id = init.id !== '' ? init.id : generated ? randomUUID() : headerId!;
    const started = id === init.id ? init : { ...init, id };
    return { init: started, line: new RequestLine(this, protocol, started, generated) };
  }

  /** @internal the line's writer. */
  write(line: RequestLogLine): void {
    if (this.#closed === undefined) this.#pino.info(line);
  }

  /** @internal */
  payloads(tensors: readonly NamedData[]): Record<string, string> | undefined {
    if (this.#payloadBytes === 0) return undefined;
    const out: Record<string, string> = {};
    for (const tensor of tensors) {
      const data = tensor.data.subarray(0, this.#payloadBytes);
      out[tensor.name] = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
    }
    return out;
  }

  /** Writes what is buffered and closes the destination (once; later lines are dropped). */
  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      if (this.#toStdout) {
        // stdout stays open for the rest of the process: only what is buffered goes out.
        this.#destination.flush(() => resolve());
        return;
      }
      this.#destination.once('close', () => resolve());
      this.#destination.end();
    });
    return this.#closed;
  }
}

/** The line of one request, written once when it succeeds or fails. */
export class RequestLine {
  readonly #log: RequestLog;
  readonly #protocol: RequestProtocol;
  readonly #init: LoggedRequest;
  readonly #generated: boolean;
  readonly #startNs = nowNs();

  constructor(log: RequestLog, protocol: RequestProtocol, init: LoggedRequest, generated: boolean) {
    this.#log = log;
    this.#protocol = protocol;
    this.#init = init;
    this.#generated = generated;
  }

  get id(): string {
    return this.#init.id;
  }

  succeeded(response: LoggedResponse, status: number, bytesIn: number, bytesOut: number): void {
    const stats = response.stats;
    this.#log.write({
      ...this.#common(status, bytesIn, bytesOut),
      version: response.modelVersion,
      ...(stats === undefined
        ? {}
        : { queue_us: Math.round(stats.queueNs / 1000), compute_us: Math.round(stats.computeNs / 1000), batch_size: stats.batchSize }),
      ...optional('inputs', this.#log.payloads(this.#init.inputs)),
      ...optional('outputs', this.#log.payloads(response.outputs)),
    });
  }

  failed(error: { readonly message: string }, status: number, bytesIn: number): void {
    this.#log.write({
      ...this.#common(status, bytesIn, 0),
      version: this.#init.modelVersion,
      error: error.message,
      ...optional('inputs', this.#log.payloads(this.#init.inputs)),
    });
  }

  #common(status: number, bytesIn: number, bytesOut: number) {
    return {
      request_id: this.#init.id,
      id_generated: this.#generated,
      model: this.#init.modelName,
      protocol: this.#protocol,
      status,
      duration_us: Math.round((nowNs() - this.#startNs) / 1000),
      bytes_in: bytesIn,
      bytes_out: bytesOut,
    };
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** Tensor bytes of a request or response (the gRPC line's sizes). */
export function tensorBytes(tensors: readonly { readonly data: Uint8Array }[]): number {
  let bytes = 0;
  for (const tensor of tensors) bytes += tensor.data.byteLength;
  return bytes;
}
