/**
 * The trace writer thread (see trace-writer.ts): formats each chunk of binary trace records it is
 * sent into JSON text and appends it to the chunk's trace file, which it keeps open as one JSON
 * array until told to close it. Jobs are done, and answered, in the order they came.
 */
import { parentPort } from 'node:worker_threads';
import { TraceArrayFiles } from './trace-array-files.js';
import { formatTraceRecords, formattedBound } from './trace-records.js';
import type { WriterJob, WriterReply } from './trace-writer.js';

const files = new TraceArrayFiles();
/** Reused for every chunk's text (grown when a chunk needs more). */
let scratch = Buffer.allocUnsafeSlow(formattedBound(1 << 20));

function append(file: string, records: ArrayBuffer, length: number): void {
  if (formattedBound(length) > scratch.length) scratch = Buffer.allocUnsafeSlow(formattedBound(length));
  files.append(file, formatTraceRecords(new Uint8Array(records), length, scratch));
}

parentPort?.on('message', (job: WriterJob) => {
  let error: string | undefined;
  try {
    if (job.t === 'append') append(job.file, job.records, job.length);
    else files.close(job.file);
  } catch (failure) {
    error = (failure as Error).message;
  }
  const reply: WriterReply = job.t === 'append' ? { records: job.records, error } : { error };
  parentPort?.postMessage(reply, job.t === 'append' ? [job.records] : []);
});
