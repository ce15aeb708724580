import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArg, unsupported } from '../../../errors/index.js';
import { jsonTooLarge, readBody } from '../body.js';
import { isJsonObject } from '../codec/json-fields.js';
import { parseJson } from '../codec/json-parse.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

/**
 * Tracing is not implemented yet, so the trace extension reports Triton's defaults (tracing off, in
 * the key order of Triton's answer) and refuses updates, as the gRPC TraceSetting RPC does.
 * tritonclient's get/update_trace_settings then behave the same over both protocols.
 */
const TRACE_DEFAULTS = JSON.stringify({
  trace_level: ['OFF'],
  trace_rate: '1000',
  trace_count: '-1',
  log_frequency: '0',
  trace_file: '',
  trace_mode: 'triton',
});

/** `GET|POST /v2/trace/setting`: the global trace settings. */
export function handleTraceSetting(http: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return answer(http, req, res, '');
}

/** `GET|POST /v2/models/{model}/trace/setting`: one model's settings (Triton takes no version). */
export function handleModelTraceSetting(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  return answer(http, req, res, params[0] ?? '');
}

async function answer(http: HttpContext, req: IncomingMessage, res: ServerResponse, model: string): Promise<void> {
  // Triton checks the model before reading the body, with this wording (note the space before ':').
  if (model !== '' && !http.core.isModelReady(model, '')) throw invalidArg(`Request for unknown model : ${model}`);
  if (req.method === 'POST') {
    const limit = http.options.maxInputSize;
    const body = await readBody(req, limit, jsonTooLarge(limit));
    // An empty body is allowed (Triton reads it as no change); a non-object changes nothing either.
    const request = body.length === 0 ? {} : parseJson(body);
    if (isJsonObject(request)) {
      if (Object.hasOwn(request, 'trace_file')) {
        throw unsupported('trace file location can not be updated through network protocol');
      }
      if (Object.keys(request).length > 0) {
        throw unsupported('trace settings can not be updated: this server does not trace requests yet');
      }
    }
  }
  sendJson(res, 200, TRACE_DEFAULTS);
}
