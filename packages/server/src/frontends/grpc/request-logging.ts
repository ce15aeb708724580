import type { IncomingHttpHeaders } from 'node:http2';
import type { InferenceCore } from '../../core/types.js';
import { grpcStatusOf, toServerError } from '../../errors/index.js';
import { REQUEST_ID_HEADER, tensorBytes, type RequestProtocol } from '../../observability/request-log.js';
import type { InferRequestInit } from '../../request/infer-request-init.js';
import type { InferResponse } from '../../request/infer-response.js';

/**
 * Runs one gRPC inference through `run`, with one `--request-log` line when the log is on. The request
 * gets an id if it has none (the `x-request-id` metadata, else a new one); the response's `id` returns
 * it. Sizes are tensor bytes: the transport hands over decoded messages.
 */
export function inferWithRequestLog(
  core: InferenceCore,
  protocol: RequestProtocol,
  init: InferRequestInit,
  metadata: IncomingHttpHeaders,
  run: (init: InferRequestInit) => Promise<InferResponse>,
): Promise<InferResponse> {
  const log = core.requestLog;
  if (log === undefined) return run(init);
  const header = metadata[REQUEST_ID_HEADER];
  const { init: started, line } = log.begin(protocol, init, Array.isArray(header) ? header[0] : header);
  const bytesIn = tensorBytes(started.inputs);
  return run(started).then(
    (response) => {
      line.succeeded(response, 0, bytesIn, tensorBytes(response.outputs));
      return response;
    },
    (error: unknown) => {
      const failure = toServerError(error);
      line.failed(failure, grpcStatusOf(failure.code), bytesIn);
      throw failure;
    },
  );
}
