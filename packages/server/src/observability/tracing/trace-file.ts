import { writeFileSync } from 'node:fs';
import { traceWriter } from './trace-writer.js';
import { formatTraceRecords } from './trace-records.js';

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/**
 * Where one trace file path's traces go (Triton's TraceManager::TraceFile). Without a log frequency
 * the traces are appended to `<file>` as one JSON array: `[` before the first, `,` between, `]` when
 * the server stops. With one, each batch of traces is its own array in `<file>.<index>`, the index
 * counting up from 0 across the batches written through this file. Batches arrive as binary records
 * (trace-records.ts). Those of the main file are formatted and written by the trace writer thread,
 * in the order they arrived; an indexed file is written at once, as Triton does, so it exists when
 * the request that completed its batch has been answered.
 */
export class TraceFile {
  readonly fileName: string;
  #index = 0;
  /** Whether traces went to the main file (its array is then closed at the end). */
  #appended = false;
  #failed = false;
  /** Settles once every batch saved to the main file so far is written (or dropped). */
  #written: Promise<void> = Promise.resolve();
  readonly #onError: (message: string) => void;

  constructor(fileName: string, onError: (message: string) => void) {
    this.fileName = fileName;
    this.#onError = onError;
  }

  /**
   * Writes the traces in the first `length` bytes of `records` (a buffer of its own ArrayBuffer,
   * handed over: it may be detached meanwhile) to the indexed file or the main one. `reuse` gets the
   * records' buffer back once they are written.
   */
  save(records: Buffer, length: number, toIndexFile: boolean, reuse?: (records: Buffer) => void): void {
    if (toIndexFile) {
      const text = formatTraceRecords(records, length);
      reuse?.(records);
      this.#writeIndexFile(text);
      return;
    }
    if (this.#failed || length === 0) {
      reuse?.(records);
      return;
    }
    this.#appended = true;
    this.#written = traceWriter.append(this.fileName, records, length).then(
      (chunk) => reuse?.(chunk),
      (error: Error) => {
        if (this.#failed) return;
        this.#failed = true;
        this.#onError(`failed creating trace file: ${error.message}`);
      },
    );
  }

  #writeIndexFile(traces: Buffer): void {
    try {
      writeFileSync(`${this.fileName}.${this.#index++}`, Buffer.concat([OPEN, traces, CLOSE]));
    } catch (error) {
      this.#onError(`failed creating trace file: ${(error as Error).message}`);
    }
  }

  /** Closes the array of the main file, if anything was written to it, once all is written. */
  async close(): Promise<void> {
    await this.#written;
    if (!this.#appended) return;
    this.#appended = false;
    try {
      await traceWriter.close(this.fileName);
    } catch (error) {
      if (!this.#failed) this.#onError(`failed creating trace file: ${(error as Error).message}`);
    }
  }
}
