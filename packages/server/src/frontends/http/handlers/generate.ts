import type { IncomingMessage, ServerResponse } from 'node:http';
import { elementCount, isDatatype } from '@nereid/protocol';
import type { TensorMetadata } from '../../../core/types.js';
import { ServerError, internal, invalidArg, quoted, toServerError } from '../../../errors/index.js';
import type { InputTensorInit } from '../../../request/infer-request-init.js';
import type { InferResponse, OutputTensor } from '../../../request/infer-response.js';
import type { ParameterValue } from '../../../tensor/tensor.js';
import { jsonTooLarge, readBody } from '../body.js';
import { bytesLeavesSize, encodeJsonLeaves, writeJsonData, type JsonSink } from '../codec/json-tensor.js';
import { isJsonObject } from '../codec/json-fields.js';
import { JsonBytes, parseJson, type JsonValue } from '../codec/json-parse.js';
import type { HttpContext } from '../context.js';
import { sendJson } from '../reply.js';

/**
 * Triton's generate extension: `POST /v2/models/{m}[/versions/{v}]/generate` and `/generate_stream`.
 * The body is one JSON object; each top-level key (and each key of its `parameters` object) that names
 * a model input becomes that input's tensor, shaped from the model's metadata, and every other key a
 * request parameter. The response is one JSON object with `model_name`, `model_version`, `id` (when
 * given) and each output by name (a one-element output as a scalar), keys in Triton's (sorted) order;
 * `/generate_stream` sends it as a server-sent event. For every backend; a model with many responses
 * per request needs the decoupled path (not served yet: one response per request).
 */
export function handleGenerate(http: HttpContext, req: IncomingMessage, res: ServerResponse, params: readonly string[]): Promise<void> {
  return generate(http, req, res, params, false);
}

export function handleGenerateStream(http: HttpContext, req: IncomingMessage, res: ServerResponse, params: readonly string[]): Promise<void> {
  return generate(http, req, res, params, true);
}

async function generate(http: HttpContext, req: IncomingMessage, res: ServerResponse, params: readonly string[], streaming: boolean): Promise<void> {
  const [model = '', version = ''] = params;
  const metadata = http.core.modelMetadata(model, version);
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw invalidArg("Unsupported content-encoding, only 'identity' is supported.");
  }
  const limit = http.options.maxInputSize;
  const body = await readBody(req, limit, jsonTooLarge(limit));
  const json = body.length === 0 ? {} : parseJson(body);
  if (!isJsonObject(json)) throw invalidArg('JSON root must be an object');
  const inputs = new Map(metadata.inputs.map((input) => [input.name, input]));
  const request = new GenerateRequest(inputs, limit);
  request.convert(json, true);
  const id = json['id'];
  if (id !== undefined && typeof id !== 'string' && !(id instanceof JsonBytes)) throw invalidArg('id field must be a string');
  const init = {
    modelName: model,
    modelVersion: version,
    id: id === undefined ? '' : typeof id === 'string' ? id : Buffer.from(id.bytes).toString('utf8'),
    parameters: request.parameters,
    inputs: request.inputs,
    outputs: undefined,
  };
  const texts: string[] = [];
  if (!streaming) {
    let failure: ServerError | undefined;
    await http.core.inferStream(init, {
      listen: (event) => {
        if (event.error !== undefined) failure ??= event.error;
        else if (event.response !== undefined) texts.push(responseText(event.response));
      },
    });
    if (failure !== undefined) throw failure;
    if (texts.length !== 1) {
      throw internal(
        'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses',
      );
    }
    sendJson(res, 200, texts[0]!);
    return;
  }
  // Events as they come; the status goes with the first one, so a later error is an error event.
  const send = (text: string): void => {
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
    res.write(`data: ${text}\n\n`);
  };
  try {
    await http.core.inferStream(init, {
      listen: (event) => {
        if (event.error !== undefined) send(JSON.stringify({ error: event.error.message }));
        else if (event.response !== undefined) send(responseText(event.response));
      },
    });
  } catch (error) {
    if (!res.headersSent) throw error;
    send(JSON.stringify({ error: toServerError(error).message }));
  }
  if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
  res.end();
}

function responseText(response: InferResponse): string {
  return generateResponseJson(response.id, response.modelName, response.modelVersion, response.parameters, response.outputs);
}

/** Builds the request's inputs and parameters from the generate JSON (Triton's ConvertGenerateRequest). */
class GenerateRequest {
  readonly inputs: InputTensorInit[] = [];
  readonly parameters: Record<string, ParameterValue> = {};
  readonly #metadata: ReadonlyMap<string, TensorMetadata>;
  readonly #maxInputSize: number;
  #consumed = 0;

  constructor(metadata: ReadonlyMap<string, TensorMetadata>, maxInputSize: number) {
    this.#metadata = metadata;
    this.#maxInputSize = maxInputSize;
  }

  /** Top level: `parameters` is a nested object of the same kind; every other key maps exactly. */
  convert(json: Readonly<Record<string, JsonValue>>, topLevel: boolean): void {
    for (const [key, value] of Object.entries(json)) {
      if (topLevel && key === 'parameters') {
        if (this.#metadata.has(key)) throw invalidArg(`Keyword '${key}' for nested schema also given as input tensor name`);
        if (!isJsonObject(value)) throw invalidArg(`Expected JSON object for keyword: '${key}'`);
        try {
          this.convert(value, false);
        } catch (error) {
          const failure = toServerError(error);
          throw new ServerError(failure.code, `Converting keyword: '${key}': ${failure.message}`);
        }
        continue;
      }
      const input = this.#metadata.get(key);
      if (input === undefined) this.#parameter(key, value);
      else this.#input(key, input, value);
    }
  }

  #parameter(name: string, value: JsonValue): void {
    if (typeof value === 'string' || typeof value === 'boolean') this.parameters[name] = value;
    else if (value instanceof JsonBytes) this.parameters[name] = Buffer.from(value.bytes).toString('utf8');
    else if (typeof value === 'number' || typeof value === 'bigint') this.parameters[name] = value;
    else throw invalidArg(`parameter '${quoted(name)}' has invalid type. It should be either 'int', 'bool', or 'string'.`);
  }

  /** A primitive or a 1-D array, shaped to the input's dims (Triton's two passes over the shape). */
  #input(name: string, input: TensorMetadata, value: JsonValue): void {
    const datatype = input.datatype;
    const leaves: JsonValue[] = Array.isArray(value) ? value : [value];
    let count = leaves.length;
    const byteSize = datatype === 'BYTES' ? bytesLeavesSize(leaves) : count * elementSizeOf(name, datatype);
    if (byteSize === 0) {
      this.inputs.push({ name, datatype, shape: input.shape.map((dim) => (dim === -1 ? 0 : dim)), data: new Uint8Array(0), parameters: {} });
      return;
    }
    if (!Number.isSafeInteger(byteSize)) throw invalidArg(`input '${name}' has too many elements of datatype ${datatype}`);
    if (byteSize + this.#consumed > this.#maxInputSize) {
      throw invalidArg(
        `request size of ${this.#consumed} bytes with input '${name}' of size ${byteSize} bytes exceeds the maximum allowed ` +
          `input size of ${this.#maxInputSize}. Use --http-max-input-size to increase the limit.`,
      );
    }
    this.#consumed += byteSize;
    const shape = [...input.shape];
    for (let i = shape.length - 1; i >= 0; i--) {
      const dim = shape[i]!;
      if (dim === -1) continue;
      if (dim === 0 || count % dim !== 0) throw invalidArg(`The schema can not convert input '${name}' to tensor with proper shape`);
      count /= dim;
    }
    for (let i = shape.length - 1; i >= 0; i--) {
      if (shape[i] === -1) {
        shape[i] = count;
        count = 1;
      }
    }
    if (count !== 1) throw invalidArg(`The schema can not convert input '${name}' to tensor with proper shape`);
    this.inputs.push({ name, datatype, shape, data: encodeJsonLeaves(name, datatype, leaves), parameters: {} });
  }
}

function elementSizeOf(name: string, datatype: string): number {
  const sizes: Readonly<Record<string, number>> = {
    BOOL: 1, INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, FP16: 2, BF16: 2, INT32: 4, UINT32: 4, FP32: 4, INT64: 8, UINT64: 8, FP64: 8,
  };
  const size = isDatatype(datatype) ? sizes[datatype] : undefined;
  if (size === undefined) throw invalidArg(`input '${name}' has unsupported datatype ${datatype}`);
  return size;
}

/** Triton's generate response: reserved fields, parameters and outputs as top-level keys, sorted by name. */
export function generateResponseJson(
  id: string,
  modelName: string,
  modelVersion: string,
  parameters: Readonly<Record<string, ParameterValue>>,
  outputs: readonly OutputTensor[],
): string {
  const fields = new Map<string, string>();
  if (id !== '') fields.set('id', JSON.stringify(id));
  fields.set('model_name', JSON.stringify(modelName));
  fields.set('model_version', JSON.stringify(modelVersion));
  for (const [name, value] of Object.entries(parameters)) {
    fields.set(name, typeof value === 'bigint' ? value.toString() : JSON.stringify(value));
  }
  for (const output of outputs) {
    let text = '';
    const sink: JsonSink = {
      text: (s) => (text += s),
      raw: (bytes) => (text += Buffer.from(bytes).toString('utf8')),
    };
    const count = elementCount(output.shape);
    writeJsonData(sink, output.name, output.datatype, count, output.data);
    // One element: the array is stripped, as Triton does.
    fields.set(output.name, count === 1 ? text.slice(1, -1) : text);
  }
  if (fields.size === 0) throw internal('generate response has no fields');
  const keys = [...fields.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((key) => `${JSON.stringify(key)}:${fields.get(key)!}`).join(',')}}`;
}

