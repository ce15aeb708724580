import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TensorMetadata } from '../../../core/types.js';
import { toJsonText } from '../codec/json-text.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

/** Server metadata, model metadata and model configuration, in Triton's JSON key order. */

export function handleServerMetadata(http: HttpContext, _req: IncomingMessage, res: ServerResponse): void {
  const { name, version, extensions } = http.core.serverMetadata();
  sendJson(res, 200, JSON.stringify({ name, version, extensions }));
}

export function handleModelMetadata(
  http: HttpContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): void {
  const [model = '', version = ''] = params;
  const metadata = http.core.modelMetadata(model, version);
  sendJson(
    res,
    200,
    JSON.stringify({
      name: metadata.name,
      versions: metadata.versions,
      platform: metadata.platform,
      inputs: metadata.inputs.map(tensorJson),
      outputs: metadata.outputs.map(tensorJson),
    }),
  );
}

function tensorJson(tensor: TensorMetadata): TensorMetadata {
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
}

export function handleModelConfig(
  http: HttpContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): void {
  const [model = '', version = ''] = params;
  sendJson(res, 200, toJsonText(http.core.modelConfigJson(model, version)));
}
