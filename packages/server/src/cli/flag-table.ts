/**
 * tritonserver's flags, one row each, in Triton's `--help` sections. This file holds the sections
 * that fill ServerOptions (server, logging, model repository, HTTP, gRPC); `flag-table-extra.ts`
 * holds the rest. Implementing a flag means turning its `accepted(...)` row into `flag(...)`.
 */
import { DEFAULT_SERVER_OPTIONS as D } from '../core/server-options.js';
import { accepted, flag, group } from './flag-row.js';
import type { FlagRow, ParseState } from './flag-row.js';
import { EXTRA_FLAG_ROWS } from './flag-table-extra.js';
import {
  BOOL,
  BYTE_SIZE,
  INT_OR_BOOL,
  NON_NEGATIVE_INT,
  PORT,
  STRING,
  SWITCH,
  choice,
  int,
  nonEmpty,
  restricted,
} from './flag-values.js';

const addRepository = (state: ParseState, path: string): void => {
  // Triton keeps the paths in a set, so a repeated path counts once.
  if (!state.options.modelRepositories.includes(path)) state.options.modelRepositories.push(path);
};

const SERVER = group('Server:', [
  flag('id', STRING, { default: D.id, help: 'Identifier for this server, reported in server metadata.' },
    (s, v) => { s.options.id = v; }),
  flag('exit-timeout-secs', int(), {
    default: String(D.exitTimeoutSecs),
    help: 'Seconds to wait for in-flight inferences on exit; negative counts as 0.',
  }, (s, v) => { s.options.exitTimeoutSecs = Math.max(0, v); }),
]);

const LOGGING = group('Logging:', [
  flag('log-verbose', INT_OR_BOOL, {
    default: String(D.log.verboseLevel),
    help: 'Verbose logging level; 0 disables verbose logging (true/false mean 1/0).',
  }, (s, v) => { s.options.log.verboseLevel = v; }),
  flag('log-info', BOOL, { default: String(D.log.info), help: 'Enable/disable info-level logging.' },
    (s, v) => { s.options.log.info = v; }),
  flag('log-warning', BOOL, { default: String(D.log.warning), help: 'Enable/disable warning-level logging.' },
    (s, v) => { s.options.log.warning = v; }),
  flag('log-error', BOOL, { default: String(D.log.error), help: 'Enable/disable error-level logging.' },
    (s, v) => { s.options.log.error = v; }),
  flag('log-format', choice(['default', 'ISO8601', 'json'], { caseInsensitive: false }), {
    default: 'default',
    help: "Log line format: Triton's default or ISO8601, or json (one JSON object per line; Nereid's own).",
  }, (s, v) => { s.options.log.format = v; }),
  flag('log-file', STRING, { default: '', help: 'File to append the log to (default: info to stdout, warnings and errors to stderr).' },
    (s, v) => { s.options.logFile = v; }),
  flag('request-log', STRING, {
    default: '',
    help: 'Append one JSON line per inference request (id, model, version, protocol, status, queue and compute ' +
      'time, batch size, bytes) to this file, or to stdout with -. Not a tritonserver flag.',
  }, (s, v) => { s.options.requestLog = v; }),
  flag('request-log-payload-bytes', int(0), {
    default: '0',
    help: 'With --request-log: also log the first <integer> bytes of every input and output tensor (base64). ' +
      'Not a tritonserver flag.',
  }, (s, v) => { s.options.requestLogPayloadBytes = v; }),
]);

const MODEL_REPOSITORY = group('Model Repository:', [
  flag('model-store', nonEmpty('<path>'), { default: '', help: 'Same as --model-repository.' }, addRepository),
  flag('model-repository', nonEmpty('<path>'), {
    default: '',
    help: 'Path to a model repository, or s3://[[http[s]://]host:port/]bucket/path; repeat the flag to serve several (at least one is required).',
  }, addRepository),
  flag('exit-on-error', BOOL, {
    default: String(D.exitOnError),
    help: 'Exit if an error occurs during initialization, such as a model failing to load.',
  }, (s, v) => { s.options.exitOnError = v; }),
  flag('disable-auto-complete-config', SWITCH, {
    default: '',
    help: 'Do not auto-complete model configurations; config.pbtxt must then be complete.',
  }, (s) => { s.disableAutoCompleteConfig = true; }),
  flag('strict-readiness', BOOL, {
    default: String(D.strictReadiness),
    help: 'If true, /v2/health/ready is ready only when all models are ready; if false, whenever the server responds.',
  }, (s, v) => { s.options.strictReadiness = v; }),
  flag('model-control-mode', choice(['none', 'poll', 'explicit'], { caseInsensitive: true }), {
    default: D.modelControlMode,
    help: 'Model management mode.',
  }, (s, v) => { s.options.modelControlMode = v; }),
  flag('repository-poll-secs', int(0), {
    default: String(D.repositoryPollSecs),
    help: 'Seconds between polls of the model repositories (with --model-control-mode=poll).',
  }, (s, v) => { s.options.repositoryPollSecs = v; }),
  flag('load-model', nonEmpty('<model>'), {
    default: '',
    help: 'Model to load at startup with --model-control-mode=explicit; repeatable, * loads all.',
  }, (s, v) => { s.options.startupModels = [...s.options.startupModels, v]; }),
  flag('model-config-name', nonEmpty('<name>'), {
    default: '',
    help: 'Use <model>/configs/<name>.pbtxt when present instead of config.pbtxt.',
  }, (s, v) => { s.options.modelConfigName = v; }),
  flag('model-load-thread-count', int(1), { default: String(D.modelLoadThreadCount), help: 'Model versions loaded at once.' },
    (s, v) => { s.options.modelLoadThreadCount = v; }),
  flag('model-load-retry-count', int(0), { default: String(D.modelLoadRetryCount), help: 'Retries of a failed model load.' },
    (s, v) => { s.options.modelLoadRetryCount = v; }),
  flag('model-memory-budget', BYTE_SIZE, {
    default: '',
    help: 'Memory the loaded models may take (estimated from their files). With explicit or poll model ' +
      'control, a request for a model that is not loaded loads it, and the least recently used idle ' +
      'models are unloaded to stay within the budget. Not a tritonserver flag.',
  }, (s, v) => { s.options.modelMemoryBudgetBytes = v; }),
  flag('model-load-on-demand-timeout-secs', int(1), {
    default: String(D.modelLoadOnDemandTimeoutSecs),
    help: 'How long a request waits for its model to load on demand (with --model-memory-budget). ' +
      'Not a tritonserver flag.',
  }, (s, v) => { s.options.modelLoadOnDemandTimeoutSecs = v; }),
  accepted('model-namespacing', BOOL, {
    default: 'false',
    help: 'Allow models with the same name in different repositories.',
  }),
  accepted('enable-peer-access', BOOL, { default: 'true', help: 'Enable GPU peer access.' }),
]);

const HTTP = group('HTTP:', [
  flag('allow-http', BOOL, { default: String(D.http.allow), help: 'Listen for HTTP requests.' },
    (s, v) => { s.options.http.allow = v; }),
  flag('http-address', nonEmpty('<address>'), { default: D.http.address, help: 'Address the HTTP server binds to.' },
    (s, v) => { s.options.http.address = v; }),
  flag('http-port', PORT, { default: String(D.http.port), help: 'Port for HTTP requests.' },
    (s, v) => { s.options.http.port = v; }),
  accepted('reuse-http-port', BOOL, { default: 'false', help: 'Let several servers share the HTTP port.' }),
  accepted('http-header-forward-pattern', nonEmpty('<regex>'), {
    default: '',
    help: 'Forward HTTP headers matching this pattern as request parameters.',
  }),
  accepted('http-thread-count', int(), { default: '8', help: 'Threads handling HTTP requests.' }),
  flag('http-max-input-size', int(1, Number.MAX_SAFE_INTEGER), {
    default: String(D.http.maxInputSize),
    help: 'Largest HTTP request body in bytes, also after decompression.',
  }, (s, v) => { s.options.http.maxInputSize = v; }),
  // Nereid's own two limits (tritonserver has neither flag).
  flag('http-body-timeout-secs', NON_NEGATIVE_INT, {
    default: String(D.http.bodyTimeoutSecs),
    help: 'Seconds a request body may take to arrive after its headers; then 408 and the connection ' +
      'is closed. 0 means no limit. Not a tritonserver flag.',
  }, (s, v) => { s.options.http.bodyTimeoutSecs = v; }),
  flag('http-max-connections', int(1), {
    default: String(D.http.maxConnections),
    help: 'Most HTTP connections open at once; connections beyond it are closed as they arrive. ' +
      'Not a tritonserver flag.',
  }, (s, v) => { s.options.http.maxConnections = v; }),
  accepted('http-restricted-api', restricted('apis'), {
    default: '',
    help: 'Require header <key>: <value> for the listed API groups.',
  }),
]);

const GRPC = group('GRPC:', [
  flag('allow-grpc', BOOL, { default: String(D.grpc.allow), help: 'Listen for gRPC requests.' },
    (s, v) => { s.options.grpc.allow = v; }),
  flag('grpc-address', nonEmpty('<address>'), { default: D.grpc.address, help: 'Address the gRPC server binds to.' },
    (s, v) => { s.options.grpc.address = v; }),
  flag('grpc-port', PORT, { default: String(D.grpc.port), help: 'Port for gRPC requests.' },
    (s, v) => { s.options.grpc.port = v; }),
  accepted('reuse-grpc-port', BOOL, { default: 'false', help: 'Let several servers share the gRPC port.' }),
  accepted('grpc-header-forward-pattern', nonEmpty('<regex>'), {
    default: '',
    help: 'Forward gRPC headers matching this pattern as request parameters.',
  }),
  accepted('grpc-infer-thread-count', int(2, 128), { default: '2', help: 'gRPC inference handler threads.' }),
  accepted('grpc-infer-allocation-pool-size', int(), {
    default: '8',
    help: 'Request/response states kept for reuse.',
  }),
  accepted('grpc-max-response-pool-size', int(1), {
    default: '2147483647',
    help: 'Most inference responses queued at a time.',
  }),
  flag('grpc-use-ssl', BOOL, { default: String(D.grpc.useSsl), help: 'Use TLS for gRPC.' },
    (s, v) => { s.options.grpc.useSsl = v; }),
  // As in Triton's parser, mutual TLS turns TLS on and a later --grpc-use-ssl still decides. Unlike
  // it, `--grpc-use-ssl-mutual=false` leaves TLS as it was (Triton turns it on for any value).
  flag('grpc-use-ssl-mutual', BOOL, { default: String(D.grpc.useMutualAuth), help: 'Use mutual TLS for gRPC (turns --grpc-use-ssl on).' },
    (s, v) => { s.options.grpc.useMutualAuth = v; if (v) s.options.grpc.useSsl = true; }),
  flag('grpc-server-cert', STRING, { default: D.grpc.serverCert, help: 'PEM server certificate file.' },
    (s, v) => { s.options.grpc.serverCert = v; }),
  flag('grpc-server-key', STRING, { default: D.grpc.serverKey, help: 'PEM server key file.' },
    (s, v) => { s.options.grpc.serverKey = v; }),
  flag('grpc-root-cert', STRING, { default: D.grpc.rootCert, help: 'PEM root certificate file.' },
    (s, v) => { s.options.grpc.rootCert = v; }),
  flag('grpc-infer-response-compression-level',
    choice(['none', 'low', 'medium', 'high'], { caseInsensitive: true }), {
      default: D.grpc.inferResponseCompressionLevel,
      help: 'Compression of inference responses.',
    }, (s, v) => { s.options.grpc.inferResponseCompressionLevel = v; }),
  flag('grpc-keepalive-time', NON_NEGATIVE_INT, {
    default: String(D.grpc.keepaliveTimeMs),
    help: 'Milliseconds after which a keepalive ping is sent.',
  }, (s, v) => { s.options.grpc.keepaliveTimeMs = v; }),
  flag('grpc-keepalive-timeout', NON_NEGATIVE_INT, {
    default: String(D.grpc.keepaliveTimeoutMs),
    help: 'Milliseconds to wait for a keepalive ping acknowledgement before closing.',
  }, (s, v) => { s.options.grpc.keepaliveTimeoutMs = v; }),
  flag('grpc-keepalive-permit-without-calls', BOOL, {
    default: String(D.grpc.keepalivePermitWithoutCalls),
    help: 'Allow keepalive pings when no call is in flight.',
  }, (s, v) => { s.options.grpc.keepalivePermitWithoutCalls = v; }),
  flag('grpc-http2-max-pings-without-data', NON_NEGATIVE_INT, {
    default: String(D.grpc.http2MaxPingsWithoutData),
    help: 'Pings allowed without data frames; 0 means no limit.',
  }, (s, v) => { s.options.grpc.http2MaxPingsWithoutData = v; }),
  flag('grpc-http2-min-recv-ping-interval-without-data', NON_NEGATIVE_INT, {
    default: String(D.grpc.http2MinRecvPingIntervalWithoutDataMs),
    help: 'Least milliseconds between received pings without data before a ping counts as a strike.',
  }, (s, v) => { s.options.grpc.http2MinRecvPingIntervalWithoutDataMs = v; }),
  flag('grpc-http2-max-ping-strikes', NON_NEGATIVE_INT, {
    default: String(D.grpc.http2MaxPingStrikes),
    help: 'Bad pings tolerated before GOAWAY; 0 means no limit.',
  }, (s, v) => { s.options.grpc.http2MaxPingStrikes = v; }),
  flag('grpc-max-connection-age', NON_NEGATIVE_INT, {
    default: String(D.grpc.maxConnectionAgeMs),
    help: 'Most milliseconds a connection may live; 0 means unlimited.',
  }, (s, v) => { s.options.grpc.maxConnectionAgeMs = v; }),
  flag('grpc-max-connection-age-grace', NON_NEGATIVE_INT, {
    default: String(D.grpc.maxConnectionAgeGraceMs),
    help: 'Grace milliseconds after the maximum connection age; 0 means unlimited.',
  }, (s, v) => { s.options.grpc.maxConnectionAgeGraceMs = v; }),
  accepted('grpc-restricted-protocol', restricted('protocols'), {
    default: '',
    help: 'Require metadata <key>: <value> for the listed protocol groups.',
  }),
]);

/** Every flag `nereid` accepts, in `--help` order. */
export const FLAG_TABLE: readonly FlagRow[] = Object.freeze([
  ...SERVER,
  ...LOGGING,
  ...MODEL_REPOSITORY,
  ...HTTP,
  ...GRPC,
  ...EXTRA_FLAG_ROWS,
]);
