import type { InferenceRequest, RequestedOutput } from '../../request/inference-request.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { SequenceControls } from './controls.js';
import { stateFromOutput, stateInput, zeros, type SequenceState, type StateSpec } from './implicit-state.js';
import type { SequenceItem } from './sequence-item.js';

const NO_PARAMETERS = {};

/**
 * Turns a sequence's request into what the backend runs, and its results back: control tensors and
 * state inputs added, state outputs asked for; after execution the state outputs become the
 * sequence's state and are taken out of the response (clients never see them, as in Triton).
 */
export class SequenceRequestBuilder {
  readonly #controls: SequenceControls;
  readonly #states: readonly StateSpec[];
  readonly #batching: boolean;
  readonly #baseKey: (request: InferenceRequest) => string;
  readonly #stateOutputs: ReadonlySet<string>;
  readonly #stateRequests: readonly RequestedOutput[];

  constructor(controls: SequenceControls, states: readonly StateSpec[], batching: boolean, baseKey: (request: InferenceRequest) => string) {
    this.#controls = controls;
    this.#states = states;
    this.#batching = batching;
    this.#baseKey = baseKey;
    this.#stateOutputs = new Set(states.map((state) => state.outputName));
    this.#stateRequests = states.map((state) => ({ name: state.outputName, classificationCount: 0, parameters: NO_PARAMETERS }));
  }

  /** The request with its controls and current state; a START resets the sequence's state first. */
  build(item: SequenceItem): InferenceRequest {
    const { request } = item.work;
    const { fields } = item;
    const controls = this.#controls.tensors({ start: fields.start, end: fields.end, ready: true }, fields.id);
    if (this.#states.length === 0) return { ...request, inputs: [...request.inputs, ...controls] };
    const state = this.#currentState(item);
    const inputs = [...request.inputs, ...controls];
    for (const spec of this.#states) inputs.push(stateInput(spec, state.get(spec.inputName) ?? spec.initial, this.#batching));
    return { ...request, inputs, requestedOutputs: [...request.requestedOutputs, ...this.#stateRequests] };
  }

  /**
   * A request for a slot that has none this round (Triton's null request): the inputs of a real
   * request of the batch as zeros, controls all false (READY false) and ID 0; its outputs are dropped.
   */
  nullRequest(like: InferenceRequest): InferenceRequest {
    const controls = this.#controls.tensors({ start: false, end: false, ready: false }, 0n);
    const controlNames = new Set(controls.map((tensor) => tensor.name));
    const inputs: Tensor[] = like.inputs
      .filter((tensor) => !controlNames.has(tensor.name))
      .map((tensor) => ({ ...tensor, data: zeros(tensor.datatype, tensor.shape) }));
    return { ...like, id: '', inputs: [...inputs, ...controls], sequence: undefined };
  }

  /** Saves the state outputs of a finished request as its sequence's state; returns the other outputs. */
  finish(item: SequenceItem, outputs: readonly Tensor[]): readonly Tensor[] {
    if (this.#states.length === 0) return outputs;
    const state: SequenceState = item.sequence.state ?? new Map();
    const kept: Tensor[] = [];
    for (const output of outputs) {
      if (!this.#stateOutputs.has(output.name)) {
        kept.push(output);
        continue;
      }
      const spec = this.#states.find((candidate) => candidate.outputName === output.name)!;
      state.set(spec.inputName, stateFromOutput(output, this.#batching));
    }
    item.sequence.state = state;
    return kept;
  }

  /** Which requests may share a batch: the model's own rule, plus equal state shapes. */
  keyOfItem(item: SequenceItem): string {
    let key = this.#baseKey(item.work.request);
    if (this.#states.length === 0) return key;
    const state = item.fields.start ? undefined : item.sequence.state;
    for (const spec of this.#states) key += `|${(state?.get(spec.inputName) ?? spec.initial).shape.join(',')}`;
    return key;
  }

  /** The same rule for a request already built (the oldest strategy's dynamic batcher keys these). */
  keyOfBuilt(request: InferenceRequest): string {
    let key = this.#baseKey(request);
    if (this.#states.length === 0) return key;
    for (const tensor of request.inputs) {
      if (this.#states.some((spec) => spec.inputName === tensor.name)) key += `|${tensor.shape.join(',')}`;
    }
    return key;
  }

  #currentState(item: SequenceItem): SequenceState {
    if (item.fields.start || item.sequence.state === undefined) {
      item.sequence.state = new Map(this.#states.map((spec) => [spec.inputName, spec.initial]));
    }
    return item.sequence.state;
  }
}
