/**
 * The rest of tritonserver's flag table: the sections after gRPC in Triton's `--help` (SageMaker,
 * Vertex AI, metrics, tracing, backends, cache, rate limiter, memory, shared memory, deprecated).
 * Most are accepted for launch-script compatibility and not implemented yet.
 */
import { DEFAULT_SERVER_OPTIONS as D } from '../core/server-options.js';
import { accepted, flag, group } from './flag-row.js';
import type { FlagRow, ParseState } from './flag-row.js';
import { DEPRECATED_TRACE_ROWS, TRACE_CONFIG_ROW } from './trace-flags.js';
import {
  BOOL,
  PORT,
  RATE_LIMIT_RESOURCE,
  STRING,
  choice,
  float,
  groupSetting,
  int,
  nonEmpty,
  pair,
} from './flag-values.js';

const BYTE_SIZE = int(0, Number.MAX_SAFE_INTEGER);
const DEVICE_BYTES = pair(int(0), ':', BYTE_SIZE, '<integer>:<integer>');

/** Records one cache setting; the core checks the cache name and its settings at start-up. */
function setCacheSetting(state: ParseState, cache: string, setting: string, value: string): void {
  const settings = state.options.cacheConfig.get(cache) ?? new Map<string, string>();
  settings.set(setting, value);
  state.options.cacheConfig.set(cache, settings);
}

const SAGEMAKER = group('Sagemaker:', [
  accepted('allow-sagemaker', BOOL, { default: 'false', help: 'Listen for SageMaker requests.' }),
  accepted('sagemaker-port', PORT, { default: '8080', help: 'Port for SageMaker requests.' }),
  accepted('sagemaker-safe-port-range', pair(PORT, '-', PORT, '<integer>-<integer>'), {
    default: '',
    help: 'Ports other endpoints may use alongside SageMaker.',
  }),
  accepted('sagemaker-thread-count', int(), { default: '8', help: 'Threads handling SageMaker requests.' }),
]);

const VERTEX = group('Vertex:', [
  accepted('allow-vertex-ai', BOOL, {
    default: 'false',
    help: 'Listen for Vertex AI requests (Triton defaults to true when AIP_MODE=PREDICTION).',
  }),
  accepted('vertex-ai-port', PORT, { default: '8080', help: 'Port for Vertex AI requests (or AIP_HTTP_PORT).' }),
  accepted('vertex-ai-thread-count', int(), { default: '8', help: 'Threads handling Vertex AI requests.' }),
  accepted('vertex-ai-default-model', STRING, { default: '', help: 'Model for single-model requests.' }),
]);

const METRICS = group('Metrics:', [
  flag('allow-metrics', BOOL, { default: String(D.metrics.allow), help: 'Serve Prometheus metrics at /metrics.' },
    (s, v) => { s.options.metrics.allow = v; }),
  accepted('allow-gpu-metrics', BOOL, { default: 'true', help: 'Serve GPU metrics (this server has no GPUs).' }),
  flag('allow-cpu-metrics', BOOL, {
    default: String(D.metrics.allowCpu),
    help: 'Serve CPU utilization and memory metrics. Ignored unless --allow-metrics is true.',
  }, (s, v) => { s.options.metrics.allowCpu = v; }),
  flag('metrics-address', nonEmpty('<address>'), {
    default: '',
    help: 'Address the metrics server binds to (default: --http-address).',
  }, (s, v) => { s.options.metrics.address = v; }),
  flag('metrics-port', PORT, { default: String(D.metrics.port), help: 'Port for Prometheus metrics.' },
    (s, v) => { s.options.metrics.port = v; }),
  flag('metrics-interval-ms', float(0), {
    default: String(D.metrics.intervalMs),
    help: 'Milliseconds between reads of the CPU metrics (per-request metrics are always current).',
  }, (s, v) => { s.options.metrics.intervalMs = Math.trunc(v); }),
  flag('metrics-config', groupSetting('', 'forbidden'), {
    default: '',
    help: 'A metrics setting: counter_latencies, histogram_latencies, summary_latencies (true/false), summary_quantiles=<q>:<error>,...; repeatable.',
  }, (s, v) => { s.options.metrics.config.set(v.setting, v.value); }),
]);

const TRACING = group('Tracing:', [TRACE_CONFIG_ROW]);

const BACKEND = group('Backend:', [
  flag('backend-directory', nonEmpty('<path>'), {
    default: D.backendDirectory,
    help: 'Directory searched for custom backends: backend "foo" is <path>/foo/backend.js (after the model\'s own folders).',
  }, (s, v) => { s.options.backendDirectory = v; }),
  flag('backend-config', groupSetting('backend', 'optional'), {
    default: '',
    help: 'A backend setting, e.g. onnxruntime,default-max-batch-size=4; without <backend>, for all backends. Repeatable.',
  }, (s, v) => {
    const settings = s.options.backendConfig.get(v.group) ?? new Map<string, string>();
    settings.set(v.setting, v.value);
    s.options.backendConfig.set(v.group, settings);
  }),
]);

const REPOSITORY_AGENT = group('Repository Agent:', [
  accepted('repoagent-directory', nonEmpty('<path>'), {
    default: '/opt/tritonserver/repoagents',
    help: 'Directory searched for repository agent libraries.',
  }),
]);

const RESPONSE_CACHE = group('Response Cache:', [
  flag('cache-config', groupSetting('cache', 'required'), {
    default: '',
    help: 'A cache setting, e.g. local,size=1048576; enables the response cache. Repeatable.',
  }, (s, v) => setCacheSetting(s, v.group, v.setting, v.value)),
  accepted('cache-directory', nonEmpty('<path>'), {
    default: '/opt/tritonserver/caches',
    help: 'Directory searched for cache libraries.',
  }),
]);

const RATE_LIMITER = group('Rate Limiter:', [
  flag('rate-limit', choice(['off', 'execution_count'], { caseInsensitive: true }), {
    default: 'off',
    help: "Rate limiting mode: 'execution_count' runs an instance only while it holds its group's rate_limiter resources.",
  }, (s, v) => {
    s.options.rateLimit = { ...s.options.rateLimit, enabled: v.toLowerCase() === 'execution_count' };
  }),
  flag('rate-limit-resource', RATE_LIMIT_RESOURCE, {
    default: '',
    help: 'A resource the rate limiter may hand out, <name>:<count>[:<device>]; repeatable.',
  }, (s, v) => {
    s.options.rateLimit = { ...s.options.rateLimit, resources: [...s.options.rateLimit.resources, v] };
  }),
]);

const MEMORY_DEVICE = group('Memory/Device Management:', [
  accepted('pinned-memory-pool-byte-size', BYTE_SIZE, {
    default: '268435456',
    help: 'Pinned system memory pool in bytes.',
  }),
  accepted('cuda-memory-pool-byte-size', DEVICE_BYTES, {
    default: '67108864 per GPU',
    help: 'CUDA memory pool as <gpu>:<bytes>; repeatable.',
  }),
  accepted('cuda-virtual-address-size', DEVICE_BYTES, {
    default: '1073741824 per GPU',
    help: 'CUDA virtual address size for growable implicit state as <gpu>:<bytes>; repeatable.',
  }),
  accepted('min-supported-compute-capability', float(0), {
    default: '6.0',
    help: 'Lowest CUDA compute capability of a GPU the server will use.',
  }),
  accepted('buffer-manager-thread-count', int(), { default: '0', help: 'Threads that copy tensor contents.' }),
  accepted('host-policy', groupSetting('policy', 'required'), {
    default: '',
    help: 'A host policy setting (numa-node, cpu-cores); repeatable.',
  }),
  accepted('model-load-gpu-limit', pair(int(0), ':', float(0), '<device_id>:<fraction>'), {
    default: '',
    help: 'Refuse model loads on a GPU above this memory fraction.',
  }),
]);

const SHARED_MEMORY = group('Shared Memory:', [
  flag('allow-client-shm', BOOL, {
    default: String(D.allowClientShm),
    help: 'Allow clients to register and use shared memory regions for inputs and outputs.',
  }, (s, v) => { s.options.allowClientShm = v; }),
]);

const DEPRECATED = group('DEPRECATED:', [
  flag('strict-model-config', BOOL, {
    default: 'false',
    help: 'True is the same as --disable-auto-complete-config.',
    deprecated: "'--strict-model-config' has been deprecated; use '--disable-auto-complete-config' instead",
  }, (s, v) => { s.strictModelConfig = v; }),
  flag('response-cache-byte-size', BYTE_SIZE, {
    default: '',
    help: 'Same as --cache-config=local,size=<bytes>.',
    deprecated: "'--response-cache-byte-size' has been deprecated; use '--cache-config' instead",
  }, (s, v) => setCacheSetting(s, 'local', 'size', String(v))),
  ...DEPRECATED_TRACE_ROWS,
]);

/** The sections after gRPC, in `--help` order. */
export const EXTRA_FLAG_ROWS: readonly FlagRow[] = [
  ...SAGEMAKER,
  ...VERTEX,
  ...METRICS,
  ...TRACING,
  ...BACKEND,
  ...REPOSITORY_AGENT,
  ...RESPONSE_CACHE,
  ...RATE_LIMITER,
  ...MEMORY_DEVICE,
  ...SHARED_MEMORY,
  ...DEPRECATED,
];
