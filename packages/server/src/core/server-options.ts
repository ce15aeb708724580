import type { RateLimiterOptions } from '../scheduler/rate-limiter.js';
import type { LogSettings } from '../observability/logger.js';
import { join } from 'node:path';
import { packageRoot } from '../util/package-version.js';
import { DEFAULT_TRACE_OPTIONS, type TraceOptions } from '../observability/tracing/trace-manager.js';

/**
 * Everything the server is configured with. The CLI (`cli/options.ts`) builds it from tritonserver's
 * flags; embedders call `createServer` with a partial object merged over `DEFAULT_SERVER_OPTIONS`.
 */
export interface ServerOptions {
  /** `--model-repository`, repeatable. */
  readonly modelRepositories: readonly string[];
  /** `--id`: the server name in metadata; Triton's clients expect "triton". */
  readonly id: string;
  /** `--strict-readiness` */
  readonly strictReadiness: boolean;
  /** `--exit-on-error`: fail start-up when a model fails to load. */
  readonly exitOnError: boolean;
  /** False with `--disable-auto-complete-config` or `--strict-model-config=true`. */
  readonly autoCompleteConfig: boolean;
  /**
   * `--backend-config`: settings per backend name; the key '' holds the global form
   * (`--backend-config=default-max-batch-size=8`).
   */
  readonly backendConfig: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /**
   * `--cache-config`: settings per cache name (`local,size=1048576` → local → size → 1048576);
   * `--response-cache-byte-size=N` is local → size → N. Empty: no response cache.
   */
  readonly cacheConfig: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** `--model-control-mode`. */
  readonly modelControlMode: 'none' | 'poll' | 'explicit';
  /** `--repository-poll-secs` (poll mode). */
  readonly repositoryPollSecs: number;
  /** `--load-model`, repeatable (explicit mode); '*' loads every model. */
  readonly startupModels: readonly string[];
  /** `--model-config-name`: `<model>/configs/<name>.pbtxt` is used when it exists. */
  readonly modelConfigName: string;
  /** `--model-load-thread-count`: versions loaded at once. */
  readonly modelLoadThreadCount: number;
  /** `--model-load-retry-count`: extra attempts for a version that fails to load. */
  readonly modelLoadRetryCount: number;
  /** `--model-memory-budget` (Nereid's own): bytes the loaded models may take; 0 = no budget, no on-demand loading. */
  readonly modelMemoryBudgetBytes: number;
  /** `--model-load-on-demand-timeout-secs` (Nereid's own). */
  readonly modelLoadOnDemandTimeoutSecs: number;
  /** `--exit-timeout-secs` */
  readonly exitTimeoutSecs: number;
  readonly http: HttpOptions;
  readonly grpc: GrpcOptions;
  readonly metrics: MetricsOptions;
  /** `--allow-client-shm` (Triton's default: false). */
  readonly allowClientShm: boolean;
  /** `--rate-limit` and `--rate-limit-resource`. */
  readonly rateLimit: RateLimiterOptions;
  readonly log: Readonly<LogSettings>;
  /** `--log-file`: '' logs to the console. */
  readonly logFile: string;
  /** `--backend-directory`: custom backends are `<dir>/<backend>/backend.js` (default: `backends/` of the install). */
  readonly backendDirectory: string;
  /** `--request-log` (Nereid's own): a file, '-' for stdout, '' for no request log. */
  readonly requestLog: string;
  /** `--request-log-payload-bytes` (Nereid's own): tensor bytes per input and output in each line. */
  readonly requestLogPayloadBytes: number;
  /** `--trace-config` and the deprecated `--trace-*` flags: the global trace setting at start-up. */
  readonly trace: TraceOptions;
}

export interface HttpOptions {
  readonly allow: boolean;
  readonly port: number;
  readonly address: string;
  /** `--http-max-input-size`: body limit, also for the decompressed body. */
  readonly maxInputSize: number;
  /** `--http-body-timeout-secs` (Nereid's): how long a request body may take to arrive after its headers. */
  readonly bodyTimeoutSecs: number;
  /** `--http-max-connections` (Nereid's): open connections beyond this are closed as they arrive. */
  readonly maxConnections: number;
}

/** The Prometheus metrics endpoint (`--allow-metrics`, `--metrics-*`). */
export interface MetricsOptions {
  readonly allow: boolean;
  /** `--allow-cpu-metrics` (ignored unless `allow`). */
  readonly allowCpu: boolean;
  readonly port: number;
  /** `--metrics-address`; '' binds to `--http-address`, as Triton does. */
  readonly address: string;
  /** `--metrics-interval-ms`: how often the CPU metrics are read. */
  readonly intervalMs: number;
  /** `--metrics-config <setting>=<value>`, repeatable. */
  readonly config: ReadonlyMap<string, string>;
}

export interface GrpcOptions {
  readonly allow: boolean;
  readonly port: number;
  readonly address: string;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepalivePermitWithoutCalls: boolean;
  readonly http2MaxPingsWithoutData: number;
  readonly http2MinRecvPingIntervalWithoutDataMs: number;
  readonly http2MaxPingStrikes: number;
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  /** `--grpc-infer-response-compression-level`: none, low, medium or high. */
  readonly inferResponseCompressionLevel: 'none' | 'low' | 'medium' | 'high';
  /** `--grpc-use-ssl` (implied by `--grpc-use-ssl-mutual`): serve gRPC over TLS. */
  readonly useSsl: boolean;
  /** `--grpc-use-ssl-mutual`: clients must present a certificate signed by the root certificate. */
  readonly useMutualAuth: boolean;
  /** `--grpc-server-cert`, `--grpc-server-key`, `--grpc-root-cert`: PEM file paths ('' = none). */
  readonly serverCert: string;
  readonly serverKey: string;
  readonly rootCert: string;
}

export const DEFAULT_SERVER_OPTIONS: ServerOptions = Object.freeze({
  modelRepositories: [],
  id: 'triton',
  strictReadiness: true,
  exitOnError: true,
  autoCompleteConfig: true,
  backendConfig: new Map(),
  cacheConfig: new Map(),
  modelControlMode: 'none',
  repositoryPollSecs: 15,
  startupModels: [],
  modelConfigName: '',
  modelLoadThreadCount: 4,
  modelLoadRetryCount: 0,
  modelMemoryBudgetBytes: 0,
  modelLoadOnDemandTimeoutSecs: 60,
  exitTimeoutSecs: 30,
  http: Object.freeze({
    allow: true,
    port: 8000,
    address: '0.0.0.0',
    maxInputSize: 64 * 1024 * 1024,
    bodyTimeoutSecs: 60,
    maxConnections: 1024,
  }),
  metrics: Object.freeze({
    allow: true,
    allowCpu: true,
    port: 8002,
    address: '',
    intervalMs: 2000,
    config: new Map<string, string>(),
  }),
  grpc: Object.freeze({
    allow: true,
    port: 8001,
    address: '0.0.0.0',
    keepaliveTimeMs: 7_200_000,
    keepaliveTimeoutMs: 20_000,
    keepalivePermitWithoutCalls: false,
    http2MaxPingsWithoutData: 2,
    http2MinRecvPingIntervalWithoutDataMs: 300_000,
    http2MaxPingStrikes: 2,
    maxConnectionAgeMs: 0,
    maxConnectionAgeGraceMs: 0,
    inferResponseCompressionLevel: 'none',
    useSsl: false,
    useMutualAuth: false,
    serverCert: '',
    serverKey: '',
    rootCert: '',
  }),
  allowClientShm: false,
  rateLimit: { enabled: false, resources: [] },
  log: Object.freeze({ info: true, warning: true, error: true, verboseLevel: 0, format: 'default' }),
  logFile: '',
  backendDirectory: join(packageRoot() ?? '.', 'backends'),
  requestLog: '',
  requestLogPayloadBytes: 0,
  trace: DEFAULT_TRACE_OPTIONS,
});
