/**
 * The trace writer thread (see trace-writer.ts): formats each chunk of binary trace records it is
 * sent into JSON text and appends it to the chunk's trace file, which it keeps open as one JSON
 * array until told to close it. Jobs are done, and answered, in the order they came.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { formatTraceRecords, formattedBound } from './trace-records.js';
import type { WriterJob, WriterReply } from './trace-writer.js';

/** Open files by path; null once opening or writing one failed (its later traces are dropped). */
const files = new Map<string, number | null>();
/** Reused for every chunk's text (grown when a chunk needs more). */
let scratch = Buffer.allocUnsafeSlow(formattedBound(1 << 20));

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

function append(file: string, records: ArrayBuffer, length: number): void {
  let fd = files.get(file);
  if (fd === null) return;
  if (formattedBound(length) > scratch.length) scratch = Buffer.allocUnsafeSlow(formattedBound(length));
  const text = formatTraceRecords(new Uint8Array(records), length, scratch);
  if (text.length === 0) return;
  if (fd === undefined) {
    fd = openSync(file, 'w');
    files.set(file, fd);
    writeAll(fd, Buffer.from('['));
  } else {
    writeAll(fd, Buffer.from(','));
  }
  writeAll(fd, text);
}

function close(file: string): void {
  const fd = files.get(file);
  files.delete(file);
  if (fd === undefined || fd === null) return;
  writeAll(fd, Buffer.from(']'));
  closeSync(fd);
}

parentPort?.on('message', (job: WriterJob) => {
  let error: string | undefined;
  try {
    if (job.t === 'append') append(job.file, job.records, job.length);
    else close(job.file);
  } catch (failure) {
    if (job.t === 'append') files.set(job.file, null);
    error = (failure as Error).message;
  }
  const reply: WriterReply = job.t === 'append' ? { records: job.records, error } : { error };
  parentPort?.postMessage(reply, job.t === 'append' ? [job.records] : []);
});
