import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonTooLarge, readBody } from '../body.js';
import { isJsonObject } from '../codec/json-fields.js';
import { parseJson } from '../codec/json-parse.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

/** Settings Triton's `/v2/logging` reads from a POST body; other keys are ignored, as in Triton. */
const LOG_KEYS: readonly string[] = ['log_file', 'log_info', 'log_warning', 'log_error', 'log_verbose_level', 'log_format'];

/**
 * `GET|POST /v2/logging`: the logging extension. A POST applies the given settings (null means
 * "leave as is") and, like a GET, answers with the full settings object.
 */
export async function handleLogging(http: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let settings;
  if (req.method === 'POST') {
    const limit = http.options.maxInputSize;
    const request = parseJson(await readBody(req, limit, jsonTooLarge(limit)));
    const update: Record<string, unknown> = {};
    if (isJsonObject(request)) {
      for (const key of LOG_KEYS) {
        const value = request[key];
        if (Object.hasOwn(request, key) && value !== null) update[key] = value;
      }
    }
    settings = http.core.updateLogSettings(update);
  } else {
    settings = http.core.logSettings();
  }
  const { log_file, log_info, log_warning, log_error, log_verbose_level, log_format } = settings;
  sendJson(res, 200, JSON.stringify({ log_file, log_info, log_warning, log_error, log_verbose_level, log_format }));
}
