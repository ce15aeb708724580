import { readFileSync } from 'node:fs';
import {
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  logVerbosity,
  setLogVerbosity,
  setLogger,
  status as GrpcStatus,
  type ChannelOptions,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';
import { Health } from '@nereid/protocol/generated/health_pb';
import type { GrpcOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import { invalidArg, unavailable } from '../../errors/index.js';
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
  /** Drains (if not yet), then shuts the server down, letting calls finish (`tryShutdown`). */
  close(): Promise<void>;
  /** Cuts every call and connection now (`forceShutdown`): the exit deadline passed. */
  forceClose(): void;
}

const INFERENCE_DEFINITION = grpcServiceDefinition(GRPCInferenceService, {
  modelInfer: encodeModelInferResponse,
  modelStreamInfer: encodeModelStreamInferResponse,
});
const HEALTH_DEFINITION = grpcServiceDefinition(Health);

/** Triton's status text for inference calls that arrive while its gRPC server shuts down. */
export { SHUTTING_DOWN_MESSAGE } from './shutting-down.js';
import { SHUTTING_DOWN_MESSAGE } from './shutting-down.js';
/** The calls a draining server refuses: new inference work. */
const INFERENCE_PATHS: ReadonlySet<string> = new Set(
  ['ModelInfer', 'ModelStreamInfer'].map((method) => `/${GRPCInferenceService.typeName}/${method}`),
);

export async function startGrpcServer(
  core: InferenceCore,
  options: GrpcOptions,
  logger: Logger,
): Promise<GrpcServerHandle> {
  routeGrpcLogs(logger);
  const calls = new CallTracker();
  const server = new Server({ ...channelOptions(options, logger), interceptors: [calls.interceptor] });
  server.addService(INFERENCE_DEFINITION, inferenceService(core, logger, NO_DECOUPLED_MODELS, () => calls.draining));
  server.addService(HEALTH_DEFINITION, healthService(core, logger));
  const target = `${hostPart(options.address)}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, serverCredentials(options), (error, bound) => {
      if (error) reject(unavailable(`failed to start gRPC service at ${target}: ${error.message}`));
      else resolve(bound);
    });
  });
  // The composition root logs "Started GRPCInferenceService" (next to HTTPService's line).
  let closing: Promise<void> | undefined;
  return {
    port,
    address: options.address,
    get inFlight() {
      return calls.inFlight;
    },
    startDraining: () => calls.startDraining(),
    drained: () => calls.drained(),
    close() {
      closing ??= (async () => {
        calls.startDraining();
        await calls.drained();
        await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      })();
      return closing;
    },
    forceClose: () => server.forceShutdown(),
  };
}

/**
 * Plain HTTP/2, or TLS as Triton's `--grpc-use-ssl*` flags ask: the server's certificate and key,
 * and with mutual authentication a client certificate signed by the root certificate is required.
 * A file that cannot be read stops the start with an error naming the flag and the file.
 */
function serverCredentials(options: GrpcOptions): ServerCredentials {
  if (!options.useSsl) return ServerCredentials.createInsecure();
  const read = (flag: string, path: string): Buffer => {
    if (path === '') throw invalidArg(`--grpc-use-ssl requires --${flag}`);
    try {
      return readFileSync(path);
    } catch (error) {
      throw invalidArg(`unable to read --${flag} file '${path}': ${(error as Error).message}`);
    }
  };
  const keyPair = { cert_chain: read('grpc-server-cert', options.serverCert), private_key: read('grpc-server-key', options.serverKey) };
  const mutual = options.useMutualAuth;
  const root = options.rootCert !== '' || mutual ? read('grpc-root-cert', options.rootCert) : null;
  return ServerCredentials.createSsl(root, [keyPair], mutual);
}

/**
 * Counts calls from their arrival until their status is sent (which follows the write of their
 * last message) or they are cancelled, and refuses new inference calls while draining. A stream
 * counts as one call while it is open: an open ModelStreamInfer holds the drain until the client
 * ends it or the exit deadline passes.
 */
class CallTracker {
  #inFlight = 0;
  #draining = false;
  #onDrained: Array<() => void> = [];

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }

  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#onDrained.push(resolve));
  }

  readonly interceptor: ServerInterceptor = (method, call) => {
    if (this.#draining && INFERENCE_PATHS.has(method.path)) {
      return new ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: () => call.sendStatus({ code: GrpcStatus.UNAVAILABLE, details: SHUTTING_DOWN_MESSAGE }),
          }),
      });
    }
    this.#inFlight++;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.#inFlight--;
      if (this.#inFlight === 0) for (const resolve of this.#onDrained.splice(0)) resolve();
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: end }),
      sendStatus: (status, next) => {
        next(status);
        end();
      },
    });
  };
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
