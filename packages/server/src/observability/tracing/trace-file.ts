import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/**
 * Where one trace file path's traces go (Triton's TraceManager::TraceFile). Without a log frequency
 * the traces are appended to `<file>` as one JSON array: `[` before the first, `,` between, `]` when
 * the server stops (written off the event loop). With one, each batch of traces is its own array in
 * `<file>.<index>`, the index counting up from 0 across the batches written through this file.
 */
export class TraceFile {
  readonly fileName: string;
  #index = 0;
  #stream: WriteStream | undefined;
  #failed = false;
  readonly #onError: (message: string) => void;

  constructor(fileName: string, onError: (message: string) => void) {
    this.fileName = fileName;
    this.#onError = onError;
  }

  /**
   * Writes `traces` (comma-separated trace entries as UTF-8, no brackets) to the indexed file or the
   * main one; `written` is called once their bytes are no longer needed (written, or dropped).
   */
  save(traces: Buffer, toIndexFile: boolean, written?: () => void): void {
    if (toIndexFile) {
      try {
        writeFileSync(`${this.fileName}.${this.#index++}`, Buffer.concat([OPEN, traces, CLOSE]));
      } catch (error) {
        this.#onError(`failed creating trace file: ${(error as Error).message}`);
      }
      written?.();
      return;
    }
    if (this.#failed) {
      written?.();
      return;
    }
    if (this.#stream === undefined) {
      this.#stream = createWriteStream(this.fileName);
      this.#stream.on('error', (error) => {
        this.#failed = true;
        this.#onError(`failed creating trace file: ${error.message}`);
      });
      this.#stream.write(OPEN);
    } else {
      this.#stream.write(COMMA);
    }
    // A failed stream never calls back: its chunk is simply not reused.
    this.#stream.write(traces, () => written?.());
  }

  /** Closes the array of the main file, if anything was written to it, once all is written. */
  close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined || this.#failed) return Promise.resolve();
    return new Promise((resolve) => {
      stream.once('error', () => resolve());
      stream.end(']', () => resolve());
    });
  }
}
