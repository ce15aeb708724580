import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpStatusOf, toServerError, unsupported } from '../../../errors/index.js';
import type { RequestTrace } from '../../../observability/tracing/request-trace.js';
import { nowNs } from '../../../util/clock.js';
import { CancelToken, type CancelSignal } from '../../../util/cancel-signal.js';
import { REQUEST_ID_HEADER, type RequestLine, type RequestLog } from '../../../observability/request-log.js';
import { MAX_BINARY_BODY, binaryBodyTooLarge, jsonTooLarge, rawInputTooLarge, readBody } from '../body.js';
import { INFERENCE_HEADER, decodeRawInferRequest, inferenceHeaderLength } from '../codec/binary-infer.js';
import { encodeInferResponse, type EncodedInferResponse } from '../codec/infer-response.js';
import { decodeInferHeader } from '../codec/header-cache.js';
import type { DecodedInferRequest, OutputPlan } from '../codec/json-infer.js';
import { OFFLOAD_JSON_BYTES, OFFLOAD_JSON_ELEMENTS, codecPoolFor } from '../../codec-worker/codec-pool.js';
import type { InferResponse } from '../../../request/infer-response.js';
import { elementCount } from '@nereid/protocol';
import { compressBody, decompressBody, requestCompression, responseCompression } from '../compression.js';
import type { HttpContext } from '../context.js';
import { LARGE_REQUEST_BYTES, noteRequestBytes } from '../../../util/memory-relief.js';
import { BINARY_TYPE, JSON_TYPE, sendChunks, sendError } from '../reply.js';

/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`: read (and inflate) the body, decode JSON, JSON+binary
 * or raw binary into an InferRequestInit, run it, and answer with JSON or JSON+binary, compressed
 * when the client asks. A client that disconnects aborts its request.
 */
export async function handleInfer(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
): Promise<void> {
  const [model = '', version = ''] = params;
  if (http.core.isModelDecoupled(model, version)) {
    throw unsupported("HTTP end point doesn't support models with decoupled transaction policy");
  }
  const trace = http.core.startTrace?.(model, req.headers);
  if (trace === undefined) return inferRequest(http, req, res, model, version, undefined);
  trace.captureTimestamp('HTTP_RECV_START', nowNs());
  let sending = false;
  try {
    await inferRequest(http, req, res, model, version, {
      trace,
      sending: () => {
        sending = true;
      },
    });
  } finally {
    // A response on its way finishes the trace once sent; a failure is answered by the router.
    if (!sending) trace.finish();
  }
}

/** A traced request's trace and the hook its response's sending calls. */
interface Traced {
  readonly trace: RequestTrace;
  readonly sending: () => void;
}

async function inferRequest(
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  model: string,
  version: string,
  traced: Traced | undefined,
): Promise<void> {
  const compression = requestCompression(req.headers['content-encoding']);
  if (compression === undefined) {
    sendError(res, unsupported('Unsupported compression type'), http.logger, { 'Accept-Encoding': 'gzip, deflate' });
    return;
  }
  const headerValue = singleHeader(req.headers, INFERENCE_HEADER);
  const limit = http.options.maxInputSize;
  let body = await readInferBody(req, headerValue, limit);
  if (compression !== 'identity') body = await decompressBody(body, limit);
  const bodyLength = body.length;
  traced?.trace.captureTimestamp('HTTP_RECV_END', nowNs());
  if (http.core.requestLog !== undefined) return inferLogged(http, http.core.requestLog, req, res, model, version, body, headerValue, traced);
  // Decoded here on the event loop unless large (then on a codec worker): no promise for the common case.
  let decoded = decodeInferBody(http, model, version, body, headerValue);
  if (decoded instanceof Promise) decoded = await decoded;
  const response = await http.core.infer(decoded.init, { signal: disconnectSignal(req.socket), trace: traced?.trace.root });
  await respond(req, res, http, response, decoded.plan, bodyLength, traced);
}

/** Encodes and sends the response; returns the bytes sent (before compression). */
async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  http: HttpContext,
  response: InferResponse,
  plan: OutputPlan,
  bodyLength: number,
  traced: Traced | undefined,
): Promise<number> {
  const sent = traced === undefined ? undefined : traceSending(traced);
  let encoded: EncodedInferResponse;
  try {
    encoded =
      jsonElementCount(response, plan) > OFFLOAD_JSON_ELEMENTS
        ? await codecPoolFor(http.options.maxInputSize).encode(response, plan)
        : encodeInferResponse(response, plan);
    const sending = sendInferResponse(req, res, encoded, sent);
    if (sending !== undefined) await sending;
  } catch (error) {
    // Not sent: the trace ends here, and the router answers with the error.
    sent?.();
    throw error;
  }
  const moved = bodyLength + encoded.byteLength;
  // Once the response has left (its bytes are no longer queued on the socket), not before. Only
  // large requests can schedule a relief, so only they pay for the listener.
  if (moved >= LARGE_REQUEST_BYTES) res.once('finish', () => noteRequestBytes(moved));
  return encoded.byteLength;
}

/**
 * INFER_RESPONSE_COMPLETE and HTTP_SEND_START now; the function returned takes HTTP_SEND_END and
 * finishes the trace (once) when the response has left, or when it cannot be sent.
 */
function traceSending(traced: Traced): () => void {
  const { trace } = traced;
  const now = nowNs();
  trace.captureTimestamp('INFER_RESPONSE_COMPLETE', now);
  trace.captureTimestamp('HTTP_SEND_START', now);
  traced.sending();
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    trace.captureTimestamp('HTTP_SEND_END', nowNs());
    trace.finish();
  };
}

/**
 * The same with `--request-log`: the request gets an id if it has none (the client's X-Request-Id
 * header, else a new one), returned in the X-Request-Id header and the response `id`; one line is
 * logged whether it succeeds or fails.
 */
async function inferLogged(
  http: HttpContext,
  log: RequestLog,
  req: IncomingMessage,
  res: ServerResponse,
  model: string,
  version: string,
  body: Buffer,
  headerValue: string | undefined,
  traced: Traced | undefined,
): Promise<void> {
  const bodyLength = body.length;
  const headerId = singleHeader(req.headers, REQUEST_ID_HEADER);
  let line: RequestLine | undefined;
  try {
    let decoded = decodeInferBody(http, model, version, body, headerValue);
    if (decoded instanceof Promise) decoded = await decoded;
    const started = log.begin('http', decoded.init, headerId);
    line = started.line;
    res.setHeader('X-Request-Id', line.id);
    const response = await http.core.infer(started.init, { signal: disconnectSignal(req.socket), trace: traced?.trace.root });
    const bytesOut = await respond(req, res, http, response, decoded.plan, bodyLength, traced);
    line.succeeded(response, 200, bodyLength, bytesOut);
  } catch (error) {
    const failure = toServerError(error);
    if (line === undefined) {
      // Refused before a request existed: logged under the URL's model and the header's id.
      line = log.begin('http', { id: '', modelName: model, modelVersion: version, inputs: [] }, headerId).line;
      if (!res.headersSent) res.setHeader('X-Request-Id', line.id);
    }
    line.failed(failure, httpStatusOf(failure.code), bodyLength);
    throw failure;
  }
}

/**
 * Splits and decodes a (decompressed) body; header length 0 selects the raw binary form. A large JSON
 * part is decoded on a codec worker (the body is handed over: the caller must not read it again).
 */
export function decodeInferBody(
  http: HttpContext,
  model: string,
  version: string,
  body: Buffer,
  headerValue: string | undefined,
): DecodedInferRequest | Promise<DecodedInferRequest> {
  const headerLength = inferenceHeaderLength(headerValue, body.length);
  if (headerLength === 0) return decodeRawInferRequest(http.core, model, version, body);
  const limit = http.options.maxInputSize;
  if (headerLength > limit) throw jsonTooLarge(limit)(headerLength);
  if (headerLength > OFFLOAD_JSON_BYTES) {
    return codecPoolFor(limit).decode(model, version, body, headerLength, limit);
  }
  return decodeInferHeader(model, version, body.subarray(0, headerLength), body.subarray(headerLength), { maxInputSize: limit });
}

/** How many elements the response writes as JSON text (outputs not sent as binary). */
function jsonElementCount(response: InferResponse, plan: OutputPlan): number {
  let count = 0;
  for (const output of response.outputs) {
    if ((plan.named?.get(output.name) ?? plan.defaultKind) !== 'json') continue;
    count += output.datatype === 'BYTES' ? elementCount(output.shape) : output.data.byteLength / 4;
  }
  return count;
}

function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads the body under Triton's limits: --http-max-input-size bounds a JSON body and a raw binary
 * one, while binary tensors after a JSON header are not bounded by it (only the header is, checked
 * in decodeInferBody), so such a body may reach MAX_BINARY_BODY.
 */
function readInferBody(req: IncomingMessage, headerValue: string | undefined, limit: number): Promise<Buffer> {
  if (headerValue === undefined) return readBody(req, limit, jsonTooLarge(limit));
  const headerLength = Number(headerValue.trim());
  if (headerLength === 0) return readBody(req, limit, rawInputTooLarge(limit), 0);
  // No alignment for a header decoded on a codec worker: an unpadded body is moved there, not copied.
  const alignAt = Number.isSafeInteger(headerLength) && headerLength <= OFFLOAD_JSON_BYTES ? headerLength : undefined;
  return readBody(req, MAX_BINARY_BODY, binaryBodyTooLarge, alignAt);
}

/**
 * The signal that aborts a connection's queued requests once the client is gone. HTTP/1.1 answers a
 * connection's requests in order, so its closing is the only disconnect there is; one token per
 * connection spares every request an AbortController and two listener calls. Whoever listens on it
 * must stop when its request is done (the scheduler does), as the connection outlives requests.
 */
function disconnectSignal(socket: Socket): CancelSignal {
  let signal = connectionSignals.get(socket);
  if (signal === undefined) {
    // A CancelToken, not an AbortController: adding and removing a listener on a DOM event target
    // costs microseconds, and backends that watch cancellation do both for every request.
    const token = new CancelToken();
    socket.once('close', () => token.cancel());
    signal = token;
    connectionSignals.set(socket, signal);
  }
  return signal;
}

const connectionSignals = new WeakMap<Socket, CancelSignal>();

/** Sends the response; a promise only when it is compressed on libuv's pool first. */
function sendInferResponse(req: IncomingMessage, res: ServerResponse, encoded: EncodedInferResponse, onSent?: () => void): Promise<void> | undefined {
  const headers: OutgoingHttpHeaders =
    encoded.headerLength === undefined
      ? { 'Content-Type': JSON_TYPE }
      : { 'Content-Type': BINARY_TYPE, 'Inference-Header-Content-Length': encoded.headerLength };
  const compression = responseCompression(req.headers['accept-encoding']);
  if (compression === 'identity') {
    sendChunks(res, 200, headers, encoded.chunks, encoded.byteLength, onSent);
    return undefined;
  }
  return compressBody(encoded.chunks, encoded.byteLength, compression).then((compressed) => {
    headers['Content-Encoding'] = compression;
    sendChunks(res, 200, headers, [compressed], compressed.length, onSent);
  });
}
