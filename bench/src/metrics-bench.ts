/**
 * What the Prometheus metrics cost (not part of the test suite): throughput of `simple` over HTTP
 * with metrics off, on with Triton's defaults (counters, read from the statistics at scrape time),
 * on with the first-response histogram, and on with the histogram and the latency summaries (both
 * observed per request), in one run. Each setting
 * is its own server child; the windows alternate between them round by round so machine drift
 * spreads evenly, and a scraper reads /metrics every second while a metrics server is loaded, as
 * Prometheus would. Prints the median throughput per setting and its overhead against "off", and
 * the server's CPU time per request (steadier than throughput on a machine other work shares).
 * A second part takes HTTP away: the same settings in this process, `core.infer` in a loop, CPU µs
 * per request, which isolates what the metrics add to the request path.
 * BENCH_SECONDS (default 5) per window, BENCH_ROUNDS (default 5), BENCH_CONCURRENCY (default 16),
 * BENCH_PORT_BASE (default: free ports).
 */
import { silentLogger, startServer, type InferRequestInit, type RunningServer, type StartOptions } from 'nereid';
import { binaryCall, httpOnce } from './infer-calls.js';
import { runHttpLoad, type LoadResult } from './load.js';
import { scraper } from './metrics-scraper.js';
import { processCpuSeconds } from './proc-stats.js';
import { freePort, startChild, stopChild } from './servers.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const PORT_BASE = process.env['BENCH_PORT_BASE'] === undefined ? undefined : Number(process.env['BENCH_PORT_BASE']);

interface Setting {
  readonly label: string;
  readonly args: readonly string[];
}

const SETTINGS: readonly Setting[] = [
  { label: 'metrics off', args: ['--allow-metrics', 'false'] },
  { label: 'metrics on (counters)', args: [] },
  { label: 'metrics on (+ histogram)', args: ['--metrics-config', 'histogram_latencies=true'] },
  {
    label: 'metrics on (+ histogram, summaries)',
    args: ['--metrics-config', 'histogram_latencies=true', '--metrics-config', 'summary_latencies=true'],
  },
];

let nextPort = PORT_BASE;
const port = async (): Promise<number> => (nextPort === undefined ? freePort() : nextPort++);

interface Running {
  readonly setting: Setting;
  readonly child: Awaited<ReturnType<typeof startChild>>;
  readonly httpPort: number;
  readonly metricsPort: number | undefined;
  readonly results: LoadResult[];
  /** Server CPU µs per request, per window. */
  readonly cpuUs: number[];
}

async function start(setting: Setting): Promise<Running> {
  const httpPort = await port();
  const metricsPort = setting.args.includes('false') ? undefined : await port();
  const args = ['packages/server/bin/nereid.js', '--model-repository', 'examples/models', '--http-address', '127.0.0.1',
    '--http-port', String(httpPort), '--allow-grpc', 'false', ...setting.args];
  if (metricsPort !== undefined) args.push('--metrics-port', String(metricsPort));
  const child = await startChild(process.execPath, args, /Started HTTPService/);
  return { setting, child, httpPort, metricsPort, results: [], cpuUs: [] };
}

/** Requests `simple` has answered, from the statistics extension. */
async function served(httpPort: number): Promise<number> {
  const answer = await httpOnce(httpPort, 'GET', '/v2/models/simple/stats');
  return (JSON.parse(answer.body.toString()) as { model_stats: { inference_stats: { success: { count: number } } }[] }).model_stats[0]!.inference_stats.success.count;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const data = Buffer.from(new Int32Array(16).map((_, i) => i).buffer);
  const call = binaryCall('simple', [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data },
  ], ['OUTPUT0', 'OUTPUT1']);
  const servers: Running[] = [];
  try {
    for (const setting of SETTINGS) servers.push(await start(setting));
    console.log(`metrics benchmark: simple over HTTP, concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${SECONDS} s per setting, node ${process.version}\n`);
    let scrapeBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order each round, so no setting always runs first or last.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        const scraping = scraper(server.metricsPort);
        const servedBefore = await served(server.httpPort);
        const cpuBefore = processCpuSeconds(server.child.pid!);
        const result = await runHttpLoad(server.httpPort, call, CONCURRENCY, SECONDS);
        const cpuSeconds = processCpuSeconds(server.child.pid!) - cpuBefore;
        const scraped = await scraping.stop();
        server.results.push(result);
        // Per request the server answered in that time, the load's warm-up included.
        server.cpuUs.push((cpuSeconds * 1e6) / Math.max(1, (await served(server.httpPort)) - servedBefore));
        if (scraped.bytes > 0) scrapeBytes = scraped.bytes;
        const last = server.results.at(-1)!;
        console.log(`  round ${round + 1}  ${server.setting.label.padEnd(36)} ${last.throughput.toFixed(0).padStart(7)} req/s  p50 ${last.p50Us.toFixed(0).padStart(5)} µs  p99 ${last.p99Us.toFixed(0).padStart(6)} µs  CPU ${server.cpuUs.at(-1)!.toFixed(0).padStart(4)} µs/req  scrapes ${scraped.scrapes}${last.errors ? `  errors ${last.errors}` : ''}`);
      }
    }
    const baseline = median(servers[0]!.results.map((r) => r.throughput));
    const baselineCpu = median(servers[0]!.cpuUs);
    console.log('\nmedian throughput (overhead against metrics off; target ≤ 5 % for the counters and the histogram):');
    for (const server of servers) {
      const throughput = median(server.results.map((r) => r.throughput));
      const p50 = median(server.results.map((r) => r.p50Us));
      const overhead = ((baseline - throughput) / baseline) * 100;
      const cpu = median(server.cpuUs);
      const cpuOverhead = ((cpu - baselineCpu) / baselineCpu) * 100;
      console.log(
        `  ${server.setting.label.padEnd(36)} ${throughput.toFixed(0).padStart(7)} req/s  p50 ${p50.toFixed(0).padStart(5)} µs  ` +
          `overhead ${overhead.toFixed(1).padStart(5)} %   CPU ${cpu.toFixed(1).padStart(6)} µs/req (${cpuOverhead >= 0 ? '+' : ''}${cpuOverhead.toFixed(1)} %)`,
      );
    }
    console.log(`\n/metrics body with examples/models loaded: ${scrapeBytes} bytes`);
  } finally {
    for (const server of servers) await stopChild(server.child);
  }
}

const CORE_SETTINGS: ReadonlyArray<readonly [string, StartOptions['metrics']]> = [
  ['metrics off', undefined],
  ['metrics on (counters)', { port: 0, address: '127.0.0.1', allowCpu: false }],
  ['metrics on (+ histogram)', { port: 0, address: '127.0.0.1', allowCpu: false, config: new Map([['histogram_latencies', 'true']]) }],
  [
    'metrics on (+ histogram, summaries)',
    { port: 0, address: '127.0.0.1', allowCpu: false, config: new Map([['histogram_latencies', 'true'], ['summary_latencies', 'true']]) },
  ],
];

/** CPU µs per `core.infer` of `simple` (4 at a time), per setting, alternating over rounds. */
async function corePath(): Promise<void> {
  const data = new Uint8Array(new Int32Array(16).map((_, i) => i).buffer);
  const request = (): InferRequestInit => ({
    modelName: 'simple',
    modelVersion: '',
    id: '',
    parameters: {},
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], parameters: {}, data })),
    outputs: [],
  });
  const servers: RunningServer[] = [];
  const samples = CORE_SETTINGS.map((): number[] => []);
  const REQUESTS = 20_000;
  try {
    for (const [, metrics] of CORE_SETTINGS) {
      servers.push(
        await startServer({
          modelRepositories: ['examples/models'],
          http: { allow: false },
          grpc: { allow: false },
          ...(metrics === undefined ? {} : { metrics }),
          logger: silentLogger,
        }),
      );
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, server] of servers.entries()) {
        const infer = () => server.core.infer(request());
        for (let i = 0; i < 2_000; i++) await infer();
        const before = process.cpuUsage();
        for (let i = 0; i < REQUESTS; i += 4) await Promise.all([infer(), infer(), infer(), infer()]);
        const used = process.cpuUsage(before);
        samples[index]!.push((used.user + used.system) / REQUESTS);
      }
    }
  } finally {
    for (const server of servers) await server.close();
  }
  const baseline = median(samples[0]!);
  console.log(`\nin-process core.infer of simple, ${REQUESTS} requests per window, ${ROUNDS} rounds (median CPU µs per request):`);
  CORE_SETTINGS.forEach(([label], index) => {
    const cpu = median(samples[index]!);
    console.log(`  ${label.padEnd(36)} ${cpu.toFixed(2).padStart(6)} µs  (${cpu >= baseline ? '+' : ''}${(cpu - baseline).toFixed(2)} µs)`);
  });
}

await main();
await corePath();
