import type { ServerHttp2Session } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { GrpcOptions } from '../../../core/server-options.js';

/**
 * The per-connection rules gRPC servers apply, with Triton's `--grpc-*` flags:
 * - keepalive: a PING every `keepaliveTimeMs`, only while calls are open unless pings without calls
 *   are permitted, at most `maxPingsWithoutData` in a row before the server sends headers or data
 *   again (0: no limit); no ack within `keepaliveTimeoutMs` closes the connection;
 * - ping abuse: a client PING sooner than `minRecvPingIntervalWithoutDataMs` after the previous one
 *   (two hours when no call is open and pings without calls are not permitted) is a strike; more than
 *   `maxPingStrikes` strikes (0: no limit) end the connection with GOAWAY ENHANCE_YOUR_CALM
 *   "too_many_pings", as grpc core does; sending headers or data clears the strikes;
 * - connection age: past `maxConnectionAgeMs` (±10 %) the server sends GOAWAY, and past the grace
 *   period after that it closes the connection.
 */
export type SessionPolicyOptions = Pick<
  GrpcOptions,
  | 'keepaliveTimeMs'
  | 'keepaliveTimeoutMs'
  | 'keepalivePermitWithoutCalls'
  | 'http2MaxPingsWithoutData'
  | 'http2MinRecvPingIntervalWithoutDataMs'
  | 'http2MaxPingStrikes'
  | 'maxConnectionAgeMs'
  | 'maxConnectionAgeGraceMs'
>;

/** grpc core's interval for pings when no call is open and they are not permitted. */
const NO_CALL_PING_INTERVAL_MS = 2 * 60 * 60 * 1000;
const TOO_MANY_PINGS = Buffer.from('too_many_pings');

export class SessionPolicy {
  readonly #session: ServerHttp2Session;
  readonly #options: SessionPolicyOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #openCalls = 0;
  /** Open calls whose response has started: their DATA frames may still be leaving. */
  #responding = 0;
  #pingsWithoutData = 0;
  #pingStrikes = 0;
  #lastPingReceived = -Infinity;

  constructor(session: ServerHttp2Session, options: SessionPolicyOptions) {
    this.#session = session;
    this.#options = options;
    session.on('ping', this.#onPing);
    session.once('close', () => this.#stop());
    if (options.keepaliveTimeMs > 0 && options.keepaliveTimeMs < 2 ** 31) this.#every(options.keepaliveTimeMs, this.#keepalive);
    if (options.maxConnectionAgeMs > 0) this.#after(jittered(options.maxConnectionAgeMs), this.#tooOld);
  }

  get openCalls(): number {
    return this.#openCalls;
  }

  callStarted(): void {
    this.#openCalls++;
  }

  callEnded(responded: boolean): void {
    this.#openCalls--;
    if (responded) this.#responding--;
  }

  /** A call sent its response headers; until it ends, data is being sent on this connection. */
  responseStarted(): void {
    this.#responding++;
  }

  /** The server sent headers or data: pings are welcome again. */
  sent(): void {
    this.#pingsWithoutData = 0;
    this.#pingStrikes = 0;
    this.#lastPingReceived = -Infinity;
  }

  readonly #keepalive = (): void => {
    const o = this.#options;
    const session = this.#session;
    if (session.closed || session.destroyed) return;
    if (this.#openCalls === 0 && !o.keepalivePermitWithoutCalls) return;
    if (o.http2MaxPingsWithoutData > 0 && this.#pingsWithoutData >= o.http2MaxPingsWithoutData) return;
    this.#pingsWithoutData++;
    const watchdog = setTimeout(() => session.destroy(), o.keepaliveTimeoutMs);
    watchdog.unref();
    try {
      session.ping((error) => {
        clearTimeout(watchdog);
        if (error !== null) session.destroy();
      });
    } catch {
      clearTimeout(watchdog);
    }
  };

  readonly #onPing = (): void => {
    // gRPC core clears strikes on every DATA frame it sends; Node does not report frames, so a ping
    // while a response is still leaving (a client's BDP probe during a large tensor) counts as
    // arriving with data.
    if (this.#responding > 0) {
      this.sent();
      this.#lastPingReceived = Date.now();
      return;
    }
    const o = this.#options;
    const now = Date.now();
    const interval =
      this.#openCalls === 0 && !o.keepalivePermitWithoutCalls ? NO_CALL_PING_INTERVAL_MS : o.http2MinRecvPingIntervalWithoutDataMs;
    if (now < this.#lastPingReceived + interval) this.#pingStrikes++;
    this.#lastPingReceived = now;
    if (o.http2MaxPingStrikes > 0 && this.#pingStrikes > o.http2MaxPingStrikes) {
      this.#session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM, 0, TOO_MANY_PINGS);
      this.#session.close();
    }
  };

  readonly #tooOld = (): void => {
    const session = this.#session;
    if (session.closed || session.destroyed) return;
    session.close();
    if (this.#options.maxConnectionAgeGraceMs > 0) this.#after(this.#options.maxConnectionAgeGraceMs, () => session.destroy());
  };

  #every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #after(ms: number, run: () => void): void {
    const timer = setTimeout(run, Math.min(ms, 2 ** 31 - 1));
    timer.unref();
    this.#timers.push(timer);
  }

  #stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.length = 0;
  }
}

function jittered(ms: number): number {
  return ms * (0.9 + Math.random() * 0.2);
}
