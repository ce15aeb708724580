import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { toBinary } from '@bufbuild/protobuf';
import { GrpcStatus, InferenceServerError } from '@nereid/client';
import { ModelInferRequestSchema, type ModelInferRequest } from '@nereid/protocol/generated/grpc_service_pb';

/**
 * The gRPC hot path for unary ModelInfer: each data step's request is serialized and framed once,
 * then written on a plain node:http2 session; the response's status comes from the trailers and its
 * body is not decoded. @grpc/grpc-js spends several hundred µs of CPU per call (call objects,
 * metadata, interceptors, decoding), enough to make the client the bottleneck at concurrency 16;
 * everything else still goes through @nereid/client's GrpcClient.
 */

const PATH = '/inference.GRPCInferenceService/ModelInfer';

/** A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, bytes. */
export function frame(message: ModelInferRequest): Buffer {
  const bytes = toBinary(ModelInferRequestSchema, message);
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = 0;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

export function grpcSender(address: string, messages: readonly ModelInferRequest[], metadata: Readonly<Record<string, string>>): { send: (index: number) => Promise<number>; close: () => void } {
  const framed = messages.map(frame);
  const n = framed.length;
  const headers = {
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: PATH,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
    ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v])),
  };
  let session: ClientHttp2Session | undefined;
  const open = (): ClientHttp2Session => {
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
  const send = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      let stream;
      try {
        stream = open().request(headers);
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
  return { send, close: () => session?.close() };
}

function ignore(): void {}
