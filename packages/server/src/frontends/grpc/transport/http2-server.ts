import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type ServerStreamResponseOptions,
  type Settings,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { CompressionLevel } from './compression.js';
import type { Route } from './method-table.js';
import { ServerCall, type CallEnvironment } from './server-call.js';
import { SessionPolicy, type SessionPolicyOptions } from './session-policy.js';
import { Status, statusFields, type CallStatus } from './status.js';

/**
 * gRPC over `node:http2`: routes each stream by its path to a method of the route table and runs it
 * as a ServerCall. Chosen over grpc-js for cost (docs/design/0005). HTTP/2 windows are opened wide
 * so that multi-megabyte tensors are not throttled by 64 KiB flow-control round trips.
 */

export interface Http2GrpcOptions extends SessionPolicyOptions {
  readonly host: string;
  readonly port: number;
  readonly maxMessageLength: number;
  readonly responseCompression: CompressionLevel;
  /** TLS: the key and certificate, and for client certificates the CA and whether one is required. */
  readonly tls?: Pick<SecureServerOptions, 'key' | 'cert' | 'ca' | 'requestCert' | 'rejectUnauthorized'>;
  readonly statusOf: (error: unknown) => CallStatus;
  /** Refuses a call before it starts (a draining server refuses new inference), or lets it run. */
  readonly admit: (route: Route) => CallStatus | undefined;
}

/** Per-stream receive window: a 4 MiB tensor arrives without waiting for WINDOW_UPDATEs. */
const STREAM_WINDOW = 16 * 1024 * 1024;
/** Connection window: several such streams at once. */
const CONNECTION_WINDOW = 64 * 1024 * 1024;
/** Largest DATA frame the client may send: fewer, larger chunks for big messages. */
const MAX_FRAME_SIZE = 1024 * 1024;

const SETTINGS: Settings = {
  initialWindowSize: STREAM_WINDOW,
  maxFrameSize: MAX_FRAME_SIZE,
  enablePush: false,
};

/** What calls on one connection share: the server's limits and the connection's policy. */
type SessionEnvironment = CallEnvironment & { readonly started: () => void };
const environmentOf = Symbol('grpc session environment');
type CallingSession = ServerHttp2Session & { [environmentOf]?: SessionEnvironment };

export class Http2GrpcServer {
  readonly #routes: ReadonlyMap<string, Route>;
  readonly #options: Http2GrpcOptions;
  readonly #server: Http2Server | Http2SecureServer;
  readonly #sessions = new Set<ServerHttp2Session>();
  /** For a stream whose session is already gone (a race at close). */
  readonly #detached: SessionEnvironment;
  #inFlight = 0;
  #onIdle: Array<() => void> = [];

  constructor(routes: ReadonlyMap<string, Route>, options: Http2GrpcOptions) {
    this.#routes = routes;
    this.#options = options;
    this.#detached = this.#environment(undefined);
    const common = {
      settings: SETTINGS,
      // Node refuses new streams when a session's buffered data passes this (10 MB by default); large
      // tensors in flight on one connection are normal here, so the limit is the message size checks.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    };
    this.#server = options.tls
      ? createSecureServer({ ...common, ...options.tls, allowHTTP1: false })
      : createServer(common);
    this.#server.on('session', this.#onSession);
    this.#server.on('stream', this.#onStream);
    this.#server.on('sessionError', ignore);
    this.#server.on('unknownProtocol', (socket) => socket.destroy());
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /** Resolves once no call is open. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#onIdle.push(resolve));
  }

  /** Stops accepting connections and sends GOAWAY on every open one; resolves when all are closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    return closed;
  }

  /** Cuts every connection now. */
  destroy(): void {
    this.#server.close();
    for (const session of this.#sessions) session.destroy();
  }

  readonly #onSession = (session: CallingSession): void => {
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    session.on('error', ignore);
    session[environmentOf] = this.#environment(new SessionPolicy(session, this.#options));
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW);
    } catch {
      // A session that is already closing keeps its window.
    }
  };

  readonly #onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const route = this.#routes.get(headers[':path'] ?? '');
    const type = headers['content-type'];
    if (typeof type !== 'string' || !type.startsWith('application/grpc')) {
      // What the gRPC spec asks of a request that is not gRPC.
      trailersOnly(stream, { code: Status.UNKNOWN, details: `content-type "${String(type)}" is not application/grpc` }, 415);
      return;
    }
    const refusal = refusalOf(headers, route) ?? this.#options.admit(route!);
    if (refusal !== undefined) {
      trailersOnly(stream, refusal);
      return;
    }
    const env = (stream.session as CallingSession | undefined)?.[environmentOf] ?? this.#detached;
    this.#inFlight++;
    env.started();
    new ServerCall(stream, headers, route!, env);
  };

  /** Made once per connection, not per call. */
  #environment(policy: SessionPolicy | undefined): SessionEnvironment {
    return {
      maxMessageLength: this.#options.maxMessageLength,
      responseCompression: this.#options.responseCompression,
      statusOf: this.#options.statusOf,
      started: () => policy?.callStarted(),
      ended: (responded) => {
        policy?.callEnded(responded);
        this.#callEnded();
      },
      responseStarted: () => policy?.responseStarted(),
      sent: () => policy?.sent(),
    };
  }

  #callEnded(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) for (const resolve of this.#onIdle.splice(0)) resolve();
  }
}

/** What gRPC servers answer before looking at a call: wrong HTTP method or unknown path. */
function refusalOf(headers: IncomingHttpHeaders, route: Route | undefined): CallStatus | undefined {
  if (headers[':method'] !== 'POST') {
    return { code: Status.UNIMPLEMENTED, details: `method ${String(headers[':method'])} is not supported: gRPC calls are POSTs` };
  }
  if (route === undefined) {
    return { code: Status.UNIMPLEMENTED, details: `unknown method ${String(headers[':path'])}` };
  }
  return undefined;
}

function trailersOnly(stream: ServerHttp2Stream, status: CallStatus, httpStatus = 200): void {
  stream.on('error', ignore);
  if (stream.destroyed || stream.closed) return;
  stream.respond(
    { ':status': httpStatus, 'content-type': 'application/grpc', ...statusFields(status) },
    END_STREAM,
  );
  // The request's body, if any, is read and dropped.
  stream.resume();
}

/** `sendDate` is honoured by Node but missing from its types: gRPC responses carry no date. */
const END_STREAM = { endStream: true, sendDate: false } as ServerStreamResponseOptions;

function ignore(): void {
  // Session and socket errors also close them; the close handlers clean up.
}
