import type { TraceFile } from './trace-file.js';

/** Triton's TRITONSERVER_InferenceTraceLevel bits. */
export const TRACE_LEVEL_DISABLED = 0;
export const TRACE_LEVEL_TIMESTAMPS = 0x4;
export const TRACE_LEVEL_TENSORS = 0x8;

export type TraceMode = 'triton' | 'opentelemetry';

/** `--trace-config` settings of one mode, in the order given (Triton's TraceConfig). */
export type TraceConfigEntries = readonly (readonly [setting: string, value: string])[];

/** The fields of a setting, and which of them a model setting names itself (the rest mirror the global one). */
export interface TraceSettingFields {
  readonly level: number;
  readonly rate: number;
  readonly count: number;
  readonly logFrequency: number;
  readonly mode: TraceMode;
  readonly config: ReadonlyMap<TraceMode, TraceConfigEntries>;
}

export interface SpecifiedFields {
  readonly level: boolean;
  readonly rate: boolean;
  readonly count: boolean;
  readonly logFrequency: boolean;
}

/** Unwritten traces beyond this many characters go to the main file before the setting retires. */
const FLUSH_CHARS = 1 << 20;

/**
 * One trace setting, global or a model's (Triton's TraceManager::TraceSetting): immutable fields but
 * the remaining count, the sampling counters, and the traces collected and not yet written. An
 * update replaces the object; the traces sampled under the old one still finish into it, and its
 * remainder is written once the last of them is collected.
 */
export class TraceSetting implements TraceSettingFields {
  readonly level: number;
  readonly rate: number;
  count: number;
  readonly logFrequency: number;
  readonly mode: TraceMode;
  readonly config: ReadonlyMap<TraceMode, TraceConfigEntries>;
  readonly file: TraceFile;
  readonly specified: SpecifiedFields;
  /** Why the setting cannot trace ('' if it can, leaving the count aside), Triton's texts. */
  readonly invalidReason: string;
  /** Requests seen (Triton's sample_), traces made and collected. */
  #sample = 0;
  #created = 0;
  #collected = 0;
  /** Traces collected and not written yet (comma-separated), and how many. */
  #stream = '';
  #inStream = 0;
  #retired = false;

  constructor(fields: TraceSettingFields, file: TraceFile, specified: SpecifiedFields) {
    this.level = fields.level;
    this.rate = fields.rate;
    this.count = fields.count;
    this.logFrequency = fields.logFrequency;
    this.mode = fields.mode;
    this.config = fields.config;
    this.file = file;
    this.specified = specified;
    if (this.level === TRACE_LEVEL_DISABLED) this.invalidReason = 'tracing is disabled';
    else if (this.rate === 0) this.invalidReason = 'sample rate must be non-zero';
    else if (this.mode === 'triton' && file.fileName === '') this.invalidReason = 'trace file name is not given';
    else this.invalidReason = '';
  }

  valid(): boolean {
    return this.invalidReason === '' && this.count !== 0;
  }

  /**
   * Whether to trace this request (Triton's SampleTrace): every `rate`-th request while the count
   * lasts; `force` (a propagated OpenTelemetry context) traces it regardless.
   */
  sample(force: boolean): boolean {
    let hit = false;
    if (this.rate !== 0) {
      if (!this.valid() && !force) return false;
      hit = ++this.#sample % this.rate === 0;
      if (hit && this.count > 0) {
        this.count--;
        this.#created++;
      } else if (hit && this.count === 0) {
        hit = false;
      }
    }
    return hit || force;
  }

  /** A finished trace's entries (Triton's WriteTrace): written every `logFrequency` traces or when the count is used up. */
  collect(trace: string): void {
    if (trace !== '') {
      this.#stream = this.#stream === '' ? trace : `${this.#stream},${trace}`;
      this.#inStream++;
    }
    this.#collected++;
    if ((this.count === 0 && this.#collected === this.#sample) || (this.logFrequency !== 0 && this.#inStream >= this.logFrequency)) {
      this.#flush(true);
    } else if (this.logFrequency === 0 && this.#stream.length >= FLUSH_CHARS) {
      this.#flush(false);
    }
    if (this.#retired && this.#collected === this.#created) this.#flushRemainder();
  }

  /** Replaced by an update (or the server stops): what is left is written once the traces in flight finish. */
  retire(): void {
    this.#retired = true;
    if (this.#collected >= this.#created) this.#flushRemainder();
  }

  #flushRemainder(): void {
    if (this.mode === 'triton' && this.#stream !== '') this.#flush(this.logFrequency !== 0);
  }

  #flush(toIndexFile: boolean): void {
    const traces = this.#stream;
    this.#stream = '';
    this.#inStream = 0;
    this.file.save(traces, toIndexFile);
  }
}
