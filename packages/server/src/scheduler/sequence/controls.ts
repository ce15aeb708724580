import { configTypeToDatatype, type Datatype } from '@nereid/protocol';
import {
  DataType,
  ModelSequenceBatching_Control_Kind as Kind,
  type ModelSequenceBatching,
  type ModelSequenceBatching_Control,
} from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/index.js';
import type { CorrelationId } from '../../request/sequence-fields.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Where a request stands in its sequence, as the START/END/READY control tensors tell the model. */
export interface ControlFlags {
  readonly start: boolean;
  readonly end: boolean;
  readonly ready: boolean;
}

/** A START/END/READY control: its tensor and the false/true values, encoded once at load. */
interface FlagControl {
  readonly name: string;
  readonly datatype: Datatype;
  readonly falseBytes: Uint8Array;
  readonly trueBytes: Uint8Array;
}

interface CorridControl {
  readonly name: string;
  /** UINT64, INT64, UINT32, INT32 or BYTES (config TYPE_STRING). */
  readonly datatype: Datatype;
}

const CORRID_TYPES = new Set<DataType>([DataType.TYPE_UINT64, DataType.TYPE_INT64, DataType.TYPE_UINT32, DataType.TYPE_INT32, DataType.TYPE_STRING]);

/**
 * The control tensors a sequence model declares (`sequence_batching.control_input`), checked with
 * Triton's load errors (model_config_utils.cc) and made per request: shape [1] per batch row, values
 * from `int32_false_true` / `fp32_false_true` / `bool_false_true`, the correlation ID in the CORRID
 * control's data type.
 */
export class SequenceControls {
  readonly #start: FlagControl | undefined;
  readonly #end: FlagControl | undefined;
  readonly #ready: FlagControl | undefined;
  readonly #corrid: CorridControl | undefined;
  /** Shape of every control tensor of one request: [1, 1] when the model batches, else [1]. */
  readonly #shape: readonly number[];

  constructor(batcher: ModelSequenceBatching, modelName: string, batching: boolean) {
    checkControlNames(batcher, modelName);
    this.#start = flagControl(batcher, Kind.CONTROL_SEQUENCE_START, modelName);
    this.#end = flagControl(batcher, Kind.CONTROL_SEQUENCE_END, modelName);
    this.#ready = flagControl(batcher, Kind.CONTROL_SEQUENCE_READY, modelName);
    this.#corrid = corridControl(batcher, modelName);
    this.#shape = batching ? [1, 1] : [1];
  }

  /** The CORRID control's datatype, for checking request IDs against it; undefined without one. */
  get correlationDatatype(): Datatype | undefined {
    return this.#corrid?.datatype;
  }

  get correlationTensorName(): string | undefined {
    return this.#corrid?.name;
  }

  /** Control tensors for one request; a slot without a request (not ready) gets all-false and ID 0. */
  tensors(flags: ControlFlags, id: CorrelationId): Tensor[] {
    const tensors: Tensor[] = [];
    const shape = this.#shape;
    const add = (control: FlagControl | undefined, on: boolean) => {
      if (control) tensors.push({ name: control.name, datatype: control.datatype, shape, data: on ? control.trueBytes : control.falseBytes });
    };
    add(this.#start, flags.start);
    add(this.#end, flags.end);
    add(this.#ready, flags.ready);
    if (this.#corrid) tensors.push({ name: this.#corrid.name, datatype: this.#corrid.datatype, shape, data: corridBytes(this.#corrid.datatype, id) });
    return tensors;
  }
}

function kindName(kind: Kind): string {
  return Kind[kind];
}

function checkControlNames(batcher: ModelSequenceBatching, modelName: string): void {
  const seen = new Set<string>();
  for (const input of batcher.controlInput) {
    if (input.name === '') throw invalidArg(`sequence batching control tensor must have a name for ${modelName}`);
    if (seen.has(input.name)) {
      throw invalidArg(`sequence batching control tensor '${input.name}' is specified for multiple control kinds for ${modelName}`);
    }
    seen.add(input.name);
  }
}

/** The one control of `kind`, with its tensor name; undefined when the model declares none. */
function findControl(batcher: ModelSequenceBatching, kind: Kind, modelName: string): { name: string; control: ModelSequenceBatching_Control } | undefined {
  let found: { name: string; control: ModelSequenceBatching_Control } | undefined;
  for (const input of batcher.controlInput) {
    for (const control of input.control) {
      if (control.kind !== kind) continue;
      if (found) throw invalidArg(`sequence batching specifies multiple ${kindName(kind)} tensors for ${modelName}`);
      found = { name: input.name, control };
    }
  }
  return found;
}

function flagControl(batcher: ModelSequenceBatching, kind: Kind, modelName: string): FlagControl | undefined {
  const found = findControl(batcher, kind, modelName);
  if (!found) return undefined;
  const { int32FalseTrue, fp32FalseTrue, boolFalseTrue } = found.control;
  const given = [int32FalseTrue, fp32FalseTrue, boolFalseTrue].filter((values) => values.length > 0).length;
  const where = `for ${kindName(kind)} for ${modelName}`;
  if (given === 0) {
    throw invalidArg(`sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' ${where}`);
  }
  if (given > 1) {
    throw invalidArg(`sequence batching specifies more than one from 'int32_false_true', 'fp32_false_true' and 'bool_false_true' ${where}`);
  }
  const pair = (field: string, values: readonly unknown[]) => {
    if (values.length !== 2) throw invalidArg(`sequence batching control '${field}' must have exactly 2 entries ${where}`);
  };
  if (int32FalseTrue.length > 0) {
    pair('int32_false_true', int32FalseTrue);
    return { name: found.name, datatype: 'INT32', falseBytes: int32Bytes(int32FalseTrue[0]!), trueBytes: int32Bytes(int32FalseTrue[1]!) };
  }
  if (fp32FalseTrue.length > 0) {
    pair('fp32_false_true', fp32FalseTrue);
    return { name: found.name, datatype: 'FP32', falseBytes: fp32Bytes(fp32FalseTrue[0]!), trueBytes: fp32Bytes(fp32FalseTrue[1]!) };
  }
  pair('bool_false_true', boolFalseTrue);
  return { name: found.name, datatype: 'BOOL', falseBytes: Uint8Array.of(boolFalseTrue[0] ? 1 : 0), trueBytes: Uint8Array.of(boolFalseTrue[1] ? 1 : 0) };
}

function corridControl(batcher: ModelSequenceBatching, modelName: string): CorridControl | undefined {
  const found = findControl(batcher, Kind.CONTROL_SEQUENCE_CORRID, modelName);
  if (!found) return undefined;
  const { int32FalseTrue, fp32FalseTrue, boolFalseTrue, dataType } = found.control;
  if (int32FalseTrue.length + fp32FalseTrue.length + boolFalseTrue.length > 0) {
    throw invalidArg(
      `sequence batching must not specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for ` +
        `CONTROL_SEQUENCE_CORRID for ${modelName}`,
    );
  }
  if (!CORRID_TYPES.has(dataType)) {
    throw invalidArg(
      `sequence batching control '${found.name}' of model ${modelName}: unexpected data_type ${DataType[dataType]} for ` +
        'CONTROL_SEQUENCE_CORRID, expected TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING',
    );
  }
  return { name: found.name, datatype: configTypeToDatatype(DataType[dataType])! };
}

function int32Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, true);
  return bytes;
}

function fp32Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return bytes;
}

/**
 * The ID as the CORRID tensor holds it: the low bytes of its uint64 for integer types (as Triton
 * copies them), a length-prefixed string for STRING. A string ID given to an integer control, or the
 * reverse, never gets here (the request is refused first); a not-ready slot carries 0.
 */
function corridBytes(datatype: Datatype, id: CorrelationId): Uint8Array {
  if (datatype === 'BYTES') {
    const text = Buffer.from(typeof id === 'string' ? id : '', 'utf8');
    const bytes = new Uint8Array(4 + text.length);
    new DataView(bytes.buffer).setUint32(0, text.length, true);
    bytes.set(text, 4);
    return bytes;
  }
  const wide = new Uint8Array(8);
  new DataView(wide.buffer).setBigUint64(0, typeof id === 'bigint' ? id : 0n, true);
  return datatype === 'UINT64' || datatype === 'INT64' ? wide : wide.subarray(0, 4);
}
