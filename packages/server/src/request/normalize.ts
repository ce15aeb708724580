import { elementCount, scanBytesElements, type BytesScanProblem, formatShape, isDatatype } from '@nereid/protocol';
import { invalidArg, quoted } from '../errors/index.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import type { InferRequestInit, InputTensorInit } from './infer-request-init.js';
import type { InferenceRequest, RequestedOutput } from './inference-request.js';
import type { ModelSignature, TensorSpec } from './model-signature.js';
import { MAX_REQUEST_STRING_ELEMENTS, tooManyStringElements } from './limits.js';
import { readUnsignedParameter } from './parameters.js';
import { readSequenceFields, type SequenceFields } from './sequence-fields.js';
import type { CancelSignal } from '../util/cancel-signal.js';

/**
 * Checks a request against its model (Triton's InferenceRequest::Normalize): input names, datatypes,
 * shapes and batch size, byte sizes, requested outputs. Returns the request as the backend sees it.
 * Every failure is INVALID_ARG and names the tensor, with expected and actual values.
 */
export function normalizeRequest(
  init: InferRequestInit,
  signature: ModelSignature,
  version: bigint,
  signal?: CancelSignal,
): InferenceRequest {
  const prefix = `[request id: ${init.id === '' ? '<id_unknown>' : quoted(init.id)}] `;
  checkInputNames(init, signature, prefix);
  checkStringElementCount(init, signature, prefix);
  let batchSize = signature.maxBatchSize > 0 ? -1 : 1;
  const inputs: Tensor[] = [];
  for (const input of init.inputs) {
    const spec = signature.inputs.get(input.name)!;
    const rowCount = checkInputShape(input, spec, signature, prefix);
    if (signature.maxBatchSize > 0) {
      if (batchSize !== -1 && rowCount !== batchSize) {
        throw invalidArg(
          `${prefix}input '${quoted(input.name)}' batch size ${rowCount} does not match other inputs' batch size ` +
            `${batchSize} for model '${signature.modelName}'`,
        );
      }
      batchSize = rowCount;
    }
    checkInputData(input, spec, signature.modelName, prefix);
    inputs.push(backendTensor(input, spec, signature.maxBatchSize > 0));
  }
  if (batchSize === -1) batchSize = 1;
  const sequence = readSequenceFields(init.parameters, prefix);
  if (sequence !== undefined && !signature.acceptsSequences) throw notASequenceModel(sequence, signature, prefix);
  return {
    modelName: signature.modelName,
    modelVersion: version,
    id: init.id,
    parameters: init.parameters,
    inputs,
    batchSize,
    requestedOutputs: resolveOutputs(init, signature, prefix),
    priority: readUnsignedParameter(init.parameters, 'priority', prefix),
    timeoutMicroseconds: readUnsignedParameter(init.parameters, 'timeout', prefix),
    sequence,
    signal,
  };
}

/** Sequence parameters sent to a model without a sequence batcher: refused rather than ignored. */
function notASequenceModel(sequence: SequenceFields, signature: ModelSignature, prefix: string): Error {
  return invalidArg(
    `${prefix}inference request for sequence ${quoted(String(sequence.id))} to model '${signature.modelName}' ` +
      `specifies sequence parameters, but the model has no sequence batching`,
  );
}

function checkInputNames(init: InferRequestInit, signature: ModelSignature, prefix: string): void {
  const seen = new Set<string>();
  for (const input of init.inputs) {
    if (!signature.inputs.has(input.name)) {
      throw invalidArg(`${prefix}unexpected inference input '${quoted(input.name)}' for model '${signature.modelName}'`);
    }
    if (seen.has(input.name)) {
      throw invalidArg(`${prefix}input '${quoted(input.name)}' is specified more than once for model '${signature.modelName}'`);
    }
    seen.add(input.name);
  }
  const missing = signature.requiredInputs.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    const got = init.inputs.map((input) => `'${quoted(input.name)}'`).join(',');
    const total = signature.inputs.size;
    const expected =
      total === signature.requiredInputs.length
        ? `expected ${total} inputs`
        : `expected number of inputs between ${signature.requiredInputs.length} and ${total}`;
    throw invalidArg(
      `${prefix}${expected} but got ${init.inputs.length} inputs for model ` +
        `'${signature.modelName}'. Got input(s) [${got}], but missing required input(s) ` +
        `[${missing.map((name) => `'${name}'`).join(',')}]. Please provide all required input(s).`,
    );
  }
}

/** Checks datatype and shape; returns the batch dimension (or 1 for a model that does not batch). */
function checkInputShape(input: InputTensorInit, spec: TensorSpec, signature: ModelSignature, prefix: string): number {
  const model = signature.modelName;
  if (!isDatatype(input.datatype)) {
    throw invalidArg(`${prefix}invalid datatype '${quoted(input.datatype)}' for input '${quoted(input.name)}' of model '${model}'`);
  }
  if (input.datatype !== spec.datatype) {
    throw invalidArg(
      `${prefix}inference input '${quoted(input.name)}' data-type is '${quoted(input.datatype)}', but model '${model}' expects ` +
        `'${spec.datatype}'`,
    );
  }
  const batching = signature.maxBatchSize > 0;
  const shape = input.shape;
  // Every dimension, the batch one included, is a count: -1 (a wildcard) and other negatives are
  // refused here, before the backend could see them.
  if (shape.some((dim) => dim === -1)) {
    throw invalidArg(
      `${prefix}All input dimensions should be specified for input '${quoted(input.name)}' for model '${model}', got ` +
        clientShape(shape),
    );
  }
  if (batching && shape.length > 0 && shape[0]! > signature.maxBatchSize) {
    throw invalidArg(`${prefix}inference request batch-size must be <= ${signature.maxBatchSize} for '${model}'`);
  }
  const itemShape = batching ? shape.slice(1) : shape;
  const matches =
    (!batching || shape.length > 0) &&
    shape.every((dim) => dim >= 0) &&
    itemShape.length === spec.dims.length &&
    itemShape.every((dim, i) => spec.dims[i] === -1 || spec.dims[i] === dim);
  if (!matches) {
    throw invalidArg(
      `${prefix}unexpected shape for input '${quoted(input.name)}' for model '${model}'. Expected ` +
        `${formatShape(spec.clientShape)}, got ${clientShape(shape)}. ` +
        (batching ? IMPLICIT_BATCH_NOTE : ''),
    );
  }
  return batching ? shape[0]! : 1;
}

/** A request's shape as messages print it, clipped: a client may send any number of dimensions. */
function clientShape(shape: readonly number[]): string {
  return quoted(formatShape(shape));
}

const IMPLICIT_BATCH_NOTE =
  'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended ' +
  'to each input shape. If you want to specify the full shape including the batch dim in your input dims ' +
  'config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

function checkInputData(input: InputTensorInit, spec: TensorSpec, model: string, prefix: string): void {
  const count = elementCount(input.shape);
  if (spec.datatype === 'BYTES') {
    const problem = scanBytesElements(input.data, count);
    if (problem !== undefined) throw invalidArg(prefix + bytesProblemText(problem, quoted(input.name), model, count));
    return;
  }
  const expected = count * spec.elementSize;
  if (input.data.byteLength !== expected) {
    throw invalidArg(
      `${prefix}input byte size mismatch for input '${quoted(input.name)}' for model '${model}'. Expected ${expected}, got ` +
        `${input.data.byteLength}`,
    );
  }
}

/** The tensor as the backend sees it: `reshape` applied, batch dimension kept. */
function backendTensor(input: InputTensorInit, spec: TensorSpec, batching: boolean): Tensor {
  const datatype = spec.datatype;
  if (!spec.reshape) return { name: input.name, datatype, shape: input.shape, data: input.data };
  const itemShape = batching ? input.shape.slice(1) : input.shape;
  const reshaped = resolveWildcards(spec.reshape, elementCount(itemShape));
  return { name: input.name, datatype, shape: batching ? [input.shape[0]!, ...reshaped] : reshaped, data: input.data };
}

/** Fills a single -1 of a target shape from the element count (Triton allows one per reshape). */
export function resolveWildcards(target: readonly number[], count: number): number[] {
  const known = target.reduce((product, dim) => (dim === -1 ? product : product * dim), 1);
  return target.map((dim) => (dim === -1 ? (known === 0 ? 0 : count / known) : dim));
}

function resolveOutputs(init: InferRequestInit, signature: ModelSignature, prefix: string): RequestedOutput[] {
  const noParameters: Parameters = {};
  if (init.outputs === undefined) {
    return signature.outputNames.map((name) => ({ name, classificationCount: 0, parameters: noParameters }));
  }
  const seen = new Set<string>();
  return init.outputs.map((output) => {
    if (!signature.outputs.has(output.name)) {
      throw invalidArg(`${prefix}unexpected inference output '${quoted(output.name)}' for model '${signature.modelName}'`);
    }
    if (seen.has(output.name)) {
      throw invalidArg(`${prefix}output '${quoted(output.name)}' already exists in request`);
    }
    seen.add(output.name);
    const classification = output.parameters['classification'];
    let classificationCount = 0;
    if (classification !== undefined) {
      classificationCount = Number(classification);
      if (!Number.isInteger(classificationCount) || classificationCount < 1) {
        throw invalidArg(
          `${prefix}'classification' for output '${quoted(output.name)}' must be a positive integer, got '${quoted(String(classification))}'`,
        );
      }
    }
    return { name: output.name, classificationCount, parameters: output.parameters };
  });
}

/** Triton's wording for BYTES data that does not hold the shape's element count. */
function bytesProblemText(problem: BytesScanProblem, name: string, model: string, expected: number): string {
  const input = `inference input '${name}' for model '${model}'`;
  switch (problem.kind) {
    case 'too-many':
      return `unexpected number of string elements ${problem.found} for ${input}, expecting ${expected}`;
    case 'too-few':
      return `expected ${expected} string elements for ${input}, got ${problem.found}`;
    case 'truncated-prefix':
      return `element byte size indicator exceeds the end of the buffer for ${input} (element ${problem.element})`;
    case 'truncated-element':
      return (
        `incomplete string data for ${input}: element ${problem.element} declares ${problem.length} bytes ` +
        `but only ${problem.available} remain`
      );
  }
}

/** Bounds the BYTES elements of the whole request from the shapes, before any per-element work. */
function checkStringElementCount(init: InferRequestInit, signature: ModelSignature, prefix: string): void {
  let total = 0;
  for (const input of init.inputs) {
    if (input.datatype !== 'BYTES') continue;
    let count = 1;
    for (const dim of input.shape) count *= Math.max(0, dim);
    total += count;
  }
  if (total > MAX_REQUEST_STRING_ELEMENTS) {
    throw tooManyStringElements(total, signature.modelName, prefix);
  }
}
