import { preparePreciseTimers, schedulePrecise } from '@nereid/precise-timer';
import { performance } from 'node:perf_hooks';
import { inferRequestMessage, type InferInput, type InferRequest, type RequestedOutput } from '@nereid/client';
import type { Connection } from './connection.js';
import { grpcSender, grpcStreamSender } from './grpc-sender.js';
import { encodeBinaryRequest, httpSender, httpTarget } from './http-sender.js';
import type { RequestDistribution } from './types.js';

/**
 * The load generators: N workers each keeping one request in flight (concurrency mode), or a
 * schedule of sends at a constant or Poisson rate (request-rate mode). Every completed request is one
 * entry of a RequestLog (start, end, time spent sending), appended in completion order, so the
 * requests that ended inside a window are one contiguous slice of the log.
 */

/** Timestamps in ms from performance.now(): fractional, sub-µs resolution, one read per event. */
export class RequestLog {
  start = new Float64Array(1024);
  end = new Float64Array(1024);
  send = new Float64Array(1024);
  responses = new Uint32Array(1024);
  delayed = new Uint8Array(1024);
  length = 0;

  add(start: number, end: number, send: number, responses: number, delayed: boolean): void {
    if (this.length === this.start.length) this.#grow();
    const i = this.length++;
    this.start[i] = start;
    this.end[i] = end;
    this.send[i] = send;
    this.responses[i] = responses;
    this.delayed[i] = delayed ? 1 : 0;
  }

  /** Index of the first entry whose end is at or after `time` (entries are in end order). */
  firstEndingAtOrAfter(time: number, from = 0): number {
    let lo = from;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.end[mid]! < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #grow(): void {
    const size = this.start.length * 2;
    const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a as never);
      return b;
    };
    this.start = grow(this.start, (n) => new Float64Array(n));
    this.end = grow(this.end, (n) => new Float64Array(n));
    this.send = grow(this.send, (n) => new Float64Array(n));
    this.responses = grow(this.responses, (n) => new Uint32Array(n));
    this.delayed = grow(this.delayed, (n) => new Uint8Array(n));
  }
}

/** Sends request number `index`; resolves with the number of responses once the request is complete. */
export type SendFn = (index: number) => Promise<number>;

/** A way to send requests; `open()` gives one sender per worker (a stream each with --streaming). */
export interface RequestChannel {
  open(): Sender;
  /** Releases what the channel holds (the HTTP agent's connections). */
  close(): void;
}

export interface Sender {
  readonly send: SendFn;
  close(): void;
}

export interface ChannelSpec {
  readonly model: string;
  readonly version: string;
  /** One input list per data step, used round robin. */
  readonly inputs: readonly InferInput[][];
  /** Each inline input's wire bytes (same layout as `inputs`), for the pre-encoded HTTP requests. */
  readonly bytes: readonly (readonly (Uint8Array | undefined)[])[];
  readonly headers: Readonly<Record<string, string>>;
  readonly outputs: readonly RequestedOutput[];
  readonly streaming: boolean;
  readonly decoupled: boolean;
}

export function requestChannel(connection: Connection, spec: ChannelSpec): RequestChannel {
  const requests: InferRequest[] = spec.inputs.map((inputs) => ({
    inputs,
    outputs: spec.outputs,
    ...(spec.version === '' ? {} : { modelVersion: spec.version }),
  }));
  if (connection.http !== undefined) {
    const encoded = spec.inputs.map((inputs, step) => encodeBinaryRequest(inputs, spec.bytes[step]!, spec.outputs));
    const sender = httpSender(httpTarget(connection.target, spec.model, spec.version, spec.headers), encoded);
    return { open: () => ({ send: sender.send, close: () => undefined }), close: sender.close };
  }
  // The messages are built once: each send only serializes.
  const messages = requests.map((r) => inferRequestMessage(spec.model, r));
  if (!spec.streaming) {
    const sender = grpcSender(connection.target, messages, spec.headers);
    return { open: () => ({ send: sender.send, close: () => undefined }), close: sender.close };
  }
  // Decoupled models mark their last response (an empty one when needed).
  const streamMessages = spec.decoupled ? requests.map((r) => inferRequestMessage(spec.model, { ...r, parameters: { triton_enable_empty_final_response: true } })) : messages;
  return grpcStreamSender(connection.target, streamMessages, spec.headers, spec.decoupled);
}

/** A running load: stop() ends sending and resolves once every request in flight has completed. */
export interface RunningLoad {
  readonly log: RequestLog;
  /** Requests sent so far (request-rate mode: to compute the send rate). */
  sent(): number;
  /** The first failure (with the worker number), if any. */
  failure(): { worker: number; error: unknown } | undefined;
  stop(): Promise<void>;
}

/** `concurrency` workers, each sending its next request as soon as its previous one completes. */
export function startConcurrency(channel: RequestChannel, concurrency: number): RunningLoad {
  const log = new RequestLog();
  let running = true;
  let counter = 0;
  let failed: { worker: number; error: unknown } | undefined;
  const worker = async (id: number): Promise<void> => {
    const sender = channel.open();
    try {
      while (running) {
        const start = performance.now();
        const pending = sender.send(counter++);
        const sent = performance.now();
        try {
          const responses = await pending;
          log.add(start, performance.now(), sent - start, responses, false);
        } catch (error) {
          failed ??= { worker: id, error };
          running = false;
        }
      }
    } finally {
      sender.close();
    }
  };
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
  return {
    log,
    sent: () => counter,
    failure: () => failed,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

/**
 * Requests sent on a schedule: intervals of 1/rate (constant) or exponentially distributed with mean
 * 1/rate (poisson), whatever the number in flight. A request sent more than 1 ms after its scheduled
 * time counts as delayed (perf_analyzer warns when more than 1 % are).
 */
export function startRequestRate(channel: RequestChannel, rate: number, distribution: RequestDistribution): RunningLoad {
  preparePreciseTimers();
  const log = new RequestLog();
  const sender = channel.open();
  let running = true;
  let counter = 0;
  let inFlight = 0;
  let failed: { worker: number; error: unknown } | undefined;
  let drained: (() => void) | undefined;
  let cancelTimer: (() => void) | undefined;
  const meanMs = 1000 / rate;
  const interval = distribution === 'poisson' ? () => -Math.log(1 - Math.random()) * meanMs : () => meanMs;
  let next = performance.now();
  const fire = (scheduled: number): void => {
    const start = performance.now();
    inFlight++;
    const pending = sender.send(counter++);
    const sent = performance.now();
    const delayed = start - scheduled > 1;
    pending.then(
      (responses) => {
        log.add(start, performance.now(), sent - start, responses, delayed);
        if (--inFlight === 0) drained?.();
      },
      (error: unknown) => {
        failed ??= { worker: 0, error };
        running = false;
        if (--inFlight === 0) drained?.();
      },
    );
  };
  const tick = (): void => {
    cancelTimer = undefined;
    if (!running) return;
    let now = performance.now();
    while (next <= now && running) {
      fire(next);
      next += interval();
      now = performance.now();
    }
    // setTimeout wakes 0.1–1 ms late, sending pairs back to back at 1000/s; the precise timer ~20–50 µs.
    if (running) cancelTimer = schedulePrecise((next - now) * 1e6, tick);
  };
  tick();
  return {
    log,
    sent: () => counter,
    failure: () => failed,
    stop: async () => {
      running = false;
      cancelTimer?.();
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      sender.close();
    },
  };
}
