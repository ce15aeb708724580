import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { ServerError } from '../../errors/server-error.js';
import { internal, toServerError } from '../../errors/server-error.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BackendInstance, ExecutionResult, ExecutionTimings } from '../backend.js';
import type { ModelIo } from './autocomplete.js';
import { batchedFeed, outputToTensor, splitOutput, tensorToFeed } from './feeds.js';
import type { SessionHost } from './session-host.js';
import type { PlainTensor } from './session-runner.js';

/** What execution needs from the final configuration, computed once per instance. */
export interface ExecutionPlan {
  readonly modelName: string;
  /** max_batch_size > 0: requests carry a batch dim and several can share one run. */
  readonly batching: boolean;
  /** Inputs the model declares as rank 0: fed without dims, as Triton does. */
  readonly scalarInputs: ReadonlySet<string>;
  /** Rank-0 model outputs → the shape the config gives them (reshape shape, else dims). */
  readonly scalarOutputShapes: ReadonlyMap<string, readonly number[]>;
  readonly outputNames: readonly string[];
}

export function executionPlan(config: ModelConfig, io: ModelIo): ExecutionPlan {
  const scalarOutputShapes = new Map<string, number[]>();
  for (const output of config.output) {
    const info = io.outputs.find((candidate) => candidate.name === output.name);
    if (info?.shape.length !== 0) continue;
    scalarOutputShapes.set(output.name, (output.reshape?.shape ?? output.dims).map(Number));
  }
  return {
    modelName: config.name,
    batching: config.maxBatchSize > 0,
    scalarInputs: new Set(io.inputs.filter((info) => info.shape.length === 0).map((info) => info.name)),
    scalarOutputShapes,
    outputNames: io.outputs.map((info) => info.name),
  };
}

interface Timer {
  input: bigint;
  infer: bigint;
  output: bigint;
}

/**
 * One execution instance over a session (its own, or the model's shared one). A batch of requests
 * runs once when the model batches (inputs joined along dim 0, outputs split back); otherwise each
 * request runs on its own. onnxruntime failures become INTERNAL errors for the requests of that run.
 */
export class OnnxRuntimeInstance implements BackendInstance {
  readonly #host: SessionHost;
  readonly #plan: ExecutionPlan;
  readonly #onClose: () => Promise<void>;
  #closed: Promise<void> | undefined;

  constructor(host: SessionHost, plan: ExecutionPlan, onClose: () => Promise<void>) {
    this.#host = host;
    this.#plan = plan;
    this.#onClose = onClose;
  }

  /** The session this instance runs on (shared instances return the same host). */
  get session(): SessionHost {
    return this.#host;
  }

  async execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult> {
    const timer: Timer = { input: 0n, infer: 0n, output: 0n };
    let responses: Array<readonly Tensor[] | ServerError>;
    if (requests.length > 1 && this.#plan.batching) {
      responses = await this.#runBatch(requests, timer);
    } else {
      responses = [];
      for (const request of requests) responses.push(await this.#runOne(request, timer));
    }
    return { responses, timings: timings(timer) };
  }

  close(): Promise<void> {
    this.#closed ??= this.#onClose();
    return this.#closed;
  }

  async #runOne(request: InferenceRequest, timer: Timer): Promise<readonly Tensor[] | ServerError> {
    let start = process.hrtime.bigint();
    try {
      const feeds = request.inputs.map((tensor) =>
        tensorToFeed(tensor, this.#plan.scalarInputs.has(tensor.name)),
      );
      const wanted = request.requestedOutputs.map((output) => output.name);
      start = lap(timer, 'input', start);
      const outputs = await this.#run(feeds, wanted);
      start = lap(timer, 'infer', start);
      const byName = new Map(outputs.map((output) => [output.name, output]));
      const tensors = wanted.map((name) =>
        outputToTensor(fetched(byName, name), this.#plan.scalarOutputShapes.get(name)),
      );
      lap(timer, 'output', start);
      return tensors;
    } catch (error) {
      lap(timer, 'output', start);
      return toServerError(error);
    }
  }

  async #runBatch(
    requests: readonly InferenceRequest[],
    timer: Timer,
  ): Promise<Array<readonly Tensor[] | ServerError>> {
    let start = process.hrtime.bigint();
    try {
      const feeds = joinInputs(requests);
      const wanted = [...new Set(requests.flatMap((r) => r.requestedOutputs.map((o) => o.name)))];
      start = lap(timer, 'input', start);
      const outputs = await this.#run(feeds, wanted);
      start = lap(timer, 'infer', start);
      const sizes = requests.map((request) => request.batchSize);
      const parts = new Map(outputs.map((output) => [output.name, splitOutput(output, sizes)]));
      const responses = requests.map((request, index) =>
        request.requestedOutputs.map((output) => {
          const tensor = parts.get(output.name)?.[index];
          if (tensor === undefined) throw internal(`onnxruntime returned no output '${output.name}'`);
          return tensor;
        }),
      );
      lap(timer, 'output', start);
      return responses;
    } catch (error) {
      lap(timer, 'output', start);
      const failure = toServerError(error);
      return requests.map(() => failure);
    }
  }

  /** One session run; nothing requested still runs the model (as Triton does) and keeps nothing. */
  async #run(feeds: readonly PlainTensor[], wanted: readonly string[]): Promise<PlainTensor[]> {
    const fetches = wanted.length > 0 ? wanted : this.#plan.outputNames;
    try {
      return (await this.#host.run(feeds, fetches)).outputs;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw internal(`onnx runtime error: ${message}`, error);
    }
  }
}

/** Every request's inputs joined per name, in the first request's input order. */
function joinInputs(requests: readonly InferenceRequest[]): PlainTensor[] {
  const first = requests[0];
  if (first === undefined) return [];
  return first.inputs.map((input) =>
    batchedFeed(
      requests.map((request) => {
        const tensor = request.inputs.find((candidate) => candidate.name === input.name);
        if (tensor === undefined) {
          throw internal(`input '${input.name}' is missing from a request batched with others`);
        }
        return tensor;
      }),
    ),
  );
}

function fetched(outputs: ReadonlyMap<string, PlainTensor>, name: string): PlainTensor {
  const output = outputs.get(name);
  if (output === undefined) throw internal(`onnxruntime returned no output '${name}'`);
  return output;
}

function lap(timer: Timer, phase: keyof Timer, start: bigint): bigint {
  const now = process.hrtime.bigint();
  timer[phase] += now - start;
  return now;
}

function timings(timer: Timer): ExecutionTimings {
  return {
    computeInputNs: Number(timer.input),
    computeInferNs: Number(timer.infer),
    computeOutputNs: Number(timer.output),
  };
}
