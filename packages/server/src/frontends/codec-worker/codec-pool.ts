/**
 * Codec workers: large JSON inference bodies are decoded, and large JSON responses encoded, on worker
 * threads, so that a request of millions of JSON values (seconds of parsing) never holds the event
 * loop that answers health probes and every other request. Small bodies stay on the main thread,
 * where the hop (~0.1 ms) would cost more than the work.
 *
 * Each worker's heap is capped: a body whose decoding would need more memory fails that request
 * (400) and the worker is replaced, instead of the whole process reaching its heap limit. Workers
 * start on first use, and leave after a minute idle.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ServerError, invalidArg } from '../../errors/index.js';
import type { InferResponse } from '../../request/infer-response.js';
import type { EncodedInferResponse } from '../http/codec/infer-response.js';
import type { DecodedInferRequest, OutputPlan } from '../http/codec/json-infer.js';
import type { GrpcInferRequest } from '../grpc/convert-request.js';
import { transferables, type CodecJobBody, type CodecReply } from './protocol.js';

/** JSON text above this size is decoded on a worker (~1 ms of parsing on the main thread). */
export const OFFLOAD_JSON_BYTES = 128 * 1024;
/** Responses with more JSON-encoded elements than this are encoded on a worker. */
export const OFFLOAD_JSON_ELEMENTS = 32 * 1024;

const IDLE_EXIT_MS = 60_000;

interface Pending {
  readonly resolve: (reply: CodecReply) => void;
  readonly reject: (error: Error) => void;
}

class CodecWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #gone: Error | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(heapMb: number) {
    this.#worker = new Worker(new URL('./codec-worker.js', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    this.#worker.on('message', (reply: CodecReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      pending?.resolve(reply);
      this.#armIdleExit();
    });
    this.#worker.on('error', (error: Error & { code?: string }) => this.#fail(error));
    this.#worker.on('exit', (code) => this.#fail(new Error(`codec worker exited with code ${code}`)));
    // After the listeners: attaching a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  get busy(): number {
    return this.#pending.size;
  }

  get gone(): boolean {
    return this.#gone !== undefined;
  }

  call(job: CodecJobBody, transfer: ArrayBuffer[]): Promise<CodecReply> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    clearTimeout(this.#idleTimer);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...job, id }, transfer);
    });
  }

  #armIdleExit(): void {
    if (this.#pending.size > 0) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      // Marked gone first: between terminate() and 'exit' no job may be handed to it.
      this.#gone ??= new Error('codec worker left after being idle');
      void this.#worker.terminate();
    }, IDLE_EXIT_MS);
    this.#idleTimer.unref();
  }

  #fail(error: Error & { code?: string }): void {
    if (this.#gone !== undefined) return;
    this.#gone =
      error.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? invalidArg('the request needs more memory to decode or encode than a request may use')
        : error;
    for (const pending of this.#pending.values()) pending.reject(this.#gone);
    this.#pending.clear();
  }
}

/** The process's codec workers: at most one per core (two at least), created as load needs them. */
export class CodecPool {
  readonly #workers: CodecWorker[] = [];
  readonly #size = Math.max(2, availableParallelism());

  /** @param heapMb cap on each worker's heap (MiB). */
  constructor(private readonly heapMb: number) {}

  async decode(
    model: string,
    version: string,
    body: Buffer,
    headerLength: number,
    maxInputSize: number,
  ): Promise<DecodedInferRequest> {
    // A body that owns its memory (as a concatenated one does) is moved, else copied; tensor views
    // into it come back in one moved buffer. The caller does not read the body again.
    const owns = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const sent = owns ? body : Buffer.from(body);
    const transfer = [sent.buffer as ArrayBuffer];
    const job = { kind: 'decode', model, version, body: sent, headerLength, maxInputSize } as const;
    const reply = await this.#worker().call(job, transfer);
    if ('decoded' in reply) return reply.decoded;
    throw replyError(reply);
  }

  /** A gRPC ModelInferRequest's bytes → what the core takes (see decodeInferMessage). */
  async decodeGrpc(message: Uint8Array): Promise<GrpcInferRequest> {
    const owns = message.byteOffset === 0 && message.byteLength === message.buffer.byteLength && message.buffer instanceof ArrayBuffer;
    const sent = owns ? message : Buffer.from(message);
    const reply = await this.#worker().call({ kind: 'grpc-decode', message: sent }, [sent.buffer as ArrayBuffer]);
    if ('grpc' in reply) return reply.grpc;
    throw replyError(reply);
  }

  async encode(response: InferResponse, plan: OutputPlan): Promise<EncodedInferResponse> {
    // Output bytes a tensor owns whole are moved (the response is not read again once encoded).
    const transfer = transferables(response.outputs.map((output) => output.data), true);
    const reply = await this.#worker().call({ kind: 'encode', response, plan }, transfer);
    if ('encoded' in reply) return reply.encoded;
    throw replyError(reply);
  }

  #worker(): CodecWorker {
    for (let i = this.#workers.length - 1; i >= 0; i--) if (this.#workers[i]!.gone) this.#workers.splice(i, 1);
    const idle = this.#workers.find((worker) => worker.busy === 0);
    if (idle !== undefined) return idle;
    if (this.#workers.length < this.#size) {
      const worker = new CodecWorker(this.heapMb);
      this.#workers.push(worker);
      return worker;
    }
    return this.#workers.reduce((least, worker) => (worker.busy < least.busy ? worker : least));
  }
}

function replyError(reply: CodecReply): Error {
  if ('error' in reply) return new ServerError(reply.error.code, reply.error.message);
  return new Error('codec worker sent an unexpected reply');
}

const pools = new Map<number, CodecPool>();

/**
 * The pool for a server whose JSON bodies may reach `maxInputSize` bytes. Decoding JSON takes up to
 * ~16 bytes of heap per byte of text (millions of tiny strings), so each worker may use that much,
 * between 256 MiB and 4 GiB.
 */
export function codecPoolFor(maxInputSize: number): CodecPool {
  const heapMb = Math.min(4096, Math.max(256, Math.ceil((16 * maxInputSize) / (1024 * 1024))));
  let pool = pools.get(heapMb);
  if (pool === undefined) {
    pool = new CodecPool(heapMb);
    pools.set(heapMb, pool);
  }
  return pool;
}
