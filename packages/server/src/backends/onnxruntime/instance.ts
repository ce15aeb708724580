import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { ServerError, internal, toServerError } from '../../errors/server-error.js';
import type { InferenceRequest } from '../../request/inference-request.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BackendInstance, ExecutionResult } from '../backend.js';
import { batchedFeed, outputToTensor, splitOutput, tensorToFeed } from './feeds.js';
import type { NativeSession, SessionFeed, SessionRunResult } from './native/native-session.js';
import { OrtError } from './native/ort-status.js';
import type { ModelIo } from './tensor-info.js';

/** What execution needs from the final configuration, computed once per instance. */
export interface ExecutionPlan {
  readonly modelName: string;
  /** max_batch_size > 0: requests carry a batch dim and several can share one run. */
  readonly batching: boolean;
  /** Inputs the model declares as rank 0: fed without dims, as Triton does. */
  readonly scalarInputs: ReadonlySet<string>;
  /** Rank-0 model outputs → the shape the config gives them (reshape shape, else dims). */
  readonly scalarOutputShapes: ReadonlyMap<string, readonly number[]>;
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
  };
}

interface Timer {
  input: number;
  infer: number;
  output: number;
}

/**
 * One execution instance over a session (its own, or the model's shared one). A batch of requests
 * runs once when the model batches (inputs joined along dim 0, outputs split back); otherwise each
 * request runs on its own. onnxruntime failures become INTERNAL errors for the requests of that run.
 */
export class OnnxRuntimeInstance implements BackendInstance {
  readonly #session: NativeSession;
  readonly #plan: ExecutionPlan;
  readonly #onClose: () => Promise<void>;
  #closed: Promise<void> | undefined;

  constructor(session: NativeSession, plan: ExecutionPlan, onClose: () => Promise<void>) {
    this.#session = session;
    this.#plan = plan;
    this.#onClose = onClose;
  }

  /** The session this instance runs on (shared instances return the same one). */
  get session(): NativeSession {
    return this.#session;
  }

  async execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult> {
    const timer: Timer = { input: 0, infer: 0, output: 0 };
    let responses: Array<readonly Tensor[] | ServerError>;
    if (requests.length > 1 && this.#plan.batching) {
      responses = await this.#runBatch(requests, timer);
    } else {
      responses = [];
      for (const request of requests) responses.push(await this.#runOne(request, timer));
    }
    return {
      responses,
      timings: { computeInputNs: timer.input, computeInferNs: timer.infer, computeOutputNs: timer.output },
    };
  }

  close(): Promise<void> {
    this.#closed ??= this.#onClose();
    return this.#closed;
  }

  async #runOne(request: InferenceRequest, timer: Timer): Promise<readonly Tensor[] | ServerError> {
    try {
      const { inputs, requestedOutputs } = request;
      const feeds = new Array<SessionFeed>(inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const tensor = inputs[i]!;
        feeds[i] = tensorToFeed(tensor, this.#plan.scalarInputs.has(tensor.name));
      }
      const wanted = new Array<string>(requestedOutputs.length);
      for (let i = 0; i < wanted.length; i++) wanted[i] = requestedOutputs[i]!.name;
      // Awaited here rather than through #run: one async frame less on every request's path.
      let result: SessionRunResult;
      try {
        result = await this.#session.run(feeds, wanted);
      } catch (error) {
        throw runError(error);
      }
      recordRun(result, timer);
      if (wanted.length === 0) return [];
      const start = process.hrtime.bigint();
      const scalarShapes = this.#plan.scalarOutputShapes;
      const tensors = result.outputs;
      if (scalarShapes.size > 0) {
        for (let i = 0; i < tensors.length; i++) tensors[i] = outputToTensor(tensors[i]!, scalarShapes.get(tensors[i]!.name));
      }
      timer.output += Number(process.hrtime.bigint() - start);
      return tensors;
    } catch (error) {
      return toServerError(error);
    }
  }

  async #runBatch(
    requests: readonly InferenceRequest[],
    timer: Timer,
  ): Promise<Array<readonly Tensor[] | ServerError>> {
    try {
      let start = process.hrtime.bigint();
      const feeds = joinInputs(requests);
      const wanted = [...new Set(requests.flatMap((r) => r.requestedOutputs.map((o) => o.name)))];
      timer.input += Number(process.hrtime.bigint() - start);
      const result = await this.#run(feeds, wanted, timer);
      start = process.hrtime.bigint();
      const sizes = requests.map((request) => request.batchSize);
      const parts = new Map(result.outputs.map((output) => [output.name, splitOutput(output, sizes)]));
      const responses = requests.map((request, index) =>
        request.requestedOutputs.map((output) => {
          const tensor = parts.get(output.name)?.[index];
          if (tensor === undefined) throw internal(`onnxruntime returned no output '${output.name}'`);
          return tensor;
        }),
      );
      timer.output += Number(process.hrtime.bigint() - start);
      return responses;
    } catch (error) {
      const failure = toServerError(error);
      return requests.map(() => failure);
    }
  }

  /** One session run; nothing requested still runs the model (as Triton does) and keeps nothing. */
  async #run(feeds: readonly SessionFeed[], wanted: readonly string[], timer: Timer): Promise<SessionRunResult> {
    try {
      const result = await this.#session.run(feeds, wanted);
      recordRun(result, timer);
      return result;
    } catch (error) {
      throw runError(error);
    }
  }
}

function recordRun(result: SessionRunResult, timer: Timer): void {
  timer.input += result.inputNs;
  timer.infer += result.inferNs;
  timer.output += result.outputNs;
}

/**
 * A failed run's error: ServerErrors as they are, anything else as onnxruntime's INTERNAL error;
 * one ONNX Runtime returned carries its OrtErrorCode as Triton's backend writes it
 * ("onnx runtime error 2: <message>").
 */
function runError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof OrtError) return internal(`onnx runtime error ${error.code}: ${error.message}`, error);
  const message = error instanceof Error ? error.message : String(error);
  return internal(`onnx runtime error: ${message}`, error);
}

/** Every request's inputs joined per name, in the first request's input order. */
function joinInputs(requests: readonly InferenceRequest[]): SessionFeed[] {
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
