/**
 * Sequence batching benchmark (not part of the test suite; `npm run bench:sequence`). In one run:
 *   - Nereid (child process) serves a temporary repository holding every model of sequence-models.ts
 *     once per strategy (direct with Triton's defaults, direct waiting for full slots, oldest), same
 *     instances (2) and slots per instance (16);
 *   - this process drives 32 concurrent sequences of 100 steps each (sequence-driver.ts) over HTTP
 *     (a keep-alive connection per sequence) and over gRPC (a ModelStreamInfer stream per sequence),
 *     one warm-up round then BENCH_ROUNDS measured rounds per case (the strategies taking turns
 *     round by round, so a busy moment of the shared machine falls on all alike), every answer
 *     checked against raw ORT carrying the state by hand (sequence-reference.ts): throughput in steps/s, per-step latency
 *     p50/p99; the statistics extension tells the batches executed over the measured rounds (batch_stats
 *     counts the direct strategy's null rows, inference_count only real steps) and how long the
 *     instances spent in ORT runs;
 *   - raw ONNX Runtime in this process (ort-batches.ts), right after each round, executing exactly
 *     that round's batches, null rows included, as many at once as the model has instances: the
 *     ceiling for the batches formed; and after each turn of rounds at full batches: the ceiling for
 *     any batching.
 * The load generator shares the machine's cores with the server (its CPU is in the `cli` column).
 *
 * BENCH_ROUNDS: measured rounds per case (default 5); BENCH_SEQUENCES / BENCH_STEPS (32 / 100);
 * BENCH_MODELS=seq_mlp,silero_vad, BENCH_STRATEGIES=direct,oldest and BENCH_PROTOCOLS=grpc: only
 * these; BENCH_QUICK=1: one round, short raw ORT windows; BENCH_HTTP_PORT / BENCH_GRPC_PORT: the
 * server's ports (default: free ones). */
import { addBatches, averageBatch, batchMix, batchSnapshot, batchesBetween, type BatchSnapshot } from './batch-stats.js';
import { quantile } from './drivers.js';
import { removeTempRepositories, tempRepository } from './engine-model.js';
import { OrtBatches } from './ort-batches.js';
import { machineBusySeconds, processCpuSeconds } from './proc-stats.js';
import { runRound, type Protocol, type RoundResult } from './sequence-driver.js';
import { STRATEGIES, ortInputs, sequenceModels, servedName, writeStrategies, type SequenceModel, type Strategy } from './sequence-models.js';
import { referenceOutputs } from './sequence-reference.js';
import { freePort, startChild, stopChild } from './servers.js';

const QUICK = process.env['BENCH_QUICK'] === '1';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? (QUICK ? 1 : 5));
const SEQUENCES = Number(process.env['BENCH_SEQUENCES'] ?? 32);
const STEPS = Number(process.env['BENCH_STEPS'] ?? 100);
/** Raw ORT window per batch size, after each round. */
const ORT_MS = QUICK ? 50 : 100;
const list = (name: string): string[] => (process.env[name] ?? '').split(',').filter(Boolean);
const ONLY = list('BENCH_MODELS');
const ONLY_STRATEGIES = list('BENCH_STRATEGIES');
const PROTOCOLS = (list('BENCH_PROTOCOLS').length ? list('BENCH_PROTOCOLS') : ['http', 'grpc']) as Protocol[];

interface CaseResult {
  readonly model: string;
  readonly protocol: Protocol;
  readonly strategy: Strategy;
  readonly instances: number;
  readonly steps: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
  readonly mismatches: number;
  readonly batches: BatchSnapshot;
  /** Wall and CPU seconds raw ORT takes for the same batches, null rows included. */
  readonly rawSeconds: number;
  readonly rawCpuSeconds: number;
  /** CPU seconds the server used over the rounds. */
  readonly serverSeconds: number;
  /** CPU of this process (the clients), of the server, and of everything else, as shares of one core. */
  readonly clientCpu: number;
  readonly serverCpu: number;
  readonly otherCpu: number;
}

interface Server {
  readonly pid: number;
  readonly httpPort: number;
  readonly grpcPort: number;
}

/** One measured round of one case: what the clients saw, the batches executed, CPU seconds meanwhile. */
interface MeasuredRound {
  readonly round: RoundResult;
  readonly batches: BatchSnapshot;
  readonly clientSeconds: number;
  readonly serverSeconds: number;
  readonly otherSeconds: number;
  /** What raw ORT takes for the same batches, measured right after the round. */
  readonly rawSeconds: number;
  readonly rawCpuSeconds: number;
}

/** A round of `strategy` over `protocol`. */
function round(server: Server, protocol: Protocol, model: SequenceModel, strategy: Strategy, reference: Float32Array[][], firstId: number): Promise<RoundResult> {
  const port = protocol === 'grpc' ? server.grpcPort : server.httpPort;
  return runRound({ protocol, port, served: servedName(model, strategy), model, sequences: SEQUENCES, steps: STEPS, firstId, reference });
}

const ownCpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function measuredRound(server: Server, run: () => Promise<RoundResult>, served: string, ort: OrtBatches, instances: number): Promise<MeasuredRound> {
  const before = await batchSnapshot(server.httpPort, served);
  const cpu = (): [number, number, number] => [ownCpuSeconds(), processCpuSeconds(server.pid), machineBusySeconds()];
  const [clientStart, serverStart, machineStart] = cpu();
  const result = await run();
  const [clientEnd, serverEnd, machineEnd] = cpu();
  const clientSeconds = clientEnd - clientStart;
  const serverSeconds = serverEnd - serverStart;
  const batches = batchesBetween(before, await batchSnapshot(server.httpPort, served));
  return {
    round: result,
    batches,
    clientSeconds,
    serverSeconds,
    otherSeconds: Math.max(0, machineEnd - machineStart - clientSeconds - serverSeconds),
    ...(await rawCost(ort, batches, instances)),
  };
}

/**
 * Every strategy over one protocol: a warm-up round each, then the measured rounds taking turns
 * (round 1 of each strategy, round 2 of each, ...) so that whatever else the machine does falls on
 * all of them alike, each followed by raw ORT executing that round's batches, and each turn by raw
 * ORT at full batches (pushed to `fullBatch`, rows/s).
 */
async function runStrategies(
  server: Server,
  protocol: Protocol,
  model: SequenceModel,
  strategies: readonly Strategy[],
  reference: Float32Array[][],
  ort: OrtBatches,
  nextId: () => number,
  fullBatch: number[],
): Promise<CaseResult[]> {
  for (const strategy of strategies) {
    const warm = await round(server, protocol, model, strategy, reference, nextId());
    if (warm.errors) throw new Error(`${servedName(model, strategy)} (${protocol}): ${warm.errors} failed steps in the warm-up round; first: ${warm.firstProblem}`);
  }
  const measured = new Map<Strategy, MeasuredRound[]>(strategies.map((strategy) => [strategy, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const strategy of strategies) {
      const run = (): Promise<RoundResult> => round(server, protocol, model, strategy, reference, nextId());
      measured.get(strategy)!.push(await measuredRound(server, run, servedName(model, strategy), ort, model.instances));
    }
    fullBatch.push(model.maxBatchSize * (await ort.runsPerSecond(model.maxBatchSize, model.instances)));
  }
  const results: CaseResult[] = [];
  for (const strategy of strategies) {
    const rounds = measured.get(strategy)!;
    const total = (of: (m: MeasuredRound) => number): number => rounds.reduce((sum, m) => sum + of(m), 0);
    const seconds = total((m) => m.round.seconds);
    const latencies = rounds.flatMap((m) => m.round.latenciesUs).sort((a, b) => a - b);
    const problem = rounds.find((m) => m.round.firstProblem)?.round.firstProblem;
    if (problem) console.log(`  ${servedName(model, strategy)} (${protocol}): ${problem}`);
    const batches = rounds.map((m) => m.batches).reduce(addBatches);
    const serverSeconds = total((m) => m.serverSeconds);
    results.push({
      model: model.name,
      protocol,
      strategy,
      instances: model.instances,
      steps: latencies.length,
      seconds,
      p50Us: quantile(latencies, 0.5),
      p99Us: quantile(latencies, 0.99),
      errors: total((m) => m.round.errors),
      mismatches: total((m) => m.round.mismatches),
      batches,
      rawSeconds: total((m) => m.rawSeconds),
      rawCpuSeconds: total((m) => m.rawCpuSeconds),
      serverSeconds,
      clientCpu: total((m) => m.clientSeconds) / seconds,
      serverCpu: serverSeconds / seconds,
      otherCpu: total((m) => m.otherSeconds) / seconds,
    });
  }
  return results;
}

/** What raw ORT takes for `batches`, `parallel` at once. */
async function rawCost(ort: OrtBatches, batches: BatchSnapshot, parallel: number): Promise<{ rawSeconds: number; rawCpuSeconds: number }> {
  const { seconds, cpuSeconds } = await ort.costOf(batches.bySize, parallel);
  return { rawSeconds: seconds, rawCpuSeconds: cpuSeconds };
}

// ---------------------------------------------------------------------------------------------
// Report

const COLUMNS = ['steps/s', 'p50 ms', 'p99 ms', 'busy', 'steps/exec', 'rows/exec', 'batch sizes (execs)', 'raw ORT/s', 'vs raw', 'srv µs', 'ORT µs', 'ratio', 'cli CPU', 'srv CPU', 'other', 'err', 'bad'];
const WIDTHS = [8, 7, 7, 5, 10, 9, 22, 9, 6, 6, 6, 5, 7, 7, 5, 4, 4];
const line = (label: string, cells: readonly string[]): string =>
  label.padEnd(28) + cells.map((cell, i) => cell.padStart((WIDTHS[i] ?? 8) + 1)).join('');
const fixed = (value: number | undefined, digits: number): string => (value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-');
const pct = (value: number): string => `${(value * 100).toFixed(0)}%`;

const rowsPerExecution = (b: BatchSnapshot): number => [...b.bySize].reduce((sum, [size, count]) => sum + size * count, 0) / b.executions;
const served = (r: CaseResult): number => r.steps / r.seconds;
const raw = (r: CaseResult): number => r.steps / r.rawSeconds;

function printRow(r: CaseResult): void {
  console.log(
    line(`${r.model} ${r.protocol} ${r.strategy}`, [
      fixed(served(r), 0),
      fixed(r.p50Us / 1000, 2),
      fixed(r.p99Us / 1000, 2),
      pct(r.batches.computeInferNs / 1e9 / r.instances / r.seconds),
      fixed(averageBatch(r.batches), 2),
      fixed(rowsPerExecution(r.batches), 2),
      batchMix(r.batches),
      fixed(raw(r), 0),
      fixed(served(r) / raw(r), 2),
      fixed((r.serverSeconds / r.steps) * 1e6, 0),
      fixed((r.rawCpuSeconds / r.steps) * 1e6, 0),
      fixed(r.serverSeconds / r.rawCpuSeconds, 2),
      pct(r.clientCpu),
      pct(r.serverCpu),
      pct(r.otherCpu),
      String(r.errors),
      String(r.mismatches),
    ]),
  );
}

function printSummary(results: readonly CaseResult[], ceilings: ReadonlyMap<string, number>): void {
  console.log('\nsteps/s against raw ORT at full batches (every slot busy, no null rows; mean of a measurement after each turn of rounds),\nand oldest against each direct:');
  for (const [model, ceiling] of ceilings) {
    console.log(`  ${model}: raw ORT at full batches ${fixed(ceiling, 0)} rows/s`);
    for (const protocol of PROTOCOLS) {
      const mine = results.filter((r) => r.model === model && r.protocol === protocol);
      const of = (strategy: Strategy): CaseResult | undefined => mine.find((r) => r.strategy === strategy);
      const oldest = of('oldest');
      const versus = (strategy: Strategy): string[] => {
        const other = of(strategy);
        return oldest && other ? [`oldest/${strategy} ${fixed(served(oldest) / served(other), 2)}`] : [];
      };
      const parts = mine.map((r) => `${r.strategy} ${fixed(served(r) / ceiling, 2)}`);
      console.log(`    ${protocol}: ${[...parts, ...versus('direct'), ...versus('direct_wait')].join(', ')}`);
    }
  }
}

const LEGEND = [
  `steps/s: completed steps per second over ${ROUNDS} round(s) of ${SEQUENCES} concurrent sequences x ${STEPS} steps, closed loop per sequence;`,
  '  http: binary tensor extension, a keep-alive connection per sequence; grpc: a ModelStreamInfer stream per sequence',
  'p50/p99: per-step latency the client saw; busy: share of the rounds the instances spent in ORT runs',
  '  (batch_stats compute_infer over instances x wall time)',
  'steps/exec: inference_count / execution_count (real steps per batch); rows/exec: rows executed per batch, the direct',
  "  strategy's null rows included; batch sizes: the most frequent executed sizes, share of executions",
  'raw ORT/s: the steps over the time onnxruntime-node in this process takes for the same batches (null rows included),',
  "  measured right after each round, as many at once as the model has instances, with the server's intra-op threads;",
  '  vs raw = steps/s / raw ORT/s',
  'srv µs: server CPU (all threads) per step; ORT µs: raw ORT CPU per step for the same batches; ratio = srv / ORT µs:',
  '  what serving costs over the model runs, in CPU time (steadier than wall time when the machine is shared)',
  'cli/srv CPU: the clients (this process) / the server over the rounds, as a share of one core (they share the machine);',
  '  other: CPU the rest of the machine used meanwhile (anything well above 0 makes the row unreliable)',
  'err: failed steps; bad: answers that differ from raw ORT run with the state carried by hand (must be 0)',
].join('\n');

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!(STEPS >= 2)) throw new Error('BENCH_STEPS must be at least 2 (a START step and an END step)');
  const started = Date.now();
  const repository = tempRepository('nereid-seqbench-');
  const generated = tempRepository('nereid-seqbench-files-');
  const models = sequenceModels(generated, ONLY);
  const strategies = ONLY_STRATEGIES.length ? STRATEGIES.filter((s) => ONLY_STRATEGIES.includes(s)) : STRATEGIES;
  writeStrategies(repository, models, strategies);
  const httpPort = Number(process.env['BENCH_HTTP_PORT'] ?? (await freePort()));
  const grpcPort = Number(process.env['BENCH_GRPC_PORT'] ?? (await freePort()));
  const nereid = await startChild(
    process.execPath,
    ['packages/server/bin/nereid.js', '--model-repository', repository, '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--allow-metrics', 'false'],
    /Started HTTPService/,
  );
  const server = { pid: nereid.pid!, httpPort, grpcPort };
  let stopping = false;
  nereid.once('exit', (code, signal) => {
    if (!stopping) console.log(`the server exited during the run (code ${code}, signal ${signal})`);
  });
  const results: CaseResult[] = [];
  const ceilings = new Map<string, number>();
  let id = 1;
  const nextId = (): number => {
    const first = id;
    id += SEQUENCES;
    return first;
  };
  console.log(
    `Sequence batching benchmark: ${SEQUENCES} sequences x ${STEPS} steps, ${ROUNDS} measured round(s) after one warm-up, node ${process.version}${QUICK ? ' (quick)' : ''}\n`,
  );
  console.log(line('model protocol strategy', COLUMNS));
  try {
    for (const model of models) {
      const reference = await referenceOutputs(model, SEQUENCES, STEPS);
      const ort = await OrtBatches.open({ file: model.file, inputs: ortInputs(model) }, ORT_MS);
      const fullBatch: number[] = [];
      try {
        for (const protocol of PROTOCOLS) {
          for (const result of await runStrategies(server, protocol, model, strategies, reference, ort, nextId, fullBatch)) {
            results.push(result);
            printRow(result);
          }
        }
        ceilings.set(model.name, fullBatch.reduce((sum, rate) => sum + rate, 0) / fullBatch.length);
      } finally {
        await ort.close();
      }
    }
  } finally {
    stopping = true;
    await stopChild(nereid);
    removeTempRepositories();
  }
  printSummary(results, ceilings);
  console.log(`\n${LEGEND}\n(run took ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (results.some((r) => r.errors || r.mismatches)) process.exitCode = 1;
}

await main();
