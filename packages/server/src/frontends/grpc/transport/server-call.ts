import type { IncomingHttpHeaders, ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2';
import { CancelToken } from '../../../util/cancel-signal.js';
import {
  ACCEPT_ENCODING,
  compress,
  decompress,
  requestEncoding,
  responseEncoding,
  zlibLevel,
  type CompressionLevel,
  type Encoding,
} from './compression.js';
import {
  COPY_INTO_FRAME_LIMIT,
  MessageReader,
  frameHeader,
  framed,
  joined,
  type EncodedMessage,
  type ReceivedMessage,
} from './framing.js';
import type { ServerStream, StreamListener } from './handlers.js';
import type { Route } from './method-table.js';
import { OK_STATUS, Status, statusFields, type CallStatus } from './status.js';
import { parseGrpcTimeout } from './timeout.js';

/** What the server lends each call. */
export interface CallEnvironment {
  readonly maxMessageLength: number;
  readonly responseCompression: CompressionLevel;
  /** Maps whatever a handler threw onto a status (and logs bugs). */
  readonly statusOf: (error: unknown) => CallStatus;
  /** The call is over: its status went out, or it was cancelled. Called once. */
  readonly ended: (responded: boolean) => void;
  /** The call sent its response headers (data follows). */
  readonly responseStarted: () => void;
  /** Response headers or data went out on the connection (keepalive policy counts these). */
  readonly sent: () => void;
}

const RESPONSE_HEADERS = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': ACCEPT_ENCODING,
});
const HEADERS_BY_ENCODING: Readonly<Record<Encoding, Readonly<Record<string, string | number>>>> = {
  identity: RESPONSE_HEADERS,
  gzip: Object.freeze({ ...RESPONSE_HEADERS, 'grpc-encoding': 'gzip' }),
  deflate: Object.freeze({ ...RESPONSE_HEADERS, 'grpc-encoding': 'deflate' }),
};
// `sendDate` is honoured by Node but missing from its types: gRPC responses carry no date.
const WITH_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false }) as ServerStreamResponseOptions;
const END_STREAM = Object.freeze({ endStream: true, sendDate: false }) as ServerStreamResponseOptions;
const OK_TRAILERS = Object.freeze(statusFields(OK_STATUS));

/**
 * One RPC on one HTTP/2 stream: reads the request messages (decompressing, checking the size limit),
 * runs the route's handler, writes the response messages and ends with the status in trailers (or
 * alone, "trailers-only", when no response was sent). Deadlines (`grpc-timeout`) and client resets
 * abort `cancelled`. For streams, the call itself is the handler's `ServerStream`.
 */
export class ServerCall implements ServerStream<unknown, unknown> {
  readonly metadata: IncomingHttpHeaders;
  readonly cancelled = new CancelToken();
  readonly #stream: ServerHttp2Stream;
  readonly #route: Route;
  readonly #env: CallEnvironment;
  readonly #reader: MessageReader;
  readonly #requestEncoding: Encoding;
  #responseEncoding: Encoding | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Messages or the half-close waiting behind a decompression, in order. */
  #inbox: Promise<void> | undefined;
  /** Responses waiting behind a compression, in order. */
  #outbox: Promise<void> | undefined;
  #unaryRequest: Buffer | undefined;
  #listener: StreamListener<unknown> | undefined;
  #early: unknown[] | undefined;
  #earlyHalfClose = false;
  #headersSent = false;
  /** The status is decided; nothing more is read or written. */
  #done = false;
  #ended = false;
  /** Response headers with data went out (not a trailers-only answer). */
  #responded = false;
  #status: CallStatus = OK_STATUS;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, route: Route, env: CallEnvironment) {
    this.#stream = stream;
    this.metadata = headers;
    this.#route = route;
    this.#env = env;
    this.#reader = new MessageReader(env.maxMessageLength, route.alignAt);
    stream.on('close', this.#onClose);
    stream.on('error', ignore);
    const encoding = requestEncoding(headers['grpc-encoding']);
    if (typeof encoding !== 'string') {
      this.#requestEncoding = 'identity';
      this.#finish(encoding);
      stream.resume();
      return;
    }
    this.#requestEncoding = encoding;
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    if (timeoutMs !== undefined) this.#deadline = setTimeout(this.#onDeadline, timeoutMs);
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    if (route.kind === 'stream') route.handler(this as ServerStream<never, never>);
  }

  onClosed(listener: () => void): void {
    if (this.#stream.closed) listener();
    else this.#stream.once('close', listener);
  }

  // ServerStream

  listen(listener: StreamListener<unknown>): void {
    this.#listener = listener;
    const early = this.#early;
    this.#early = undefined;
    for (const request of early ?? []) if (!this.#done) listener.message(request);
    if (this.#earlyHalfClose && !this.#done) listener.halfClose();
  }

  write(response: unknown): void {
    if (this.#done) return;
    this.#send(response, false);
  }

  end(): void {
    this.#finish(OK_STATUS);
  }

  fail(status: CallStatus): void {
    this.#finish(status);
  }

  // Reading

  readonly #onData = (chunk: Buffer): void => {
    if (this.#done) return;
    const refusal = this.#reader.push(chunk, this.#onMessage);
    if (refusal !== undefined) this.#finish(refusal);
  };

  readonly #onMessage = (message: ReceivedMessage): void => {
    if (this.#done) return;
    if (!message.compressed && this.#inbox === undefined) {
      this.#accept(message.bytes);
      return;
    }
    if (message.compressed && this.#requestEncoding === 'identity') {
      this.#finish({ code: Status.INTERNAL, details: 'Failed to decompress message: compressed flag set with identity encoding' });
      return;
    }
    const encoding = this.#requestEncoding as Exclude<Encoding, 'identity'>;
    const bytes = message.compressed
      ? decompress(message.bytes, encoding, this.#env.maxMessageLength)
      : Promise.resolve(message.bytes);
    this.#inbox = (this.#inbox ?? Promise.resolve()).then(() =>
      bytes.then(
        (plain) => {
          if (!this.#done) this.#accept(plain);
        },
        (error: unknown) => this.#finish(decompressionFailure(error, this.#env.maxMessageLength)),
      ),
    );
  };

  readonly #onEnd = (): void => {
    if (this.#done) return;
    if (this.#inbox !== undefined) {
      this.#inbox = this.#inbox.then(() => this.#halfClosed());
      return;
    }
    this.#halfClosed();
  };

  #halfClosed(): void {
    if (this.#done) return;
    if (this.#reader.midMessage) {
      this.#finish({ code: Status.INTERNAL, details: 'Incomplete message: the request stream ended inside a message' });
      return;
    }
    if (this.#route.kind === 'unary') {
      this.#runUnary();
      return;
    }
    if (this.#listener === undefined) this.#earlyHalfClose = true;
    else this.#listener.halfClose();
  }

  #accept(bytes: Buffer): void {
    if (this.#route.kind === 'unary') {
      if (this.#unaryRequest !== undefined) {
        this.#finish({ code: Status.UNIMPLEMENTED, details: `Received a second request message for unary method ${this.#route.path}` });
        return;
      }
      this.#unaryRequest = bytes;
      return;
    }
    const request = this.#decode(bytes);
    if (request === undefined) return;
    if (this.#listener === undefined) (this.#early ??= []).push(request);
    else this.#listener.message(request);
  }

  #decode(bytes: Buffer): unknown {
    try {
      return this.#route.decode(bytes);
    } catch (error) {
      this.#finish({ code: Status.INTERNAL, details: `Error deserializing request: ${(error as Error).message}` });
      return undefined;
    }
  }

  #runUnary(): void {
    const bytes = this.#unaryRequest;
    this.#unaryRequest = undefined;
    if (bytes === undefined) {
      this.#finish({ code: Status.UNIMPLEMENTED, details: `Received no request message for unary method ${this.#route.path}` });
      return;
    }
    const request = this.#decode(bytes);
    if (request === undefined) return;
    let result: unknown;
    try {
      result = (this.#route.handler as (request: unknown, call: ServerCall) => unknown)(request, this);
    } catch (error) {
      this.#finish(this.#env.statusOf(error));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response: unknown) => this.#answerUnary(response),
        (error: unknown) => this.#finish(this.#env.statusOf(error)),
      );
    } else {
      this.#answerUnary(result);
    }
  }

  #answerUnary(response: unknown): void {
    if (this.#done) return;
    this.#send(response, true);
  }

  // Writing

  /** Encodes and writes one response; `last` ends the call with OK behind it (unary). */
  #send(response: unknown, last: boolean): void {
    let bytes: EncodedMessage;
    try {
      bytes = this.#route.encode(response);
    } catch (error) {
      this.#finish(this.#env.statusOf(error));
      return;
    }
    const encoding = this.#chooseResponseEncoding();
    if (encoding === 'identity' && this.#outbox === undefined) {
      this.#writeFramed(bytes, false, last);
      if (last) this.#done = true;
      return;
    }
    const ready: Promise<{ bytes: EncodedMessage; compressed: boolean }> =
      encoding === 'identity'
        ? Promise.resolve({ bytes, compressed: false })
        : compress(joined(bytes), encoding, zlibLevel(this.#env.responseCompression)).then((out) => ({ bytes: out, compressed: true }));
    if (last) this.#done = true;
    this.#outbox = (this.#outbox ?? Promise.resolve()).then(() =>
      ready.then(
        (out) => this.#writeFramed(out.bytes, out.compressed, last),
        (error: unknown) => this.#closeWith(this.#env.statusOf(error)),
      ),
    );
  }

  #chooseResponseEncoding(): Encoding {
    if (this.#responseEncoding !== undefined) return this.#responseEncoding;
    const level = this.#route.compressible ? this.#env.responseCompression : 'none';
    this.#responseEncoding = responseEncoding(level, this.metadata['grpc-accept-encoding']);
    return this.#responseEncoding;
  }

  #writeFramed(message: EncodedMessage, compressed: boolean, last: boolean): void {
    const stream = this.#stream;
    if (this.#ended || stream.destroyed) return;
    this.#sendHeaders();
    if (message.byteLength <= COPY_INTO_FRAME_LIMIT) {
      const frame = framed(joined(message), compressed);
      if (last) stream.end(frame);
      else stream.write(frame);
    } else {
      // Several writes in one tick leave as one flush: the tensors are not copied into a frame.
      stream.write(frameHeader(message.byteLength, compressed));
      const parts = message instanceof Uint8Array ? [message] : message.parts;
      for (let i = 0; i < parts.length - 1; i++) stream.write(parts[i]);
      if (last) stream.end(parts[parts.length - 1]);
      else stream.write(parts[parts.length - 1]);
    }
    this.#env.sent();
  }

  #sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.#responded = true;
    this.#env.responseStarted();
    this.#stream.once('wantTrailers', this.#sendTrailers);
    this.#stream.respond(HEADERS_BY_ENCODING[this.#responseEncoding ?? 'identity'], WITH_TRAILERS);
  }

  readonly #sendTrailers = (): void => {
    const status = this.#status;
    this.#stream.sendTrailers(status === OK_STATUS ? OK_TRAILERS : statusFields(status));
    this.#callEnded();
  };

  /** Decides the status; it goes out behind any response still being compressed. */
  #finish(status: CallStatus): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#outbox !== undefined) this.#outbox = this.#outbox.then(() => this.#closeWith(status));
    else this.#closeWith(status);
  }

  #closeWith(status: CallStatus): void {
    if (this.#ended) return;
    this.#status = status;
    this.#clearDeadline();
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) {
      this.#callEnded();
      return;
    }
    if (this.#headersSent) {
      stream.end();
      return;
    }
    this.#headersSent = true;
    stream.respond({ ...RESPONSE_HEADERS, ...statusFields(status) }, END_STREAM);
    this.#env.sent();
    this.#callEnded();
  }

  // Ending

  readonly #onDeadline = (): void => {
    this.#deadline = undefined;
    this.cancelled.cancel();
    this.#finish({ code: Status.DEADLINE_EXCEEDED, details: 'Deadline Exceeded' });
  };

  /** The stream closed: after our trailers, or before them when the client reset it. */
  readonly #onClose = (): void => {
    this.#done = true;
    this.#clearDeadline();
    if (!this.#ended) this.cancelled.cancel();
    this.#callEnded();
  };

  #clearDeadline(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  #callEnded(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clearDeadline();
    this.#env.ended(this.#responded);
  }
}

function ignore(): void {
  // Stream errors (a reset, a lost connection) also close the stream; 'close' handles them.
}

function decompressionFailure(error: unknown, max: number): CallStatus {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return { code: Status.RESOURCE_EXHAUSTED, details: `Received message larger than max (decompressed beyond ${max})` };
  }
  return { code: Status.INTERNAL, details: `Failed to decompress message: ${(error as Error).message}` };
}
