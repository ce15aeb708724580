import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArg, unsupported } from '../../../errors/index.js';
import { jsonTooLarge, readBody } from '../body.js';
import { NOT_STRING, asBool, fieldError, isJsonObject, member } from '../codec/json-fields.js';
import { parseJson, type JsonValue } from '../codec/json-parse.js';
import { toJsonText } from '../codec/json-text.js';
import type { HttpContext } from '../context.js';
import { JSON_TYPE, sendEmpty, sendJson } from '../reply.js';

/**
 * The model repository extension: index, load and unload. Bodies are optional JSON; load blocks
 * until the model is loaded or failed, unload returns when the core accepts it.
 */

async function readOptionalJson(http: HttpContext, req: IncomingMessage): Promise<JsonValue | undefined> {
  const limit = http.options.maxInputSize;
  const body = await readBody(req, limit, jsonTooLarge(limit));
  return body.length === 0 ? undefined : parseJson(body);
}

export async function handleRepositoryIndex(http: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await readOptionalJson(http, req);
  const ready = member(request, 'ready');
  if (ready !== undefined && typeof ready !== 'boolean') {
    throw invalidArg("Invalid value for 'ready': expected a boolean");
  }
  const entries = await http.core.repositoryIndex({ readyOnly: ready === true });
  sendJson(res, 200, toJsonText(entries));
}

/**
 * Load parameters: `config` (ModelConfig JSON text) and `file:<version>/<path>` (base64 content,
 * handed to the core decoded). Every value must be a string, as in Triton.
 */
export async function handleModelLoad(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  const [model = ''] = params;
  const request = await readOptionalJson(http, req);
  const raw = member(request, 'parameters');
  const parameters: Record<string, unknown> = {};
  if (isJsonObject(raw)) {
    for (const key of Object.keys(raw)) {
      const value = raw[key];
      if (typeof value !== 'string') throw fieldError(`Unable to parse '${key}'`, NOT_STRING);
      parameters[key] = key.startsWith('file:') ? Buffer.from(value, 'base64') : value;
    }
  }
  await http.core.loadModel(model, parameters);
  sendEmpty(res, 200, JSON_TYPE);
}

export async function handleModelUnload(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  const [model = ''] = params;
  const request = await readOptionalJson(http, req);
  const flag = member(member(request, 'parameters'), 'unload_dependents');
  const unloadDependents = flag === undefined ? false : asBool(flag, "Unable to parse 'unload_dependents'");
  await http.core.unloadModel(model, { unloadDependents });
  sendEmpty(res, 200, JSON_TYPE);
}

/** `/v2/repository/{repository}/models/...`: Triton refuses to name a repository. */
export function handleNamedRepositoryControl(): never {
  throw unsupported("'repository_name' specification is not supported");
}
