import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAG_TABLE } from '../../../src/cli/flag-table.js';
import { parseCommandLine } from '../../../src/cli/options.js';
import { DEFAULT_SERVER_OPTIONS } from '../../../src/core/server-options.js';

const REPO = '--model-repository=/models';

/** tritonserver's flags (src/command_line_parser.cc, all features enabled). */
const TRITON_FLAGS = [
  'help', 'id', 'exit-timeout-secs', 'model-store', 'model-repository', 'exit-on-error',
  'disable-auto-complete-config', 'strict-readiness', 'model-control-mode', 'repository-poll-secs',
  'load-model', 'model-config-name', 'model-load-thread-count', 'model-load-retry-count',
  'model-namespacing', 'enable-peer-access', 'allow-http', 'http-address', 'http-port', 'reuse-http-port',
  'http-header-forward-pattern', 'http-thread-count', 'http-max-input-size', 'http-restricted-api',
  'allow-grpc', 'grpc-address', 'grpc-port', 'reuse-grpc-port', 'grpc-header-forward-pattern',
  'grpc-infer-thread-count', 'grpc-infer-allocation-pool-size', 'grpc-max-response-pool-size',
  'grpc-use-ssl', 'grpc-use-ssl-mutual', 'grpc-server-cert', 'grpc-server-key', 'grpc-root-cert',
  'grpc-infer-response-compression-level', 'grpc-keepalive-time', 'grpc-keepalive-timeout',
  'grpc-keepalive-permit-without-calls', 'grpc-http2-max-pings-without-data',
  'grpc-http2-min-recv-ping-interval-without-data', 'grpc-http2-max-ping-strikes',
  'grpc-max-connection-age', 'grpc-max-connection-age-grace', 'grpc-restricted-protocol', 'log-verbose',
  'log-info', 'log-warning', 'log-error', 'log-format', 'log-file', 'allow-sagemaker', 'sagemaker-port',
  'sagemaker-safe-port-range', 'sagemaker-thread-count', 'allow-vertex-ai', 'vertex-ai-port',
  'vertex-ai-thread-count', 'vertex-ai-default-model', 'allow-metrics', 'allow-gpu-metrics',
  'allow-cpu-metrics', 'metrics-address', 'metrics-port', 'metrics-interval-ms', 'metrics-config',
  'trace-config', 'cache-config', 'cache-directory', 'rate-limit', 'rate-limit-resource',
  'pinned-memory-pool-byte-size', 'cuda-memory-pool-byte-size', 'cuda-virtual-address-size',
  'min-supported-compute-capability', 'buffer-manager-thread-count', 'host-policy', 'model-load-gpu-limit',
  'allow-client-shm', 'backend-directory', 'backend-config', 'repoagent-directory', 'strict-model-config',
  'response-cache-byte-size', 'trace-file', 'trace-level', 'trace-rate', 'trace-count', 'trace-log-frequency',
];

/** A well-formed value for every flag whose table default is empty or free text. */
const SAMPLES: Record<string, string> = {
  'load-model': 'm',
  'model-config-name': 'h100',
  'http-header-forward-pattern': 'x-.*',
  'grpc-header-forward-pattern': 'x-.*',
  'http-restricted-api': 'model-repository,shared-memory:admin-key=secret',
  'grpc-restricted-protocol': 'health:key=value',
  'log-file': '/tmp/log.txt',
  'grpc-server-cert': 'cert.pem',
  'sagemaker-safe-port-range': '8000-8002',
  'metrics-address': '127.0.0.1',
  'metrics-config': 'summary_latencies=true',
  'trace-config': 'level=TIMESTAMPS',
  'cache-config': 'local,size=1048576',
  'rate-limit-resource': 'R1:4:0',
  'cuda-memory-pool-byte-size': '0:67108864',
  'cuda-virtual-address-size': '0:1073741824',
  'host-policy': 'gpu_0,numa-node=0',
  'model-load-gpu-limit': '0:0.8',
  'response-cache-byte-size': '1024',
  'trace-file': '/tmp/trace.json',
  'backend-config': 'onnxruntime,default-max-batch-size=4',
  'model-repository': '/models',
  'model-store': '/models',
};

/** Nereid's own flags, which tritonserver does not have. */
const NEREID_FLAGS = ['http-body-timeout-secs', 'http-max-connections', 'model-memory-budget', 'model-load-on-demand-timeout-secs', 'request-log', 'request-log-payload-bytes'];

test('the table has every tritonserver flag once, and no other but Nereid\'s own', () => {
  const names = FLAG_TABLE.map((row) => row.name);
  assert.equal(new Set(names).size, names.length, 'no duplicate rows');
  assert.deepEqual(['help', ...names].sort(), [...TRITON_FLAGS, ...NEREID_FLAGS].sort());
});

test('only --help and --disable-auto-complete-config take no argument', () => {
  const switches = FLAG_TABLE.filter((row) => row.arg === null).map((row) => row.name);
  assert.deepEqual(switches, ['disable-auto-complete-config']);
});

test("an implemented flag set to its --help default leaves DEFAULT_SERVER_OPTIONS as they are", () => {
  for (const row of FLAG_TABLE.filter((r) => r.implemented && r.arg !== null && r.defaultText !== '')) {
    const parsed = parseCommandLine([REPO, `--${row.name}=${row.defaultText}`]);
    assert.equal(parsed.kind, 'run', `${row.name}: ${parsed.kind === 'error' ? parsed.message : ''}`);
    if (parsed.kind !== 'run') continue;
    assert.deepEqual(parsed.options, { ...DEFAULT_SERVER_OPTIONS, modelRepositories: ['/models'] }, row.name);
  }
});

test('every unimplemented flag accepts a well-formed value, is reported and changes nothing', () => {
  for (const row of FLAG_TABLE.filter((r) => !r.implemented)) {
    const value = SAMPLES[row.name] ?? row.defaultText;
    // Triton rejects --load-model outside explicit mode.
    const mode = row.name === 'load-model' ? 'explicit' : 'none';
    const parsed = parseCommandLine([REPO, `--model-control-mode=${mode}`, `--${row.name}`, value]);
    assert.equal(parsed.kind, 'run', `${row.name}=${value}: ${parsed.kind === 'error' ? parsed.message : ''}`);
    if (parsed.kind !== 'run') continue;
    assert.deepEqual(parsed.ignoredFlags, [`--${row.name}`]);
    const expected = { ...DEFAULT_SERVER_OPTIONS, modelRepositories: ['/models'], modelControlMode: mode };
    assert.deepEqual(parsed.options, expected, row.name);
  }
});

test('--help lists every flag with its argument and, when it has one, its default', () => {
  const parsed = parseCommandLine(['--help']);
  assert.equal(parsed.kind, 'help');
  if (parsed.kind !== 'help') return;
  for (const row of FLAG_TABLE) {
    const term = row.arg === null ? `  --${row.name}\n` : `  --${row.name} ${row.arg}\n`;
    const at = parsed.text.indexOf(term);
    assert.ok(at >= 0, `${row.name} listed`);
    if (row.defaultText === '') continue;
    const entry = parsed.text.slice(at + term.length).split('\n  --')[0]?.replace(/\s+/g, ' ');
    assert.ok(entry?.includes(`default: ${row.defaultText}`), `${row.name} shows its default`);
  }
  assert.match(parsed.text, /\n {2}--help\n/);
});
