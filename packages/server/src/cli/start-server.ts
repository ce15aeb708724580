import { BackendRegistry } from '../backends/backend-registry.js';
import { javaScriptBackend } from '../backends/javascript/javascript-backend.js';
import { onnxRuntimeBackend } from '../backends/onnxruntime/onnxruntime-backend.js';
import { pythonBackend } from '../backends/python/python-backend.js';
import { InferenceServer } from '../core/inference-server.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../core/server-options.js';
import { startGrpcServer, type GrpcServerHandle } from '../frontends/grpc/grpc-server.js';
import { startHttpServer, type HttpServerHandle } from '../frontends/http/http-server.js';
import { startMetricsServer, type MetricsServerHandle } from '../frontends/metrics/metrics-server.js';
import { createLogger, type Logger } from '../observability/logger.js';

/** A running server: the core plus its listening frontends. */
export interface RunningServer {
  readonly core: InferenceServer;
  readonly http: HttpServerHandle | undefined;
  readonly grpc: GrpcServerHandle | undefined;
  /** The Prometheus endpoint (`--allow-metrics`). */
  readonly metrics: MetricsServerHandle | undefined;
  readonly logger: Logger;
  /**
   * The graceful exit (SIGTERM): the server turns not ready, refuses new inference, keeps answering
   * health and metadata, and waits up to `--exit-timeout-secs` for the requests in flight; then it
   * closes the frontends (cutting what is left) and unloads every model. Calling it again returns
   * the same promise.
   */
  close(): Promise<ShutdownReport>;
}

/** How a graceful exit went. */
export interface ShutdownReport {
  /** Every request in flight finished before the exit timeout. */
  readonly drained: boolean;
  /** Requests still in flight when the exit timeout cut them (0 when drained). */
  readonly inFlight: number;
}

/**
 * Options for embedding and tests: anything left out takes tritonserver's default, except the
 * metrics endpoint, which an embedder opts into by giving `metrics` (the CLI always does).
 */
export type StartOptions = Partial<Omit<ServerOptions, 'http' | 'grpc' | 'metrics' | 'log'>> & {
  readonly http?: Partial<ServerOptions['http']>;
  readonly grpc?: Partial<ServerOptions['grpc']>;
  readonly metrics?: Partial<ServerOptions['metrics']>;
  readonly log?: Partial<ServerOptions['log']>;
  readonly logger?: Logger;
};

export function resolveOptions(options: StartOptions): ServerOptions {
  return {
    ...DEFAULT_SERVER_OPTIONS,
    ...options,
    http: { ...DEFAULT_SERVER_OPTIONS.http, ...options.http },
    grpc: { ...DEFAULT_SERVER_OPTIONS.grpc, ...options.grpc },
    metrics: options.metrics === undefined ? { ...DEFAULT_SERVER_OPTIONS.metrics, allow: false } : { ...DEFAULT_SERVER_OPTIONS.metrics, ...options.metrics },
    log: { ...DEFAULT_SERVER_OPTIONS.log, ...options.log },
  };
}

/** The backends this build ships, registered once (the only place that names them). */
export function defaultBackends(): BackendRegistry {
  return new BackendRegistry().register(onnxRuntimeBackend).register(pythonBackend).register(javaScriptBackend);
}

/** Composition root shared by the CLI, tests and embedders: load models, then open the frontends. */
export async function startServer(start: StartOptions): Promise<RunningServer> {
  const options = resolveOptions(start);
  const logger = start.logger ?? createLogger({ ...options.log }, { file: options.logFile });
  const core = await InferenceServer.create(options, defaultBackends(), logger);
  let http: HttpServerHandle | undefined;
  let grpc: GrpcServerHandle | undefined;
  let metrics: MetricsServerHandle | undefined;
  try {
    if (options.grpc.allow) {
      grpc = await startGrpcServer(core, options.grpc, logger);
      logger.info(`Started GRPCInferenceService at ${grpc.address}:${grpc.port}`);
    }
    if (options.http.allow) {
      http = await startHttpServer(core, options.http, logger);
      logger.info(`Started HTTPService at ${http.address}:${http.port}`);
    }
    if (options.metrics.allow) {
      // Without --metrics-address the endpoint binds where HTTP does, as in Triton.
      const address = options.metrics.address === '' ? options.http.address : options.metrics.address;
      metrics = await startMetricsServer(core, { port: options.metrics.port, address }, logger);
      logger.info(`Started Metrics Service at ${metrics.address}:${metrics.port}`);
    }
  } catch (error) {
    await grpc?.close();
    await http?.close();
    await core.stop();
    throw error;
  }
  let closing: Promise<ShutdownReport> | undefined;
  return {
    core,
    http,
    grpc,
    metrics,
    logger,
    close() {
      // The metrics endpoint answers until the models are unloaded, then closes too.
      closing ??= shutDown(core, [http, grpc], options.exitTimeoutSecs, logger).then(async (report) => {
        await metrics?.close();
        return report;
      });
      return closing;
    },
  };
}

type Frontend = HttpServerHandle | GrpcServerHandle;

/** Time between the "Timeout N: ..." progress lines while draining, as Triton logs them. */
const PROGRESS_INTERVAL_MS = 1_000;

async function shutDown(
  core: InferenceServer,
  maybeFrontends: readonly (Frontend | undefined)[],
  exitTimeoutSecs: number,
  logger: Logger,
): Promise<ShutdownReport> {
  const frontends = maybeFrontends.filter((frontend): frontend is Frontend => frontend !== undefined);
  const inFlight = (): number => frontends.reduce((sum, frontend) => sum + frontend.inFlight, 0);
  core.beginExit();
  for (const frontend of frontends) frontend.startDraining();
  logger.info('Waiting for in-flight requests to complete.');
  // Every frontend keeps answering health until all are drained; only then do they close.
  const finished = Promise.all(frontends.map((frontend) => frontend.drained())).then(() =>
    Promise.all(frontends.map((frontend) => frontend.close())),
  );
  let secondsLeft = exitTimeoutSecs;
  const progress = setInterval(() => {
    secondsLeft--;
    logger.info(`Timeout ${secondsLeft}: Found ${inFlight()} in-flight requests`);
  }, PROGRESS_INTERVAL_MS);
  let deadline: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    deadline = setTimeout(() => resolve('expired'), exitTimeoutSecs * 1000);
  });
  let report: ShutdownReport = { drained: true, inFlight: 0 };
  try {
    if ((await Promise.race([finished.then(() => 'finished' as const), expired])) === 'expired') {
      // With nothing in flight only idle connections were left to close: the drain did complete.
      const left = inFlight();
      report = { drained: left === 0, inFlight: left };
      for (const frontend of frontends) frontend.forceClose();
    }
  } finally {
    clearInterval(progress);
    clearTimeout(deadline);
  }
  await core.stop();
  return report;
}
