import { elementCount } from '@nereid/protocol';
import type { InferResponse, OutputTensor } from '../../../request/infer-response.js';
import type { Parameters } from '../../../tensor/tensor.js';
import type { OutputPlan } from './json-infer.js';
import { writeJsonData, type JsonSink } from './json-tensor.js';

/**
 * An `InferResponse` as Triton's HTTP frontend writes it: `{"id"?, "model_name", "model_version",
 * "parameters"?, "outputs": [...]}` (Triton's key order), each output `{"name", "datatype", "shape"}`
 * plus `"data"` or `"parameters": {"binary_data_size": N}`, and the binary outputs' bytes after
 * the JSON in output order. Output bytes are never copied: they travel as separate chunks.
 */
export interface EncodedInferResponse {
  /** The JSON header, then the binary outputs' bytes. */
  readonly chunks: readonly Uint8Array[];
  readonly byteLength: number;
  /**
   * Byte length of the JSON header when binary bytes follow it (`Inference-Header-Content-Length`);
   * undefined for a pure JSON body. Like Triton, binary outputs of 0 bytes alone do not count.
   */
  readonly headerLength: number | undefined;
}

export function encodeInferResponse(response: InferResponse, plan: OutputPlan): EncodedInferResponse {
  const json = new JsonBuilder();
  let head = '{';
  if (response.id !== '') head += `"id":${JSON.stringify(response.id)},`;
  head += `"model_name":${JSON.stringify(response.modelName)},"model_version":${JSON.stringify(response.modelVersion)}`;
  if (hasKeys(response.parameters)) head += `,"parameters":${parametersJson(response.parameters)}`;
  json.text(head + ',"outputs":[');
  const tails: Uint8Array[] = [];
  let tailLength = 0;
  const outputs = response.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs[i] as OutputTensor;
    const kind = plan.named?.get(output.name) ?? plan.defaultKind;
    json.text(
      `${i === 0 ? '' : ','}{"name":${JSON.stringify(output.name)},"datatype":"${output.datatype}",` +
        `"shape":[${output.shape.join(',')}]`,
    );
    if (kind === 'binary') {
      json.text(`,"parameters":{"binary_data_size":${output.data.byteLength}}}`);
      if (output.data.byteLength > 0) {
        tails.push(output.data);
        tailLength += output.data.byteLength;
      }
    } else if (kind === 'json') {
      json.text(',"data":');
      writeJsonData(json, output.name, output.datatype, elementCount(output.shape), output.data);
      json.text('}');
    } else {
      // Written into the client's region by the core: described, never sent.
      json.text('}');
    }
  }
  json.text(']}');
  const header = json.finish();
  if (tails.length === 0) return { chunks: [header], byteLength: header.length, headerLength: undefined };
  return { chunks: [header, ...tails], byteLength: header.length + tailLength, headerLength: header.length };
}

function hasKeys(parameters: Parameters): boolean {
  for (const key in parameters) if (Object.hasOwn(parameters, key)) return true;
  return false;
}

/** Response parameters: bigints print as exact integers, NaN/Infinity as Triton's bare tokens. */
function parametersJson(parameters: Parameters): string {
  let out = '{';
  let first = true;
  for (const key of Object.keys(parameters)) {
    const value = parameters[key];
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    out += `${first ? '' : ','}${JSON.stringify(key)}:${text}`;
    first = false;
  }
  return out + '}';
}

/** Collects JSON text, with raw byte runs spliced in for BYTES elements that are not UTF-8. */
class JsonBuilder implements JsonSink {
  private pending = '';
  private readonly parts: Uint8Array[] = [];

  text(s: string): void {
    this.pending += s;
  }

  raw(bytes: Uint8Array): void {
    this.flush();
    this.parts.push(bytes);
  }

  finish(): Buffer {
    if (this.parts.length === 0) return Buffer.from(this.pending, 'utf8');
    this.flush();
    return Buffer.concat(this.parts);
  }

  private flush(): void {
    if (this.pending !== '') this.parts.push(Buffer.from(this.pending, 'utf8'));
    this.pending = '';
  }
}
