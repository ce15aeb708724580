import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArg } from '../../../errors/index.js';
import { traceUpdateFromJson } from '../../../observability/tracing/trace-update.js';
import type { TraceSettingView } from '../../../observability/tracing/trace-manager.js';
import { jsonTooLarge, readBody } from '../body.js';
import { isJsonObject } from '../codec/json-fields.js';
import { parseJson } from '../codec/json-parse.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

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

/**
 * Triton's HandleTrace: a POST applies its update first (values are strings, null clears a field),
 * then the current setting is answered, `log_frequency` and `trace_file` in Triton mode only, then the
 * mode's `--trace-config` settings.
 */
async function answer(http: HttpContext, req: IncomingMessage, res: ServerResponse, model: string): Promise<void> {
  // Triton checks the model before reading the body, with this wording (note the space before ':').
  if (model !== '' && !http.core.isModelReady(model, '')) throw invalidArg(`Request for unknown model : ${model}`);
  let view: TraceSettingView;
  if (req.method === 'POST') {
    const limit = http.options.maxInputSize;
    const body = await readBody(req, limit, jsonTooLarge(limit));
    // An empty body is allowed (Triton reads it as no change); a non-object changes nothing either.
    const request = body.length === 0 ? {} : parseJson(body);
    view = http.core.updateTraceSetting(model, isJsonObject(request) ? traceUpdateFromJson(request) : {});
  } else {
    view = http.core.traceSetting(model);
  }
  sendJson(res, 200, viewJson(view));
}

/** Written by hand: Triton's answer repeats a key given twice in `--trace-config` (`resource`). */
function viewJson(view: TraceSettingView): string {
  const members = view.map(([key, values]) =>
    `${JSON.stringify(key)}:${key === 'trace_level' ? JSON.stringify(values) : JSON.stringify(values[0] ?? '')}`,
  );
  return `{${members.join(',')}}`;
}
