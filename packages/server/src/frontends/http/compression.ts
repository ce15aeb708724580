import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { invalidArg } from '../../errors/index.js';
import { decompressedTooLarge } from './body.js';

/**
 * gzip/deflate both ways, as Triton's HTTP frontend does for inference: compressed request bodies
 * (`Content-Encoding`) and compressed responses when `Accept-Encoding` prefers gzip or deflate.
 */

export type Compression = 'identity' | 'gzip' | 'deflate';

const unzip = promisify(zlib.unzip);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

/** Bodies below this size are compressed synchronously; the thread-pool hop costs more. */
const SYNC_COMPRESS_LIMIT = 64 * 1024;
const Q_VALUE = /q\s*=\s*([0-9.]+)/;

/** The request's `Content-Encoding`; undefined when Nereid (like Triton) does not support it. */
export function requestCompression(header: string | undefined): Compression | undefined {
  if (header === undefined || header === '' || header === 'identity') return 'identity';
  if (header === 'gzip' || header === 'deflate') return header;
  const normalized = header.trim().toLowerCase();
  if (normalized === 'gzip' || normalized === 'deflate' || normalized === 'identity') return normalized;
  return undefined;
}

/**
 * Inflates a gzip or zlib body (the format is detected, as Triton's zlib setup does) without letting
 * it grow past `limit`.
 */
export async function decompressBody(body: Buffer, limit: number): Promise<Buffer> {
  if (body.length === 0) throw invalidArg('nothing to be decompressed');
  try {
    return await unzip(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw decompressedTooLarge(limit);
    throw invalidArg(`failed to decompress the request body: ${(error as Error).message}`);
  }
}

/**
 * Triton's choice of response encoding: among identity, gzip and deflate in `Accept-Encoding`, the
 * one with the highest q-value (the first on ties); identity when none qualifies.
 */
export function responseCompression(acceptEncoding: string | undefined): Compression {
  if (acceptEncoding === undefined) return 'identity';
  let best: Compression = 'identity';
  let bestWeight = 0;
  for (const entry of acceptEncoding.split(',')) {
    const semicolon = entry.indexOf(';');
    const type = (semicolon === -1 ? entry : entry.slice(0, semicolon)).trim().toLowerCase();
    if (type !== 'identity' && type !== 'gzip' && type !== 'deflate') continue;
    let weight = 1;
    if (semicolon !== -1) {
      const q = Q_VALUE.exec(entry.slice(semicolon + 1));
      weight = q?.[1] === undefined ? Number.NaN : Number(q[1]);
      if (!Number.isFinite(weight)) continue;
    }
    if (weight > bestWeight) {
      best = type;
      bestWeight = weight;
    }
  }
  return best;
}

/** Compresses a response body made of `chunks`. */
export async function compressBody(chunks: readonly Uint8Array[], byteLength: number, type: 'gzip' | 'deflate'): Promise<Buffer> {
  const body = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, byteLength);
  if (byteLength < SYNC_COMPRESS_LIMIT) return type === 'gzip' ? zlib.gzipSync(body) : zlib.deflateSync(body);
  return type === 'gzip' ? gzip(body) : deflate(body);
}
