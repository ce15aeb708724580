import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import { unavailable } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { HttpContext } from './context.js';
import { sendError, sendErrorStatus } from './reply.js';
import { matchRoute, routeParams } from './routes.js';

/**
 * The HTTP/REST frontend: KServe v2 with Triton's extensions on a plain node:http server. Routing
 * is one table (routes.ts); handlers only talk to the InferenceCore.
 */

export interface HttpServerHandle {
  readonly port: number;
  readonly address: string;
  /** Stops accepting, ends idle keep-alive connections, and resolves once every connection closed. */
  close(): Promise<void>;
}

/** Longer than the idle timeouts of common load balancers (60 s), so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 60_000;
/** Generous enough for a 64 MiB body over a slow link. */
const REQUEST_TIMEOUT_MS = 600_000;
const CLOSE_SWEEP_MS = 50;

export async function startHttpServer(
  core: InferenceCore,
  options: HttpOptions,
  logger: Logger,
): Promise<HttpServerHandle> {
  const http: HttpContext = { core, options, logger };
  let closing = false;
  const server = createServer(
    { keepAlive: true, noDelay: true, requireHostHeader: false, requestTimeout: REQUEST_TIMEOUT_MS },
    (req, res) => {
      if (closing) res.setHeader('Connection', 'close');
      dispatch(http, req, res);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  await listen(server, options);
  const bound = server.address() as AddressInfo;
  return {
    port: bound.port,
    address: bound.address,
    close: () => {
      closing = true;
      return new Promise<void>((resolve) => {
        // Connections busy now become idle later; keep sweeping until the last one is gone.
        const sweep = setInterval(() => server.closeIdleConnections(), CLOSE_SWEEP_MS);
        sweep.unref();
        server.close(() => {
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

function listen(server: Server, options: HttpOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? unavailable(`Socket '${options.address}:${options.port}' already in use `)
          : unavailable(`failed to start HTTP service at ${options.address}:${options.port}: ${error.message}`),
      );
    };
    server.once('error', onError);
    server.listen({ port: options.port, host: options.address }, () => {
      server.off('error', onError);
      resolve();
    });
  });
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
