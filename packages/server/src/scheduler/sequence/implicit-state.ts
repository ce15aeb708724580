import { readFile } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { configTypeToDatatype, elementByteSize, type Datatype } from '@nereid/protocol';
import { DataType, type ModelConfig, type ModelSequenceBatching_State } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/index.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Triton's folder, inside the model folder, for `initial_state { data_file }`. */
const INITIAL_STATE_FOLDER = 'initial_state';

/** One `sequence_batching.state` entry, with the state a sequence starts from. */
export interface StateSpec {
  readonly inputName: string;
  readonly outputName: string;
  readonly datatype: Datatype;
  /** The state at START, without the batch dimension. */
  readonly initial: StateValue;
}

/** A sequence's current value of one state, without the batch dimension. */
export interface StateValue {
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A sequence's states by state input name. */
export type SequenceState = Map<string, StateValue>;

/**
 * Reads a model's implicit states (Triton's GenerateInitialStateData): the initial value of each,
 * zeros or the bytes of `<model>/initial_state/<data_file>`, checked with Triton's load errors. A
 * state without `initial_state` starts as zeros with each variable dim taken as 1, as in Triton.
 */
export async function loadStateSpecs(config: ModelConfig, modelDir: string): Promise<StateSpec[]> {
  if (config.schedulingChoice.case !== 'sequenceBatching') return [];
  const specs: StateSpec[] = [];
  const seen = new Set<string>();
  for (const state of config.schedulingChoice.value.state) {
    if (seen.has(state.inputName)) throw invalidArg(`State input name '${state.inputName}' specified more than once.`);
    seen.add(state.inputName);
    const datatype = configTypeToDatatype(DataType[state.dataType]);
    if (datatype === undefined) throw invalidArg(`state '${state.inputName}' of model '${config.name}' has unsupported data_type`);
    specs.push({ inputName: state.inputName, outputName: state.outputName, datatype, initial: await initialValue(state, datatype, modelDir) });
  }
  return specs;
}

async function initialValue(state: ModelSequenceBatching_State, datatype: Datatype, modelDir: string): Promise<StateValue> {
  const initial = state.initialState[0];
  if (initial === undefined) {
    const shape = state.dims.map((dim) => (dim < 0n ? 1 : Number(dim)));
    return { shape, data: zeros(datatype, shape) };
  }
  const input = state.inputName;
  if (initial.dataType !== state.dataType) {
    throw invalidArg(`The data type used for 'initial_state' field of state '${input}' does not match the state data type.`);
  }
  if (initial.name === '') throw invalidArg(`Field 'name' must be set when using initial_state for state input '${input}'.`);
  if (initial.dims.length !== state.dims.length) {
    throw invalidArg(
      `Number of dimensions in 'initial_state' doesn't match the size of 'state' dimensions for state input '${input}'. ` +
        `${initial.dims.length} != ${state.dims.length}`,
    );
  }
  initial.dims.forEach((dim, i) => {
    const stateDim = state.dims[i]!;
    if (dim < 0n) throw invalidArg(`'initial_state' field for state input name '${input}' contains variable dimensions.`);
    if (stateDim >= 0n && dim !== stateDim) {
      throw invalidArg(`'initial_state' dim for input name '${input}' doesn't match 'state' dim description. ${dim} != ${stateDim}`);
    }
  });
  const shape = initial.dims.map(Number);
  const choice = initial.stateData;
  if (choice.case === 'zeroData') return { shape, data: zeros(datatype, shape) };
  if (choice.case !== 'dataFile') throw invalidArg(`initial_state setting expects state'${input}' to have state_data set`);
  const bytes = await readInitialStateFile(modelDir, choice.value, input);
  if (datatype === 'BYTES') return { shape, data: bytes };
  const expected = count(shape) * elementByteSize(datatype);
  if (bytes.byteLength < expected) {
    throw invalidArg(
      `initial_state setting expects ${expected} bytes, but the data provided from ${choice.value} only has ${bytes.byteLength} bytes.`,
    );
  }
  return { shape, data: bytes.subarray(0, expected) };
}

/** `<model>/initial_state/<file>`; a name that leaves that folder is refused. */
async function readInitialStateFile(modelDir: string, file: string, input: string): Promise<Uint8Array> {
  const folder = join(modelDir, INITIAL_STATE_FOLDER);
  const path = join(folder, file);
  const inside = relative(folder, path);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw invalidArg(`initial_state data_file '${file}' of state input '${input}' must name a file inside '${INITIAL_STATE_FOLDER}/'`);
  }
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidArg(`unable to read initial_state data_file '${file}' of state input '${input}': ${reason}`);
  }
}

function count(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Zeros of a shape; for BYTES, that many empty strings (a zero length prefix each). */
export function zeros(datatype: Datatype, shape: readonly number[]): Uint8Array {
  return new Uint8Array(count(shape) * (datatype === 'BYTES' ? 4 : elementByteSize(datatype)));
}

/** A state value as the model's input tensor, with the batch dimension when the model batches. */
export function stateInput(spec: StateSpec, value: StateValue, batching: boolean): Tensor {
  return { name: spec.inputName, datatype: spec.datatype, shape: batching ? [1, ...value.shape] : value.shape, data: value.data };
}

/** A state output of one request back as the sequence's value (batch dimension dropped). */
export function stateFromOutput(output: Tensor, batching: boolean): StateValue {
  // Copied: the output may be a view into a buffer shared with the whole batch's results.
  return { shape: batching ? output.shape.slice(1) : output.shape, data: Uint8Array.prototype.slice.call(output.data) };
}
