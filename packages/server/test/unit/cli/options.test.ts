import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, type ParsedCommandLine } from '../../../src/cli/options.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../../../src/core/server-options.js';

const REPO = '--model-repository=/models';

function run(...argv: string[]): Extract<ParsedCommandLine, { kind: 'run' }> {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.kind, 'run', parsed.kind === 'error' ? parsed.message : parsed.kind);
  return parsed as Extract<ParsedCommandLine, { kind: 'run' }>;
}

function options(...argv: string[]): ServerOptions {
  return run(REPO, ...argv).options;
}

function errorOf(...argv: string[]): string {
  const parsed = parseCommandLine(argv);
  assert.equal(parsed.kind, 'error', `expected an error for ${argv.join(' ')}`);
  return (parsed as Extract<ParsedCommandLine, { kind: 'error' }>).message;
}

test('only --model-repository given: every other option is DEFAULT_SERVER_OPTIONS', () => {
  const parsed = run(REPO);
  assert.deepEqual(parsed.options, { ...DEFAULT_SERVER_OPTIONS, modelRepositories: ['/models'] });
  assert.deepEqual(parsed.ignoredFlags, []);
  assert.deepEqual(parsed.warnings, []);
});

test('the result does not share state with DEFAULT_SERVER_OPTIONS or earlier results', () => {
  const first = options('--backend-config=onnxruntime,a=1', '--http-port=1');
  const second = options();
  assert.equal(second.backendConfig.size, 0);
  assert.equal(DEFAULT_SERVER_OPTIONS.backendConfig.size, 0);
  assert.equal(first.http.port, 1);
  assert.equal(second.http.port, 8000);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.http) && Object.isFrozen(first.log));
});

test('each implemented flag lands in its ServerOptions field', () => {
  const o = options(
    '--id=nereid-1', '--exit-timeout-secs=5', '--log-verbose=2', '--log-info=false', '--log-warning=false',
    '--log-error=false', '--exit-on-error=false', '--strict-readiness=false', '--model-control-mode=explicit',
    '--allow-http=false', '--http-address=127.0.0.1', '--http-port=18000', '--http-max-input-size=1024',
    '--http-body-timeout-secs=5', '--http-max-connections=16',
    '--allow-grpc=false', '--grpc-address=::1', '--grpc-port=18001',
    '--grpc-infer-response-compression-level=high', '--grpc-keepalive-time=1000', '--grpc-keepalive-timeout=500',
    '--grpc-keepalive-permit-without-calls=true', '--grpc-http2-max-pings-without-data=0',
    '--grpc-http2-min-recv-ping-interval-without-data=10000', '--grpc-http2-max-ping-strikes=5',
    '--grpc-max-connection-age=60000', '--grpc-max-connection-age-grace=3000', '--allow-client-shm=true',
    '--grpc-use-ssl=false', '--grpc-use-ssl-mutual=true', '--grpc-server-cert=/c.pem', '--grpc-server-key=/k.pem',
    '--grpc-root-cert=/ca.pem', '--rate-limit=execution_count', '--rate-limit-resource=R1:4',
    '--rate-limit-resource=R2:2:0', '--cache-config=local,size=4096', '--repository-poll-secs=3',
    '--load-model=a', '--load-model', 'b', '--model-config-name=h100', '--model-load-thread-count=2',
    '--model-load-retry-count=3', '--log-format=ISO8601', '--log-file=/var/log/nereid.log', '--request-log=-',
    '--request-log-payload-bytes=64', '--backend-directory=/opt/nereid/backends', '--allow-metrics=false', '--allow-cpu-metrics=false', '--metrics-address=::1',
    '--metrics-port=18002', '--metrics-interval-ms=500.7', '--metrics-config=summary_latencies=true',
    '--metrics-config', 'summary_quantiles=0.5:0.05,0.9:0.01',
    '--trace-config=triton,file=/tmp/t.json', '--trace-config=level=TIMESTAMPS',
    '--trace-config=rate=1', '--trace-config=count=5', '--trace-config=triton,log-frequency=2',
  );
  assert.deepEqual(o, {
    modelRepositories: ['/models'],
    id: 'nereid-1',
    strictReadiness: false,
    exitOnError: false,
    autoCompleteConfig: true,
    backendConfig: new Map(),
    cacheConfig: new Map([['local', new Map([['size', '4096']])]]),
    modelControlMode: 'explicit',
    repositoryPollSecs: 3,
    startupModels: ['a', 'b'],
    modelConfigName: 'h100',
    modelLoadThreadCount: 2,
    modelLoadRetryCount: 3,
    modelMemoryBudgetBytes: 0,
    modelLoadOnDemandTimeoutSecs: 60,
    exitTimeoutSecs: 5,
    http: { allow: false, port: 18000, address: '127.0.0.1', maxInputSize: 1024, bodyTimeoutSecs: 5, maxConnections: 16 },
    grpc: {
      allow: false,
      port: 18001,
      address: '::1',
      keepaliveTimeMs: 1000,
      keepaliveTimeoutMs: 500,
      keepalivePermitWithoutCalls: true,
      http2MaxPingsWithoutData: 0,
      http2MinRecvPingIntervalWithoutDataMs: 10000,
      http2MaxPingStrikes: 5,
      maxConnectionAgeMs: 60000,
      maxConnectionAgeGraceMs: 3000,
      inferResponseCompressionLevel: 'high',
      // --grpc-use-ssl-mutual turns TLS on (as in Triton, the later flag wins).
      useSsl: true,
      useMutualAuth: true,
      serverCert: '/c.pem',
      serverKey: '/k.pem',
      rootCert: '/ca.pem',
    },
    metrics: {
      allow: false,
      allowCpu: false,
      address: '::1',
      port: 18002,
      intervalMs: 500,
      config: new Map([['summary_latencies', 'true'], ['summary_quantiles', '0.5:0.05,0.9:0.01']]),
    },
    allowClientShm: true,
    rateLimit: {
      enabled: true,
      resources: [
        { name: 'R1', count: 4, device: undefined },
        { name: 'R2', count: 2, device: 0 },
      ],
    },
    log: { info: false, warning: false, error: false, verboseLevel: 2, format: 'ISO8601' },
    logFile: '/var/log/nereid.log',
    requestLog: '-',
    requestLogPayloadBytes: 64,
    backendDirectory: '/opt/nereid/backends',
    trace: {
      level: 0x4,
      rate: 1,
      count: 5,
      logFrequency: 2,
      file: '/tmp/t.json',
      mode: 'triton',
      config: new Map([['triton', [['file', '/tmp/t.json'], ['log-frequency', '2']]]]),
    },
  });
});

test('--flag value and --flag=value read the same', () => {
  const spaced = options('--http-port', '9000', '--id', 'x', '--backend-config', 'python,shm=1', '--log-info', 'off');
  const joined = options('--http-port=9000', '--id=x', '--backend-config=python,shm=1', '--log-info=off');
  assert.deepEqual(spaced, joined);
  assert.equal(spaced.http.port, 9000);
  assert.deepEqual(run('--model-repository', '/m').options.modelRepositories, ['/m']);
});

test('a required argument is taken even when it starts with a dash, as getopt does', () => {
  assert.equal(options('--log-verbose', '-1').log.verboseLevel, -1);
  assert.equal(options('--id', '--x').id, '--x');
});

test('the last value of a single-valued flag wins', () => {
  assert.equal(options('--http-port=1', '--http-port=2').http.port, 2);
  assert.equal(options('--model-control-mode=poll', '--model-control-mode=none').modelControlMode, 'none');
});

test('--model-repository repeats, --model-store is its alias, a repeated path counts once', () => {
  const o = run('--model-repository=/a', '--model-store', '/b', '--model-repository', '/c', '--model-store=/a');
  assert.deepEqual(o.options.modelRepositories, ['/a', '/b', '/c']);
});

test('boolean flags take true/false, on/off and 1/0 in any case', () => {
  for (const spelling of ['true', 'TRUE', 'True', 'on', 'ON', '1']) {
    assert.equal(options(`--allow-client-shm=${spelling}`).allowClientShm, true, spelling);
  }
  for (const spelling of ['false', 'FALSE', 'False', 'off', 'Off', '0']) {
    assert.equal(options(`--strict-readiness=${spelling}`).strictReadiness, false, spelling);
  }
  assert.match(errorOf(REPO, '--allow-http=yes'), /^--allow-http: expected a boolean .*, got 'yes'$/);
  assert.match(errorOf(REPO, '--allow-http='), /^--allow-http: expected a boolean/);
});

test('--log-verbose takes an integer or true/false (1/0)', () => {
  assert.equal(options('--log-verbose=3').log.verboseLevel, 3);
  assert.equal(options('--log-verbose=True').log.verboseLevel, 1);
  assert.equal(options('--log-verbose=false').log.verboseLevel, 0);
  assert.match(errorOf(REPO, '--log-verbose=on'), /^--log-verbose: expected an integer, got 'on'$/);
});

test('--backend-config: per-backend and global forms, repeatable, last setting wins', () => {
  const o = options(
    '--backend-config=onnxruntime,default-max-batch-size=4',
    '--backend-config=default-max-batch-size=8',
    '--backend-config', 'python,shm-region-prefix-name=a,b',
    '--backend-config=onnxruntime,enable-pinned-input=true',
    '--backend-config=onnxruntime,default-max-batch-size=16',
    '--backend-config=tensorrt,plugins=/a=b',
  );
  assert.deepEqual(
    o.backendConfig,
    new Map([
      ['onnxruntime', new Map([['default-max-batch-size', '16'], ['enable-pinned-input', 'true']])],
      ['', new Map([['default-max-batch-size', '8']])],
      ['python', new Map([['shm-region-prefix-name', 'a,b']])],
      ['tensorrt', new Map([['plugins', '/a=b']])],
    ]),
  );
});

test('--backend-config without =, backend, setting or value is an error naming the flag', () => {
  for (const bad of ['onnxruntime', ',a=1', 'onnxruntime,=1', 'onnxruntime,a=', '=1']) {
    assert.match(errorOf(REPO, `--backend-config=${bad}`), /^--backend-config: expected <backend>,<setting>=<value>/, bad);
  }
});

test('auto-complete: --disable-auto-complete-config, and the deprecated --strict-model-config', () => {
  assert.equal(options('--disable-auto-complete-config').autoCompleteConfig, false);
  assert.equal(options('--strict-model-config=true').autoCompleteConfig, false);
  assert.equal(options('--strict-model-config=false').autoCompleteConfig, true);
  const both = run(REPO, '--strict-model-config=false', '--disable-auto-complete-config');
  assert.equal(both.options.autoCompleteConfig, false);
  assert.equal(both.warnings.length, 2);
  assert.match(both.warnings[0] ?? '', /'--strict-model-config' has been deprecated/);
  assert.match(both.warnings[1] ?? '', /overriding deprecated '--strict-model-config'/);
  assert.match(errorOf(REPO, '--disable-auto-complete-config=true'), /option '--disable-auto-complete-config' doesn't allow an argument/);
});

test('--model-control-mode and the compression level take their words in any case', () => {
  assert.equal(options('--model-control-mode=POLL').modelControlMode, 'poll');
  assert.equal(options('--grpc-infer-response-compression-level=Medium').grpc.inferResponseCompressionLevel, 'medium');
  assert.equal(
    errorOf(REPO, '--model-control-mode=auto'),
    "--model-control-mode: expected one of none, poll, explicit, got 'auto'",
  );
});

test('--exit-timeout-secs below 0 counts as 0, as Triton clamps it', () => {
  assert.equal(options('--exit-timeout-secs=-5').exitTimeoutSecs, 0);
});

test('malformed numbers are errors naming the flag and the value', () => {
  assert.equal(errorOf(REPO, '--http-port=abc'), "--http-port: expected an integer 0-65535, got 'abc'");
  assert.equal(errorOf('--grpc-port', '70000', REPO), "--grpc-port: expected an integer 0-65535, got '70000'");
  assert.equal(errorOf(REPO, '--http-port=80.5'), "--http-port: expected an integer 0-65535, got '80.5'");
  assert.equal(errorOf(REPO, '--http-port=8000x'), "--http-port: expected an integer 0-65535, got '8000x'");
  assert.equal(errorOf(REPO, '--http-max-input-size=0'), "--http-max-input-size: expected an integer >= 1, got '0'");
  assert.equal(errorOf(REPO, '--http-max-connections=0'), "--http-max-connections: expected an integer >= 1, got '0'");
  assert.equal(errorOf(REPO, '--http-body-timeout-secs=-1'), "--http-body-timeout-secs: expected an integer >= 0, got '-1'");
  assert.equal(errorOf(REPO, '--grpc-keepalive-time=-1'), "--grpc-keepalive-time: expected an integer >= 0, got '-1'");
  assert.equal(errorOf(REPO, '--exit-timeout-secs=99999999999'), "--exit-timeout-secs: expected an integer, got '99999999999'");
  assert.match(errorOf(REPO, '--model-repository='), /^--model-repository: expected a non-empty value, got ''$/);
});

test('an unknown flag is an error naming it, with or without a value', () => {
  assert.match(errorOf(REPO, '--http-prot=8000'), /^unknown option '--http-prot'/);
  assert.match(errorOf(REPO, '--http-prot', '8000'), /^unknown option '--http-prot'/);
  assert.match(errorOf(REPO, '-p'), /^unknown option '-p'/);
});

test('a flag missing its argument, or a stray argument, is an error', () => {
  assert.match(errorOf(REPO, '--http-port'), /option '--http-port <integer>' argument missing/);
  assert.equal(errorOf(REPO, 'models'), "unexpected argument 'models'");
  assert.equal(errorOf(REPO, '--', '--http-port=1'), "unexpected argument '--http-port=1'");
});

test('at least one --model-repository is required', () => {
  assert.equal(errorOf(), '--model-repository must be specified');
  assert.equal(errorOf('--http-port=9000'), '--model-repository must be specified');
});

test('HTTP and gRPC on the same address and port is an error, unless a port is 0 or one is off', () => {
  assert.match(errorOf(REPO, '--grpc-port=8000'), /same address and port 0\.0\.0\.0:8000/);
  assert.equal(options('--grpc-port=8000', '--allow-grpc=false').grpc.port, 8000);
  assert.equal(options('--grpc-port=8000', '--grpc-address=127.0.0.1').grpc.port, 8000);
  assert.equal(options('--http-port=0', '--grpc-port=0').http.port, 0);
});

test('the metrics port collides with HTTP or gRPC on its address (by default the HTTP address), as Triton checks', () => {
  assert.equal(
    errorOf(REPO, '--metrics-port=8000'),
    'the server cannot listen to HTTP requests and metrics requests at the same address and port 0.0.0.0:8000',
  );
  assert.equal(
    errorOf(REPO, '--grpc-address=127.0.0.1', '--metrics-address=127.0.0.1', '--metrics-port=8001'),
    'the server cannot listen to GRPC requests and metrics requests at the same address and port 127.0.0.1:8001',
  );
  assert.equal(options('--metrics-port=8000', '--metrics-address=127.0.0.1').metrics.port, 8000);
  assert.equal(options('--metrics-port=8000', '--allow-metrics=false').metrics.port, 8000);
  assert.equal(options('--metrics-port=0', '--http-port=0').metrics.port, 0);
  assert.match(errorOf(REPO, '--metrics-config=a,b=c'), /^--metrics-config: expected/);
  assert.match(errorOf(REPO, '--metrics-interval-ms=-1'), /^--metrics-interval-ms: expected/);
});

test('accepted-but-unimplemented flags are validated, reported once in order, and change nothing', () => {
  const parsed = run(
    REPO, '--allow-gpu-metrics=false', '--allow-gpu-metrics', 'true',
    '--cuda-memory-pool-byte-size=0:1024', '--cache-directory=/caches',
  );
  assert.deepEqual(parsed.options, { ...DEFAULT_SERVER_OPTIONS, modelRepositories: ['/models'] });
  assert.deepEqual(parsed.ignoredFlags, ['--allow-gpu-metrics', '--cuda-memory-pool-byte-size', '--cache-directory']);
  assert.equal(errorOf(REPO, '--metrics-port=x'), "--metrics-port: expected an integer 0-65535, got 'x'");
  assert.match(errorOf(REPO, '--cuda-memory-pool-byte-size=1024'), /^--cuda-memory-pool-byte-size: expected <integer>:<integer>/);
  assert.match(errorOf(REPO, '--trace-config=jaeger,url=x'), /^--trace-config: expected a trace mode/);
  assert.match(errorOf(REPO, '--cache-config=size=1'), /^--cache-config: expected <cache>,<setting>=<value>/);
  assert.match(errorOf(REPO, '--log-format=iso8601'), /^--log-format: expected one of default, ISO8601, json/);
});

test('Triton cross-flag rules: --load-model needs explicit mode; the two cache flags exclude each other', () => {
  assert.match(errorOf(REPO, '--load-model=m'), /'--load-model' requires setting '--model-control-mode=explicit'/);
  const explicit = run(REPO, '--load-model=m', '--model-control-mode=explicit');
  assert.deepEqual(explicit.ignoredFlags, []);
  assert.deepEqual(explicit.options.startupModels, ['m']);
  assert.match(errorOf(REPO, '--model-load-thread-count=0'), /^--model-load-thread-count: expected an integer >= 1/);
  assert.match(errorOf(REPO, '--response-cache-byte-size=10', '--cache-config=local,size=10'), /incompatible flags/);
});

test('--cache-config collects settings per cache; --response-cache-byte-size is local,size=<bytes>', () => {
  const parsed = run(REPO, '--cache-config=local,size=1048576', '--cache-config', 'local,size=2048', '--cache-config=redis,host=h');
  assert.deepEqual(parsed.ignoredFlags, []);
  assert.deepEqual(
    parsed.options.cacheConfig,
    new Map([['local', new Map([['size', '2048']])], ['redis', new Map([['host', 'h']])]]),
  );
  const deprecated = run(REPO, '--response-cache-byte-size=4096');
  assert.deepEqual(deprecated.options.cacheConfig, new Map([['local', new Map([['size', '4096']])]]));
  assert.deepEqual(deprecated.warnings, ["'--response-cache-byte-size' has been deprecated; use '--cache-config' instead"]);
  assert.match(errorOf(REPO, '--response-cache-byte-size=-1'), /^--response-cache-byte-size: expected/);
});

test('deprecated flags warn once each', () => {
  const parsed = run(REPO, '--trace-rate=10', '--trace-rate=20', '--trace-level=TIMESTAMPS');
  assert.deepEqual(parsed.warnings, [
    "'--trace-rate' has been deprecated; use '--trace-config rate=<rate>' instead",
    "'--trace-level' has been deprecated; use '--trace-config level=<level>' instead",
  ]);
});

test("the trace flags combine as Triton's PostProcessTraceArgs: --trace-config wins over a deprecated flag, levels add up, OFF wins", () => {
  const old = run(REPO, '--trace-file=/a.json', '--trace-level=TIMESTAMPS', '--trace-level=tensors', '--trace-rate=7', '--trace-count=3', '--trace-log-frequency=4');
  assert.deepEqual(
    { ...old.options.trace, config: undefined },
    { level: 0x4 | 0x8, rate: 7, count: 3, logFrequency: 4, file: '/a.json', mode: 'triton', config: undefined },
  );
  const both = run(REPO, '--trace-rate=7', '--trace-config=rate=9', '--trace-file=/a.json', '--trace-config=triton,file=/b.json');
  assert.equal(both.options.trace.rate, 9);
  assert.equal(both.options.trace.file, '/b.json');
  assert.ok(both.warnings.includes("Overriding deprecated '--trace-rate' in favor of provided rate value in --trace-config!"));
  assert.ok(both.warnings.includes("Overriding deprecated '--trace-file' in favor of provided file in --trace-config!"));
  assert.equal(options('--trace-config=level=TIMESTAMPS', '--trace-level=OFF').trace.level, 0);
  assert.equal(options('--trace-config=level=max').trace.level, 0x4);
  const otel = run(REPO, '--trace-config=mode=opentelemetry', '--trace-config=opentelemetry,url=http://127.0.0.1:1/v1/traces',
    '--trace-config=opentelemetry,bsp_schedule_delay=10', '--trace-file=/a.json');
  assert.equal(otel.options.trace.mode, 'opentelemetry');
  assert.deepEqual(otel.options.trace.config.get('opentelemetry'), [
    ['url', 'http://127.0.0.1:1/v1/traces'], ['bsp_schedule_delay', '10'], ['bsp_max_queue_size', '2048'], ['bsp_max_export_batch_size', '512'],
  ]);
  assert.ok(otel.warnings.includes("'--trace-file' is deprecated and will be ignored with opentelemetry tracing mode."));
  assert.deepEqual(otel.ignoredFlags, []);
  assert.match(errorOf(REPO, '--trace-config=level=loud'), /^--trace-config: expected a trace level .*invalid value for trace level option: loud/);
  assert.match(errorOf(REPO, '--trace-config=mode=jaeger'), /^--trace-config: expected a trace mode .*invalid value for trace mode option: jaeger/);
  assert.match(errorOf(REPO, '--trace-config=rate=often'), /^--trace-config: expected an integer/);
  assert.match(errorOf(REPO, '--trace-config=,rate=1'), /^--trace-config: expected/);
});

test('--help wins over a missing repository and returns the usage text', () => {
  const parsed = parseCommandLine(['--help']);
  assert.equal(parsed.kind, 'help');
  const text = (parsed as Extract<ParsedCommandLine, { kind: 'help' }>).text;
  assert.match(text, /^Usage: nereid --model-repository=<path> \[options\]/);
  assert.match(text, /--http-port <integer>\n\s+Port for HTTP requests\. \(default: 8000\)/);
  assert.match(text, /--metrics-port <integer>\n\s+Port for Prometheus metrics\. \(default: 8002\)/);
  assert.match(text, /--allow-gpu-metrics <boolean>\n\s+Serve GPU metrics \(this server has no GPUs\)\. \(default: true; accepted, not\s+implemented/);
  assert.equal(parseCommandLine([REPO, '--http-port=1', '--help']).kind, 'help');
  assert.ok(text.split('\n').every((line) => line.length <= 80), 'usage lines fit 80 columns');
});

test('--model-memory-budget takes a size with a unit and needs explicit or poll mode', () => {
  const o = options('--model-control-mode=explicit', '--model-memory-budget=2GiB', '--model-load-on-demand-timeout-secs=5');
  assert.equal(o.modelMemoryBudgetBytes, 2 * 2 ** 30);
  assert.equal(o.modelLoadOnDemandTimeoutSecs, 5);
  assert.equal(options('--model-control-mode=poll', '--model-memory-budget', '1000').modelMemoryBudgetBytes, 1000);
  assert.match(errorOf(REPO, '--model-memory-budget=1GB'), /'--model-memory-budget' requires '--model-control-mode=explicit' or 'poll'/);
  assert.match(errorOf(REPO, '--model-control-mode=explicit', '--model-memory-budget=lots'), /^--model-memory-budget: expected a size in bytes/);
});
