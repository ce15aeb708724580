import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpContext } from '../context.js';
import { sendEmpty, sendErrorStatus } from '../reply.js';

/**
 * Liveness and readiness. As in Triton, "not live/ready" is 400 (not 503): empty for the server,
 * `{"error":"Model version not ready"}` for a model.
 */

export function handleServerLive(http: HttpContext, _req: IncomingMessage, res: ServerResponse): void {
  sendEmpty(res, http.core.isLive() ? 200 : 400);
}

export function handleServerReady(http: HttpContext, _req: IncomingMessage, res: ServerResponse): void {
  sendEmpty(res, http.core.isReady() ? 200 : 400);
}

export function handleModelReady(
  http: HttpContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): void {
  const [model = '', version = ''] = params;
  if (http.core.isModelReady(model, version)) sendEmpty(res, 200);
  else sendErrorStatus(res, 400, 'Model version not ready');
}
