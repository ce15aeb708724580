import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_SERVER_OPTIONS, type HttpOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import { unavailable } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { HttpContext } from './context.js';
import { ConnectionTracker } from './connections.js';
import { listen } from './listen.js';
import { JSON_TYPE, errorJson, sendError, sendErrorStatus } from './reply.js';
import { matchRoute, routeParams } from './routes.js';

/**
 * The HTTP/REST frontend: KServe v2 with Triton's extensions on a plain node:http server. Routing
 * is one table (routes.ts); handlers only talk to the InferenceCore.
 */

export interface HttpServerHandle {
  readonly port: number;
  readonly address: string;
  /** Requests received whose responses are not written out in full yet. */
  readonly inFlight: number;
  /**
   * Starts a graceful exit: new inference requests are refused (503, as UNAVAILABLE maps), every
   * other endpoint keeps answering, each response closes its connection, and idle keep-alive
   * connections are ended. Requests already received run to the end of their response.
   */
  startDraining(): void;
  /** Resolves once no request is in flight. */
  drained(): Promise<void>;
  /**
   * Drains (if not yet), then stops listening and resolves once every connection closed. No
   * connection is cut while a response is still being written to it.
   */
  close(): Promise<void>;
  /** Cuts every connection now, whatever it is still sending: the exit deadline passed. */
  forceClose(): void;
}

/** HttpOptions with Nereid's own limits optional (they default to DEFAULT_SERVER_OPTIONS'). */
export type HttpServerOptions = Omit<HttpOptions, 'bodyTimeoutSecs' | 'maxConnections'> &
  Partial<Pick<HttpOptions, 'bodyTimeoutSecs' | 'maxConnections'>>;

/** Longer than the idle timeouts of common load balancers (60 s), so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Node's slow-header (slowloris) protection, unchanged. */
const HEADERS_TIMEOUT_MS = 60_000;
/** At most one "connection limit reached" warning per this period; the rest go to verbose. */
const DROP_WARNING_INTERVAL_MS = 60_000;

/** Triton's wording for calls refused during shutdown (its gRPC frontend's), naming this frontend. */
export const SHUTTING_DOWN_MESSAGE = 'HTTP server is shutting down and has stopped accepting new requests.';

export async function startHttpServer(
  core: InferenceCore,
  serverOptions: HttpServerOptions,
  logger: Logger,
): Promise<HttpServerHandle> {
  const options: HttpOptions = { ...DEFAULT_SERVER_OPTIONS.http, ...serverOptions };
  const http: HttpContext = { core, options, logger };
  const bodyDeadlines = new BodyDeadlines(options.bodyTimeoutSecs * 1000);
  const server = createServer(
    // requestTimeout 0: Node's whole-request timer (checked only every 30 s) gives way to the
    // per-request body timer below; headersTimeout still guards the headers.
    { keepAlive: true, noDelay: true, requireHostHeader: false, requestTimeout: 0 },
    (req, res) => {
      connections.track(req, res);
      bodyDeadlines.watch(req, res);
      if (connections.draining && isInference(req)) {
        sendError(res, unavailable(SHUTTING_DOWN_MESSAGE), logger);
        return;
      }
      dispatch(http, req, res);
    },
  );
  const connections = new ConnectionTracker(server);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Node closes connections accepted beyond the limit at once ('drop').
  server.maxConnections = options.maxConnections;
  let lastDropWarning = -Infinity;
  server.on('drop', () => {
    const now = Date.now();
    const message = `HTTP connection refused: --http-max-connections=${options.maxConnections} connections are open`;
    if (now - lastDropWarning >= DROP_WARNING_INTERVAL_MS) {
      lastDropWarning = now;
      logger.warn(message);
    } else if (logger.settings.verboseLevel >= 1) logger.verbose(1, message);
  });
  await listen(server, options, 'HTTP');
  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: bound.port,
    address: bound.address,
    get inFlight() {
      return connections.inFlight;
    },
    startDraining: () => connections.startDraining(),
    drained: () => connections.drained(),
    close() {
      closing ??= (async () => {
        connections.startDraining();
        await connections.drained();
        // http.Server's close() destroys every connection whose response was ended, even one still
        // being written; called right after the drain (no response unwritten), it destroys only
        // connections with nothing left to send. Ones still receiving a request's headers (which
        // Node skips) are ended gracefully.
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          connections.endIdleConnections();
        });
      })();
      return closing;
    },
    forceClose: () => connections.destroyAll(),
  };
}

/** Inference work a draining server refuses: the `inference` routes. */
function isInference(req: IncomingMessage): boolean {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return matchRoute(query === -1 ? url : url.slice(0, query))?.route.category === 'inference';
}

/**
 * A request body must arrive in full within `--http-body-timeout-secs` of its headers; otherwise
 * the client gets a 408 (if nothing was answered yet) and the connection is closed, so a stalled
 * upload cannot hold a connection and its buffers. Most bodies arrive with their headers, in the
 * same read: requests are only noted when their headers come, and a timer is armed at the end of
 * that turn of the event loop for those whose body is still incomplete, sparing the others a
 * timer and two listeners.
 */
class BodyDeadlines {
  readonly #timeoutMs: number;
  /** Responses (their request is res.req) whose headers came in this turn of the event loop. */
  #noted: ServerResponse[] = [];

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  watch(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete || this.#timeoutMs <= 0) return;
    if (this.#noted.push(res) === 1) setImmediate(() => this.#armIncomplete());
  }

  #armIncomplete(): void {
    const noted = this.#noted;
    this.#noted = [];
    for (const res of noted) {
      if (!res.req.complete && !res.writableEnded && !res.destroyed) limitBodyTime(res.req, res, this.#timeoutMs);
    }
  }
}

function limitBodyTime(req: IncomingMessage, res: ServerResponse, timeoutMs: number): void {
  const timer = setTimeout(() => {
    if (req.complete || res.writableEnded) return;
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const body = Buffer.from(errorJson(`request body not received within ${timeoutMs / 1000} s`), 'utf8');
    res.writeHead(408, { 'Content-Type': JSON_TYPE, 'Content-Length': body.length, Connection: 'close' });
    res.end(body);
  }, timeoutMs);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  req.once('end', stop);
  res.once('close', stop);
}

function dispatch(http: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (http.logger.settings.verboseLevel >= 1) http.logger.verbose(1, `HTTP request: ${req.method ?? ''} ${path}`);
  const match = matchRoute(path);
  if (match === undefined) {
    sendErrorStatus(res, 404, 'Not Found');
    return;
  }
  const handler = match.route.methods[req.method ?? ''];
  if (handler === undefined) {
    sendErrorStatus(res, 405, 'Method Not Allowed');
    return;
  }
  try {
    const result = handler(http, req, res, routeParams(match));
    if (result !== undefined) result.catch((error: unknown) => sendError(res, error, http.logger));
  } catch (error) {
    sendError(res, error, http.logger);
  }
}
