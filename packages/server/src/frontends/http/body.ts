import type { IncomingMessage } from 'node:http';
import { ServerError, invalidArg } from '../../errors/index.js';

/** Reading request bodies whole, with the `--http-max-input-size` limit applied before buffering. */

const EMPTY = Buffer.alloc(0);
const LIMIT_HINT = 'Use --http-max-input-size to increase the limit.';

/** Bodies declared at least this large are read straight into one buffer of their size... */
const PREALLOCATE_BYTES = 64 * 1024;
/**
 * ...up to this size. Larger ones are gathered as they arrive: a client must not make the server
 * reserve gigabytes by merely declaring them.
 */
const PREALLOCATE_LIMIT = 256 * 1024 * 1024;
/** Alignment given to the byte at `alignAt` of a preallocated body: any element type reads it in place. */
const BODY_ALIGNMENT = 64;

/**
 * Reads the whole body. A declared Content-Length over `limit` fails before any byte is read; a
 * chunked body fails as soon as it passes the limit. `tooLarge` words the error for the endpoint.
 * A single-chunk body comes back as that chunk, without a copy. A large declared body is copied into
 * one buffer as it arrives (no second whole copy at the end), placed so that its byte at `alignAt`
 * (where binary tensors start) is 64-byte aligned, sparing the backend an aligning copy.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  tooLarge: (size: number) => ServerError,
  alignAt?: number,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  let declaredLength: number | undefined;
  if (declared !== undefined) {
    const length = Number(declared);
    if (length > limit) return Promise.reject(tooLarge(length));
    if (length === 0) return Promise.resolve(EMPTY);
    declaredLength = length;
  } else if (req.headers['transfer-encoding'] === undefined) {
    return Promise.resolve(EMPTY);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let whole: Buffer | undefined;
    if (declaredLength !== undefined && declaredLength >= PREALLOCATE_BYTES && declaredLength <= PREALLOCATE_LIMIT) {
      whole = allocateBody(declaredLength, alignAt);
    }
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer): void => {
      if (whole !== undefined) {
        // Node's parser frames the body by Content-Length, so it never overflows; refuse if it did.
        if (size + chunk.length > whole.length) {
          cleanup();
          reject(invalidArg(`request body longer than its Content-Length of ${whole.length} bytes`));
          return;
        }
        whole.set(chunk, size);
        size += chunk.length;
        return;
      }
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(size));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (whole !== undefined) resolve(whole.subarray(0, size));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // The client went away mid-body ('aborted' error, or a bare close): not a server fault.
    const onGone = (): void => {
      cleanup();
      reject(new ServerError('CANCELLED', 'connection closed before the request body was received'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

/**
 * A buffer for a body of `length` bytes. Without `alignAt` it owns its memory exactly (so it can be
 * moved to a worker); with it, the body starts where its byte `alignAt` falls on a 64-byte boundary.
 */
function allocateBody(length: number, alignAt: number | undefined): Buffer {
  if (alignAt === undefined || !(alignAt >= 0 && alignAt < length)) return Buffer.allocUnsafeSlow(length);
  const memory = Buffer.allocUnsafeSlow(length + BODY_ALIGNMENT);
  const pad = (BODY_ALIGNMENT - ((memory.byteOffset + alignAt) % BODY_ALIGNMENT)) % BODY_ALIGNMENT;
  return memory.subarray(pad, pad + length);
}

/** Triton's error for a JSON body over the limit (repository endpoints, JSON inference requests). */
export function jsonTooLarge(limit: number): (size: number) => ServerError {
  return (size) =>
    invalidArg(
      `request JSON size of ${size} bytes exceeds the maximum allowed input size of ${limit} bytes. ${LIMIT_HINT}`,
    );
}

/** Triton's error for a raw binary inference body over the limit. */
export function rawInputTooLarge(limit: number): (size: number) => ServerError {
  return (size) =>
    invalidArg(
      `Raw input has a byte_size (${size} bytes) that exceeds the maximum allowed value of ${limit} bytes. ${LIMIT_HINT}`,
    );
}

/**
 * Cap on a JSON header plus binary tensors. Triton limits only the header there (binary data of any
 * size is accepted); Nereid holds a body in one Buffer, so it stops at gRPC's message limit.
 */
export const MAX_BINARY_BODY = 2 ** 31 - 1;

/** The error for a JSON header plus binary tail over MAX_BINARY_BODY. */
export function binaryBodyTooLarge(size: number): ServerError {
  return invalidArg(
    `request body size of ${size} bytes exceeds the maximum of ${MAX_BINARY_BODY} bytes for a JSON header with binary data`,
  );
}

/** Triton's error for a compressed body that inflates past the limit. */
export function decompressedTooLarge(limit: number): ServerError {
  return invalidArg(`Decompressed data size exceeds the maximum allowed value of ${limit} bytes. ${LIMIT_HINT}`);
}

/**
 * Discards the unread rest of a body answered early (too large, refused), so a client still
 * uploading can finish and then read the error, as with Triton, which reads every body whole; the
 * connection stays usable. Returns false, leaving the caller to close the connection, when more
 * than MAX_BINARY_BODY bytes would have to be drained.
 */
export function drainBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= MAX_BINARY_BODY)) return false;
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BINARY_BODY) req.socket.destroy();
  });
  req.resume();
  return true;
}
