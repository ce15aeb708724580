import { constants as zlibConstants, deflate, gzip, inflate, gunzip } from 'node:zlib';
import { Status, type CallStatus } from './status.js';

/**
 * gRPC message compression (`grpc-encoding` / `grpc-accept-encoding`): gzip and deflate (zlib
 * format), both ways. Decompression stops at the message size limit, so a small compressed message
 * cannot expand into gigabytes. zlib runs on libuv's thread pool, off the event loop.
 */

export type Encoding = 'identity' | 'gzip' | 'deflate';

export const ACCEPT_ENCODING = 'identity,deflate,gzip';

/** Triton's `--grpc-infer-response-compression-level`, as zlib levels. */
export type CompressionLevel = 'none' | 'low' | 'medium' | 'high';
const ZLIB_LEVEL: Readonly<Record<Exclude<CompressionLevel, 'none'>, number>> = { low: 1, medium: 6, high: 9 };

/** The encoding of the request's messages, or the status refusing an unknown one. */
export function requestEncoding(header: string | string[] | undefined): Encoding | CallStatus {
  if (header === undefined || header === 'identity') return 'identity';
  if (header === 'gzip' || header === 'deflate') return header;
  return {
    code: Status.UNIMPLEMENTED,
    details: `Received message compressed with unsupported encoding "${String(header)}"`,
  };
}

/**
 * The encoding for responses at `level`: gzip when the client accepts it, else deflate, else none
 * (a client that did not list an encoding cannot read it).
 */
export function responseEncoding(level: CompressionLevel, accepted: string | string[] | undefined): Encoding {
  if (level === 'none' || accepted === undefined) return 'identity';
  const names = String(accepted).split(',').map((name) => name.trim());
  if (names.includes('gzip')) return 'gzip';
  if (names.includes('deflate')) return 'deflate';
  return 'identity';
}

export function zlibLevel(level: CompressionLevel): number {
  return level === 'none' ? zlibConstants.Z_DEFAULT_COMPRESSION : ZLIB_LEVEL[level];
}

export function decompress(bytes: Buffer, encoding: Exclude<Encoding, 'identity'>, maxLength: number): Promise<Buffer> {
  const run = encoding === 'gzip' ? gunzip : inflate;
  return new Promise((resolve, reject) => {
    run(bytes, { maxOutputLength: maxLength }, (error, out) => (error ? reject(error) : resolve(out)));
  });
}

export function compress(bytes: Uint8Array, encoding: Exclude<Encoding, 'identity'>, level: number): Promise<Buffer> {
  const run = encoding === 'gzip' ? gzip : deflate;
  return new Promise((resolve, reject) => {
    run(bytes, { level }, (error, out) => (error ? reject(error) : resolve(out)));
  });
}
