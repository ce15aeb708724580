import { BackendRegistry } from '../backends/backend-registry.js';
import { onnxRuntimeBackend } from '../backends/onnxruntime/onnxruntime-backend.js';
import { InferenceServer } from '../core/inference-server.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../core/server-options.js';
import { startGrpcServer, type GrpcServerHandle } from '../frontends/grpc/grpc-server.js';
import { startHttpServer, type HttpServerHandle } from '../frontends/http/http-server.js';
import { createLogger, type Logger } from '../observability/logger.js';

/** A running server: the core plus its listening frontends. */
export interface RunningServer {
  readonly core: InferenceServer;
  readonly http: HttpServerHandle | undefined;
  readonly grpc: GrpcServerHandle | undefined;
  readonly logger: Logger;
  /** Stops the frontends, then waits for in-flight requests and unloads every model. */
  close(): Promise<void>;
}

/** Options for embedding and tests: anything left out takes tritonserver's default. */
export type StartOptions = Partial<Omit<ServerOptions, 'http' | 'grpc' | 'log'>> & {
  readonly http?: Partial<ServerOptions['http']>;
  readonly grpc?: Partial<ServerOptions['grpc']>;
  readonly log?: Partial<ServerOptions['log']>;
  readonly logger?: Logger;
};

export function resolveOptions(options: StartOptions): ServerOptions {
  return {
    ...DEFAULT_SERVER_OPTIONS,
    ...options,
    http: { ...DEFAULT_SERVER_OPTIONS.http, ...options.http },
    grpc: { ...DEFAULT_SERVER_OPTIONS.grpc, ...options.grpc },
    log: { ...DEFAULT_SERVER_OPTIONS.log, ...options.log },
  };
}

/** The backends this build ships, registered once (the only place that names them). */
export function defaultBackends(): BackendRegistry {
  return new BackendRegistry().register(onnxRuntimeBackend);
}

/** Composition root shared by the CLI, tests and embedders: load models, then open the frontends. */
export async function startServer(start: StartOptions): Promise<RunningServer> {
  const options = resolveOptions(start);
  const logger = start.logger ?? createLogger({ ...options.log });
  const core = await InferenceServer.create(options, defaultBackends(), logger);
  let http: HttpServerHandle | undefined;
  let grpc: GrpcServerHandle | undefined;
  try {
    if (options.grpc.allow) {
      grpc = await startGrpcServer(core, options.grpc, logger);
      logger.info(`Started GRPCInferenceService at ${grpc.address}:${grpc.port}`);
    }
    if (options.http.allow) {
      http = await startHttpServer(core, options.http, logger);
      logger.info(`Started HTTPService at ${http.address}:${http.port}`);
    }
  } catch (error) {
    await grpc?.close();
    await core.stop();
    throw error;
  }
  return {
    core,
    http,
    grpc,
    logger,
    async close() {
      await Promise.all([http?.close(), grpc?.close()]);
      await core.stop();
    },
  };
}
