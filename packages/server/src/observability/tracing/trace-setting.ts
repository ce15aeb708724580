import type { TraceFile } from './trace-file.js';
import type { TraceText } from './trace-text.js';

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

/**
 * Collected traces are copied at once into chunks of this many bytes, outside V8's heap: records kept
 * across many requests would be promoted to the old generation and cost full collections. A full
 * chunk goes to the main file (no log frequency) before the setting retires.
 */
const CHUNK_BYTES = 1 << 20;
/**
 * Formatted chunks come back here for the next traces: a fresh 1 MiB of external memory per chunk
 * costs page faults on first touch and drives V8's full collections (it counts external memory).
 */
const spareChunks: Buffer[] = [];
const SPARE_CHUNKS = 4;

function takeChunk(bytes: number): Buffer {
  if (bytes <= CHUNK_BYTES) {
    const spare = spareChunks.pop();
    if (spare !== undefined) return spare;
  }
  return Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
}

function returnChunk(chunk: Buffer): void {
  if (chunk.length === CHUNK_BYTES && spareChunks.length < SPARE_CHUNKS) spareChunks.push(chunk);
}

/** A chunk being filled: its bytes, and the same memory as 32-bit words (traces' records are copied in word by word). */
interface FillingChunk {
  readonly bytes: Buffer;
  readonly words: Int32Array;
}

const filling = (bytes: Buffer): FillingChunk => ({ bytes, words: new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) });

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
  /** Traces collected and not written yet (binary records in `#chunk` up to `#used`), and how many. */
  #chunk: FillingChunk | undefined;
  #used = 0;
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

  /** A finished request's traces (Triton's WriteTrace): written every `logFrequency` traces or when the count is used up. */
  collect(traces: readonly TraceText[]): void {
    this.#append(traces);
    this.#collected++;
    if ((this.count === 0 && this.#collected === this.#sample) || (this.logFrequency !== 0 && this.#inStream >= this.logFrequency)) {
      this.#flush(true);
    }
    if (this.#retired && this.#collected === this.#created) this.#flushRemainder();
  }

  /** Replaced by an update (or the server stops): what is left is written once the traces in flight finish. */
  retire(): void {
    this.#retired = true;
    if (this.#collected >= this.#created) this.#flushRemainder();
  }

  #flushRemainder(): void {
    if (this.mode === 'triton' && this.#inStream > 0) this.#flush(this.logFrequency !== 0);
  }

  #append(traces: readonly TraceText[]): void {
    let bytes = 0;
    for (const trace of traces) bytes += trace.byteLength;
    if (bytes === 0) return;
    if (this.#chunk !== undefined && this.#used + bytes > this.#chunk.bytes.length) {
      if (this.logFrequency === 0) this.#flush(false);
      else this.#chunk = filling(grow(this.#chunk.bytes, this.#used + bytes));
    }
    const { words } = (this.#chunk ??= filling(takeChunk(bytes)));
    // Records are self-delimiting and 8-byte aligned (trace-records.ts): they are laid end to end.
    for (const trace of traces) this.#used += 4 * trace.copyTo(words, this.#used >> 2);
    this.#inStream++;
  }

  #flush(toIndexFile: boolean): void {
    const chunk = this.#chunk?.bytes ?? Buffer.alloc(0);
    const used = this.#used;
    // The chunk now belongs to the file (formatted later, off the event loop) until handed back; the next trace starts another.
    this.#chunk = undefined;
    this.#used = 0;
    this.#inStream = 0;
    this.file.save(chunk, used, toIndexFile, returnChunk);
  }
}

/** A larger chunk holding what `chunk` holds (a batch of `log_frequency` traces beyond one chunk). */
function grow(chunk: Buffer, needed: number): Buffer {
  const next = Buffer.allocUnsafeSlow(Math.max(needed, chunk.length * 2));
  chunk.copy(next);
  return next;
}
