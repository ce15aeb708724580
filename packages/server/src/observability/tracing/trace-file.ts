import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';

/**
 * Where one trace file path's traces go (Triton's TraceManager::TraceFile). Without a log frequency
 * the traces are appended to `<file>` as one JSON array: `[` before the first, `,` between, `]` when
 * the server stops. With one, each batch of traces is its own array in `<file>.<index>`, the index
 * counting up from 0 across the batches written through this file.
 */
export class TraceFile {
  readonly fileName: string;
  #index = 0;
  #fd: number | undefined;
  #failed = false;
  readonly #onError: (message: string) => void;

  constructor(fileName: string, onError: (message: string) => void) {
    this.fileName = fileName;
    this.#onError = onError;
  }

  /** Writes `traces` (comma-joined trace objects, no brackets) to the indexed file or the main one. */
  save(traces: string, toIndexFile: boolean): void {
    try {
      if (toIndexFile) {
        writeFileSync(`${this.fileName}.${this.#index++}`, `[${traces}]`);
        return;
      }
      if (this.#failed) return;
      if (this.#fd === undefined) {
        this.#fd = openSync(this.fileName, 'w');
        writeSync(this.#fd, `[${traces}`);
      } else {
        writeSync(this.#fd, `,${traces}`);
      }
    } catch (error) {
      if (!toIndexFile) this.#failed = true;
      this.#onError(`failed creating trace file: ${(error as Error).message}`);
    }
  }

  /** Closes the array of the main file, if anything was written to it. */
  close(): void {
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, ']');
      closeSync(this.#fd);
    } catch (error) {
      this.#onError(`failed closing trace file: ${(error as Error).message}`);
    }
    this.#fd = undefined;
  }
}
