import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { GrpcStatus, InferenceServerError } from '@nereid/client';
import { ModelInferRequestSchema, ModelStreamInferResponseSchema, type ModelInferRequest } from '@nereid/protocol/generated/grpc_service_pb';

/**
 * The gRPC hot path for unary ModelInfer: each data step's request is serialized and framed once,
 * then written on a plain node:http2 session; the response's status comes from the trailers and its
 * body is not decoded. @grpc/grpc-js spends several hundred µs of CPU per call (call objects,
 * metadata, interceptors, decoding), enough to make the client the bottleneck at concurrency 16;
 * everything else still goes through @nereid/client's GrpcClient.
 */

const PATH = '/inference.GRPCInferenceService/ModelInfer';
const STREAM_PATH = '/inference.GRPCInferenceService/ModelStreamInfer';

/** A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, bytes. */
export function frame(message: ModelInferRequest): Buffer {
  const bytes = toBinary(ModelInferRequestSchema, message);
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = 0;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

function requestHeaders(path: string, metadata: Readonly<Record<string, string>>): Record<string, string> {
  return {
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: path,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
    ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** One HTTP/2 session, reopened when the server closed it. */
function sessionFor(address: string): () => ClientHttp2Session {
  let session: ClientHttp2Session | undefined;
  return () => {
    if (session === undefined || session.closed || session.destroyed) {
      const s = connect(`http://${address}`);
      s.on('error', () => undefined);
      s.on('close', () => {
        if (session === s) session = undefined;
      });
      session = s;
    }
    return session;
  };
}

export function grpcSender(address: string, messages: readonly ModelInferRequest[], metadata: Readonly<Record<string, string>>): { send: (index: number) => Promise<number>; close: () => void } {
  const framed = messages.map(frame);
  const n = framed.length;
  const headers = requestHeaders(PATH, metadata);
  const open = sessionFor(address);
  let used: ClientHttp2Session | undefined;
  const send = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      let stream;
      try {
        used = open();
        stream = used.request(headers);
      } catch (error) {
        reject(error);
        return;
      }
      let status: string | undefined;
      let message = '';
      const take = (h: IncomingHttpHeaders) => {
        const s = h['grpc-status'];
        if (s !== undefined) {
          status = String(s);
          message = decodeURIComponent(String(h['grpc-message'] ?? ''));
        }
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', ignore);
      stream.on('error', (error: Error) => reject(new InferenceServerError(error.message, 'grpc', GrpcStatus.UNAVAILABLE)));
      stream.on('close', () => {
        if (status === '0') resolve(1);
        else if (status !== undefined) reject(new InferenceServerError(message, 'grpc', Number(status)));
        else reject(new InferenceServerError('the call ended without a status', 'grpc', GrpcStatus.UNAVAILABLE));
      });
      stream.end(framed[index % n]);
    });
  return { send, close: () => used?.close() };
}

/**
 * ModelStreamInfer with one request in flight per stream (one stream per worker). Responses are
 * read frame by frame; a response is checked for an error message (field 1, which protobuf writes
 * first) without decoding it, except for decoupled models, whose responses are decoded to find the
 * final flag (they ask for `triton_enable_empty_final_response`, so the end is always marked).
 */
export function grpcStreamSender(address: string, messages: readonly ModelInferRequest[], metadata: Readonly<Record<string, string>>, decoupled: boolean): { open: () => { send: (index: number) => Promise<number>; close: () => void }; close: () => void } {
  const framed = messages.map(frame);
  const n = framed.length;
  const headers = requestHeaders(STREAM_PATH, metadata);
  const session = sessionFor(address);
  let used: ClientHttp2Session | undefined;
  return {
    open: () => {
      used = session();
      const stream = used.request(headers);
      let buffer: Buffer = Buffer.alloc(0);
      let pending: { resolve: (responses: number) => void; reject: (error: Error) => void; responses: number } | undefined;
      let failure: Error | undefined;
      const fail = (error: Error) => {
        failure ??= error;
        const p = pending;
        pending = undefined;
        p?.reject(failure);
      };
      let status: string | undefined;
      let statusMessage = '';
      const take = (h: IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) {
          status = String(h['grpc-status']);
          statusMessage = decodeURIComponent(String(h['grpc-message'] ?? ''));
        }
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('error', (error: Error) => fail(new InferenceServerError(error.message, 'grpc', GrpcStatus.UNAVAILABLE)));
      stream.on('close', () => fail(status !== undefined && status !== '0' ? new InferenceServerError(statusMessage, 'grpc', Number(status)) : new Error('the stream ended before the response')));
      stream.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        while (buffer.length >= 5) {
          const length = buffer.readUInt32BE(1);
          if (buffer.length < 5 + length) break;
          const message = buffer.subarray(5, 5 + length);
          buffer = buffer.subarray(5 + length);
          onMessage(message);
        }
      });
      const onMessage = (message: Buffer) => {
        const p = pending;
        if (p === undefined) return;
        if (message[0] === 0x0a) {
          const decoded = fromBinary(ModelStreamInferResponseSchema, message);
          if (decoded.errorMessage !== '') {
            pending = undefined;
            // A stream's error message carries no status code (as the client reports it).
            p.reject(new InferenceServerError(decoded.errorMessage, 'grpc', GrpcStatus.UNKNOWN));
            return;
          }
        }
        if (!decoupled) {
          pending = undefined;
          p.resolve(1);
          return;
        }
        const response = fromBinary(ModelStreamInferResponseSchema, message).inferResponse;
        if (response !== undefined && response.outputs.length > 0) p.responses++;
        const final = response?.parameters['triton_final_response']?.parameterChoice;
        if (final === undefined || final.case !== 'boolParam' || final.value) {
          pending = undefined;
          p.resolve(p.responses);
        }
      };
      const send = (index: number): Promise<number> =>
        new Promise((resolve, reject) => {
          if (failure !== undefined) return reject(failure);
          pending = { resolve, reject, responses: 0 };
          stream.write(framed[index % n]);
        });
      return {
        send,
        close: () => {
          failure ??= new Error('the stream is closed');
          stream.close();
        },
      };
    },
    close: () => used?.close(),
  };
}

function ignore(): void {}
