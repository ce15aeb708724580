import { Server, ServerCredentials, setLogger, setLogVerbosity, logVerbosity, type ChannelOptions } from '@grpc/grpc-js';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';
import { Health } from '@nereid/protocol/generated/health_pb';
import type { GrpcOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import { unavailable } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_GRPC_MESSAGE_SIZE } from './convert-response.js';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from './encode.js';
import { healthService } from './health.js';
import { NO_DECOUPLED_MODELS } from './infer.js';
import { inferenceService } from './service.js';
import { grpcServiceDefinition } from './service-definition.js';

/**
 * The gRPC frontend: Triton's `inference.GRPCInferenceService` and `grpc.health.v1.Health` on
 * grpc-js, so tritonclient, the C++ client and perf_analyzer work unchanged.
 */

export interface GrpcServerHandle {
  readonly port: number;
  readonly address: string;
  /** Stops accepting calls, lets running ones finish for a short grace period, then cuts the rest. */
  close(): Promise<void>;
}

const INFERENCE_DEFINITION = grpcServiceDefinition(GRPCInferenceService, {
  modelInfer: encodeModelInferResponse,
  modelStreamInfer: encodeModelStreamInferResponse,
});
const HEALTH_DEFINITION = grpcServiceDefinition(Health);

/** How long close() waits for running calls (streams may stay open forever) before cutting them. */
const CLOSE_GRACE_MS = 2_000;

export async function startGrpcServer(
  core: InferenceCore,
  options: GrpcOptions,
  logger: Logger,
): Promise<GrpcServerHandle> {
  routeGrpcLogs(logger);
  const server = new Server(channelOptions(options, logger));
  server.addService(INFERENCE_DEFINITION, inferenceService(core, logger, NO_DECOUPLED_MODELS));
  server.addService(HEALTH_DEFINITION, healthService(core, logger));
  const target = `${hostPart(options.address)}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(unavailable(`failed to start gRPC service at ${target}: ${error.message}`));
      else resolve(bound);
    });
  });
  // The composition root logs "Started GRPCInferenceService" (next to HTTPService's line).
  return { port, address: options.address, close: () => shutdown(server) };
}

/**
 * grpc-js writes its own errors straight to stderr ("E No address added ..."); send them through the
 * server's logger instead, where the bind failure is already reported with context.
 */
function routeGrpcLogs(logger: Logger): void {
  setLogVerbosity(logVerbosity.ERROR);
  setLogger({
    error: (...args: unknown[]) => logger.verbose(1, `grpc-js: ${args.map(String).join(' ')}`),
    info: () => {},
    debug: () => {},
  });
}

/**
 * GrpcOptions → grpc-js server options. Message sizes are Triton's INT32_MAX both ways. Of the
 * keepalive settings grpc-js servers honour keepalive time/timeout and the connection-age pair (0
 * means unset, as in Triton); they do not police client pings, so permit-without-calls and the
 * http2 ping limits (max pings without data, min ping interval, max ping strikes) have no grpc-js
 * counterpart and are not enforced.
 */
export function channelOptions(options: GrpcOptions, logger: Logger): ChannelOptions {
  const channel: ChannelOptions = {
    'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_SIZE,
    'grpc.max_send_message_length': MAX_GRPC_MESSAGE_SIZE,
    'grpc.keepalive_time_ms': options.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
  };
  if (options.maxConnectionAgeMs > 0) channel['grpc.max_connection_age_ms'] = options.maxConnectionAgeMs;
  if (options.maxConnectionAgeGraceMs > 0) {
    channel['grpc.max_connection_age_grace_ms'] = options.maxConnectionAgeGraceMs;
  }
  // grpc-js servers never compress responses (they always send identity); requests may be compressed.
  if (options.inferResponseCompressionLevel !== 'none') {
    logger.warn(
      `--grpc-infer-response-compression-level=${options.inferResponseCompressionLevel} is ignored: ` +
        'the gRPC frontend sends uncompressed responses',
    );
  }
  return channel;
}

/** IPv6 literals need brackets in a gRPC target. */
function hostPart(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), CLOSE_GRACE_MS);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
