import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { httpStatusOf, ServerError, toServerError, wireMessage } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import { drainBody } from './body.js';

/**
 * Writing responses. Every reply is one `end()` (or one corked burst for large binary bodies) with
 * Content-Length set, so a response leaves in a single write. Errors are `{"error":"<message>"}`
 * with the status Triton's HttpCodeFromError gives the error's code.
 */

export const JSON_TYPE = 'application/json';
export const BINARY_TYPE = 'application/octet-stream';

/** Above this, binary chunks are written corked instead of being concatenated first. */
const CONCAT_LIMIT = 64 * 1024;

/** A status with no body (health and readiness answers; load/unload add a JSON content type). */
export function sendEmpty(res: ServerResponse, status: number, contentType?: string): void {
  res.writeHead(status, contentType === undefined ? { 'Content-Length': 0 } : { 'Content-Type': contentType, 'Content-Length': 0 });
  res.end();
}

/** A JSON body given as text or bytes. */
export function sendJson(res: ServerResponse, status: number, json: string | Buffer): void {
  const body = typeof json === 'string' ? Buffer.from(json, 'utf8') : json;
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': body.length });
  res.end(body);
}

/**
 * A body made of several chunks (JSON header + binary tensors) with the given headers; `onSent` is
 * called once the response has left (see whenSent).
 */
export function sendChunks(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  chunks: readonly Uint8Array[],
  byteLength: number,
  onSent?: () => void,
): void {
  headers['Content-Length'] = byteLength;
  res.writeHead(status, headers);
  if (chunks.length === 1) {
    endSoon(res, chunks[0] as Uint8Array, onSent);
  } else if (byteLength <= CONCAT_LIMIT) {
    endSoon(res, Buffer.concat(chunks, byteLength), onSent);
  } else {
    // Corked writes leave as one writev, without copying the tensor bytes.
    res.cork();
    for (let i = 0; i < chunks.length - 1; i++) res.write(chunks[i]);
    res.end(chunks[chunks.length - 1]);
    res.uncork();
    if (onSent !== undefined) whenSent(res, onSent);
  }
}

/**
 * Calls `onSent` once an ended response has left: at once when its bytes are all with the OS (a
 * write to a ready socket completes within end()) or the client is gone, else when it closes. Most
 * responses so spare a listener.
 */
function whenSent(res: ServerResponse, onSent: () => void): void {
  if (res.closed || res.writableLength === 0) onSent();
  else res.once('close', onSent);
}

const pending: Array<{ res: ServerResponse; body: Uint8Array; onSent: (() => void) | undefined }> = [];

/** Ends replies made in one turn of the event loop together, after the turn's requests are read. */
function endSoon(res: ServerResponse, body: Uint8Array, onSent: (() => void) | undefined): void {
  if (pending.push({ res, body, onSent }) === 1) setImmediate(flushPending);
}

function flushPending(): void {
  for (const { res, body, onSent } of pending.splice(0)) {
    res.end(body);
    if (onSent !== undefined) whenSent(res, onSent);
  }
}

/**
 * The JSON error body Triton sends: `{"error":"<message>"}`, the message bounded by wireMessage so a
 * client-sent string quoted in it cannot make the reply arbitrarily large.
 */
export function errorJson(message: string): string {
  return `{"error":${JSON.stringify(wireMessage(message))}}`;
}

/**
 * Answers with an error. ServerErrors map through httpStatusOf; anything else is a bug, answered 500
 * and logged. A body not read to its end is drained after the reply (see drainBody), or the
 * connection is closed when it is too large even for that.
 */
export function sendError(
  res: ServerResponse,
  error: unknown,
  logger: Logger,
  extraHeaders?: OutgoingHttpHeaders,
): void {
  const serverError = toServerError(error);
  if (!(error instanceof ServerError)) {
    logger.error(`HTTP: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  const status = httpStatusOf(serverError.code);
  if (logger.settings.verboseLevel >= 1) logger.verbose(1, `HTTP error: ${status} ${wireMessage(serverError.message)}`);
  if (res.headersSent || res.destroyed) {
    // Nothing sensible can follow a started body, and nobody is listening on a closed socket.
    res.destroy();
    return;
  }
  const body = Buffer.from(errorJson(serverError.message), 'utf8');
  const headers: OutgoingHttpHeaders = { ...extraHeaders, 'Content-Type': JSON_TYPE, 'Content-Length': body.length };
  if (!res.req.complete && !drainBody(res.req)) headers['Connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/** An error reply with an explicit status and message (404, 405). */
export function sendErrorStatus(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, errorJson(message));
}
