/**
 * One thread that formats collected trace records (trace-records.ts) into JSON and appends them to
 * trace files, so that a server tracing every request spends its event loop on serving. Jobs are
 * done in the order sent. The thread starts on first use and holds the process open only while it
 * has work. Should it fail, the chunks it held are lost (the caller is told), and later ones are
 * written from the calling thread.
 */
import { Worker } from 'node:worker_threads';
import { TraceArrayFiles } from './trace-array-files.js';
import { formatTraceRecords } from './trace-records.js';

export type WriterJob =
  /** Append a chunk's traces to `file` (the chunk's buffer is transferred, and comes back in the reply). */
  | { readonly t: 'append'; readonly file: string; readonly records: ArrayBuffer; readonly length: number }
  /** Close `file`'s array. */
  | { readonly t: 'close'; readonly file: string };

export interface WriterReply {
  readonly records?: ArrayBuffer;
  /** Why the job failed (the file's later traces are dropped). */
  readonly error: string | undefined;
}

class TraceWriter {
  #worker: Worker | undefined;
  #failed = false;
  readonly #pending: Array<(reply: WriterReply | Error) => void> = [];
  /** Files written from this thread once the worker failed. */
  readonly #local = new TraceArrayFiles();
  /** Files the worker was given: their array is open there (or was, when it failed). */
  readonly #workerFiles = new Set<string>();

  /**
   * Appends the traces in the first `length` bytes of `chunk` (a buffer of its own ArrayBuffer,
   * handed over until the promise settles) to `file`; resolves with the chunk's buffer to reuse.
   */
  append(file: string, chunk: Buffer, length: number): Promise<Buffer> {
    const worker = this.#thread();
    if (worker === undefined || chunk.byteOffset !== 0 || chunk.buffer.byteLength !== chunk.length) {
      try {
        // A file the failed worker began goes on where it stopped.
        this.#local.append(file, formatTraceRecords(chunk, length), this.#workerFiles.has(file));
        return Promise.resolve(chunk);
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    this.#workerFiles.add(file);
    const job: WriterJob = { t: 'append', file, records: chunk.buffer as ArrayBuffer, length };
    return this.#send(worker, job, [job.records]).then((reply) => Buffer.from(reply.records!));
  }

  /** Closes `file`'s array once what was appended before is written. */
  close(file: string): Promise<void> {
    const given = this.#workerFiles.delete(file);
    const worker = this.#worker;
    try {
      // Written from here (the worker failed, or a chunk could not be handed over), or begun by the
      // worker before it failed.
      this.#local.close(file, given && worker === undefined);
      if (worker !== undefined) return this.#send(worker, { t: 'close', file }, []).then(() => undefined);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #send(worker: Worker, job: WriterJob, transfer: ArrayBuffer[]): Promise<WriterReply> {
    return new Promise<WriterReply>((resolve, reject) => {
      this.#pending.push((reply) => {
        if (reply instanceof Error) reject(reply);
        else if (reply.error !== undefined) reject(new Error(reply.error));
        else resolve(reply);
      });
      if (this.#pending.length === 1) worker.ref();
      worker.postMessage(job, transfer);
    });
  }

  #thread(): Worker | undefined {
    if (this.#failed) return undefined;
    if (this.#worker !== undefined) return this.#worker;
    try {
      const worker = new Worker(new URL('./trace-writer-worker.js', import.meta.url));
      worker.on('message', (reply: WriterReply) => {
        this.#pending.shift()?.(reply);
        if (this.#pending.length === 0) worker.unref();
      });
      const fail = (error: Error): void => {
        this.#failed = true;
        this.#worker = undefined;
        for (const settle of this.#pending.splice(0)) settle(error);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`trace writer exited with code ${code}`)));
      // After the listeners: attaching a 'message' listener refs the worker's port again.
      worker.unref();
      this.#worker = worker;
      return worker;
    } catch {
      this.#failed = true;
      return undefined;
    }
  }
}

/** The process's trace writer. */
export const traceWriter = new TraceWriter();
