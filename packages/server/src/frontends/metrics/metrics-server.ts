/**
 * The Prometheus endpoint (`--metrics-port`, 8002): Triton's HTTPMetricsServer. `GET /metrics` (or
 * `/metrics/`) answers the text of every metric; another method is 405 with Triton's JSON error;
 * another path is an empty 200, as Triton answers it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsSource } from '../../core/types.js';
import type { Logger } from '../../observability/logger.js';
import { listen } from '../http/listen.js';
import { sendError, sendErrorStatus } from '../http/reply.js';

export interface MetricsServerOptions {
  readonly port: number;
  readonly address: string;
}

export interface MetricsServerHandle {
  readonly port: number;
  readonly address: string;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const METRICS_PATH = /^\/metrics\/?$/;

export async function startMetricsServer(source: MetricsSource, options: MetricsServerOptions, logger: Logger): Promise<MetricsServerHandle> {
  const server = createServer({ keepAlive: true, requireHostHeader: false }, (req, res) => {
    void handle(source, req, res, logger);
  });
  await listen(server, options, 'Metrics');
  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: bound.port,
    address: options.address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(source: MetricsSource, req: IncomingMessage, res: ServerResponse, logger: Logger): Promise<void> {
  req.resume();
  if (req.method !== 'GET') {
    sendErrorStatus(res, 405, 'Method Not Allowed');
    return;
  }
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (!METRICS_PATH.test(path)) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 }).end();
    return;
  }
  try {
    const { contentType, text } = await source.metricsText();
    const body = Buffer.from(text);
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length }).end(body);
  } catch (error) {
    sendError(res, error, logger);
  }
}
