import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/**
 * Trace files kept open as JSON arrays, written synchronously: `[` before the first batch of
 * entries, `,` between batches, `]` at close. The trace writer thread uses one; the calling thread
 * uses another when that thread has failed, going on with the files it began (`continuing`).
 */
export class TraceArrayFiles {
  /** Open files by path; null once opening or writing one failed (its later traces are dropped). */
  readonly #files = new Map<string, number | null>();

  /** Appends `text` (comma-separated entries, no brackets) to `file`'s array. */
  append(file: string, text: Uint8Array, continuing = false): void {
    if (text.length === 0) return;
    let fd = this.#files.get(file);
    if (fd === null) return;
    try {
      if (fd === undefined) {
        fd = openSync(file, continuing ? 'a' : 'w');
        this.#files.set(file, fd);
        writeAll(fd, continuing ? COMMA : OPEN);
      } else {
        writeAll(fd, COMMA);
      }
      writeAll(fd, text);
    } catch (error) {
      this.#files.set(file, null);
      throw error;
    }
  }

  /** Ends `file`'s array (one another writer began, when `continuing`, even if nothing was appended here). */
  close(file: string, continuing = false): void {
    const fd = this.#files.get(file);
    this.#files.delete(file);
    if (fd === null) return;
    if (fd === undefined) {
      if (continuing) appendFileSync(file, CLOSE);
      return;
    }
    writeAll(fd, CLOSE);
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}
