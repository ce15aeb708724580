/**
 * Entry point of a codec worker: decodes large JSON inference requests and encodes large JSON
 * responses off the event loop (codec-pool.ts). The functions are the same the main thread uses for
 * small bodies; only where they run differs. Tensor bytes travel back moved, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { ServerError, toServerError } from '../../errors/index.js';
import { encodeInferResponse } from '../http/codec/infer-response.js';
import { decodeInferRequest } from '../http/codec/json-infer.js';
import { parseJson } from '../http/codec/json-parse.js';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { inferRequestFromProto } from '../grpc/convert-request.js';
import { transferables, type CodecJob, type CodecReply } from './protocol.js';

const port = parentPort!;

port.on('message', (job: CodecJob) => {
  try {
    if (job.kind === 'decode') {
      const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
      const header = parseJson(body.subarray(0, job.headerLength));
      const decoded = decodeInferRequest(job.model, job.version, header, body.subarray(job.headerLength), {
        maxInputSize: job.maxInputSize,
      });
      const reply: CodecReply = { id: job.id, decoded };
      port.postMessage(reply, transferables(decoded.init.inputs.map((input) => input.data)));
    } else if (job.kind === 'grpc-decode') {
      const message = fromBinary(ModelInferRequestSchema, job.message);
      const grpc = inferRequestFromProto(message);
      const reply: CodecReply = { id: job.id, grpc };
      port.postMessage(reply, transferables(grpc.init.inputs.map((input) => input.data)));
    } else {
      const encoded = encodeInferResponse(job.response, job.plan);
      const reply: CodecReply = { id: job.id, encoded };
      port.postMessage(reply, transferables(encoded.chunks));
    }
  } catch (caught) {
    const error = caught instanceof ServerError ? caught : toServerError(caught);
    const reply: CodecReply = { id: job.id, error: { code: error.code, message: error.message } };
    port.postMessage(reply);
  }
});
