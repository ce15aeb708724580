import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJsonText } from '../codec/json-text.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

/** The statistics extension: `{"model_stats":[...]}` for every model, one model, or one version. */

export function handleAllStatistics(http: HttpContext, _req: IncomingMessage, res: ServerResponse): void {
  sendStatistics(http, res, '', '');
}

export function handleModelStatistics(
  http: HttpContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): void {
  const [model = '', version = ''] = params;
  sendStatistics(http, res, model, version);
}

function sendStatistics(http: HttpContext, res: ServerResponse, model: string, version: string): void {
  const payload = http.core.modelStatistics(model, version);
  sendJson(res, 200, toJsonText({ model_stats: payload.model_stats }));
}
