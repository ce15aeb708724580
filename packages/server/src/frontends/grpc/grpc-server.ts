import { readFileSync } from 'node:fs';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';
import { Health } from '@nereid/protocol/generated/health_pb';
import type { GrpcOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import { invalidArg, unavailable } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_GRPC_MESSAGE_SIZE } from './convert-response.js';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from './encode.js';
import { healthService } from './health.js';
import { decodeInferRequest } from './infer-request-decoder.js';
import { toGrpcError } from './reply-error.js';
import { rawContentsOffset } from './raw-contents-offset.js';
import { inferenceService } from './service.js';
import { SHUTTING_DOWN_MESSAGE } from './shutting-down.js';
import { Http2GrpcServer, type Http2GrpcOptions } from './transport/http2-server.js';
import { routeTable, type Route } from './transport/method-table.js';
import { Status } from './transport/status.js';

/**
 * The gRPC frontend: Triton's `inference.GRPCInferenceService` and `grpc.health.v1.Health` on
 * Nereid's own gRPC transport over `node:http2` (transport/), so tritonclient, the C++ client and
 * perf_analyzer work unchanged.
 */

export interface GrpcServerHandle {
  readonly port: number;
  readonly address: string;
  /** Calls started and not yet answered in full (status sent, or cancelled). */
  readonly inFlight: number;
  /**
   * Starts a graceful exit: new ModelInfer and ModelStreamInfer calls are refused with Triton's
   * UNAVAILABLE "shutting down" status while every other RPC (health, metadata) keeps answering;
   * calls already started run to their end.
   */
  startDraining(): void;
  /** Resolves once no call is in flight. */
  drained(): Promise<void>;
  /** Drains (if not yet), then closes every connection (GOAWAY), letting calls finish. */
  close(): Promise<void>;
  /** Cuts every call and connection now: the exit deadline passed. */
  forceClose(): void;
}

/** Triton's status text for inference calls that arrive while its gRPC server shuts down. */
export { SHUTTING_DOWN_MESSAGE } from './shutting-down.js';

/** The calls a draining server refuses: new inference work. */
const INFERENCE_PATHS: ReadonlySet<string> = new Set(
  ['ModelInfer', 'ModelStreamInfer'].map((method) => `/${GRPCInferenceService.typeName}/${method}`),
);
const INFER_METHODS = ['modelInfer', 'modelStreamInfer'];

export async function startGrpcServer(
  core: InferenceCore,
  options: GrpcOptions,
  logger: Logger,
): Promise<GrpcServerHandle> {
  let draining = false;
  const routes = routeTable([
    {
      service: GRPCInferenceService,
      handlers: inferenceService(core, logger, (name, version) => core.isModelDecoupled(name, version), () => draining),
      decoders: { modelInfer: decodeInferRequest, modelStreamInfer: decodeInferRequest },
      encoders: { modelInfer: encodeModelInferResponse, modelStreamInfer: encodeModelStreamInferResponse },
      compressible: INFER_METHODS,
      aligners: { modelInfer: rawContentsOffset, modelStreamInfer: rawContentsOffset },
    },
    { service: Health, handlers: healthService(core) },
  ]);
  const tls = tlsOptions(options);
  const transport: Http2GrpcOptions = {
    ...options,
    ...(tls === undefined ? {} : { tls }),
    host: options.address,
    maxMessageLength: MAX_GRPC_MESSAGE_SIZE,
    responseCompression: options.inferResponseCompressionLevel,
    statusOf: (error) => toGrpcError(error, logger),
    admit: (route: Route) =>
      draining && INFERENCE_PATHS.has(route.path) ? { code: Status.UNAVAILABLE, details: SHUTTING_DOWN_MESSAGE } : undefined,
  };
  const server = new Http2GrpcServer(routes, transport);
  let port: number;
  try {
    port = await server.listen();
  } catch (error) {
    throw unavailable(`failed to start gRPC service at ${options.address}:${options.port}: ${(error as Error).message}`);
  }
  // The composition root logs "Started GRPCInferenceService" (next to HTTPService's line).
  let closing: Promise<void> | undefined;
  return {
    port,
    address: options.address,
    get inFlight() {
      return server.inFlight;
    },
    startDraining: () => {
      draining = true;
    },
    drained: () => server.idle(),
    close() {
      closing ??= (async () => {
        draining = true;
        await server.idle();
        await server.close();
      })();
      return closing;
    },
    forceClose: () => server.destroy(),
  };
}

/**
 * Plain HTTP/2, or TLS as Triton's `--grpc-use-ssl*` flags ask: the server's certificate and key,
 * and with mutual authentication a client certificate signed by the root certificate is required.
 * A file that cannot be read stops the start with an error naming the flag and the file.
 */
function tlsOptions(options: GrpcOptions): Http2GrpcOptions['tls'] | undefined {
  if (!options.useSsl) return undefined;
  const read = (flag: string, path: string): Buffer => {
    if (path === '') throw invalidArg(`--grpc-use-ssl requires --${flag}`);
    try {
      return readFileSync(path);
    } catch (error) {
      throw invalidArg(`unable to read --${flag} file '${path}': ${(error as Error).message}`);
    }
  };
  const mutual = options.useMutualAuth;
  const root = options.rootCert !== '' || mutual ? read('grpc-root-cert', options.rootCert) : undefined;
  return {
    cert: read('grpc-server-cert', options.serverCert),
    key: read('grpc-server-key', options.serverKey),
    ...(root === undefined ? {} : { ca: root }),
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
}
