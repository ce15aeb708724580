import { readFileSync } from 'node:fs';
import { httpOk } from './infer-calls.js';
import type { LoadResult } from './load.js';

/** /proc times are in USER_HZ ticks, 100 per second on every Linux ABI Node runs on. */
const USER_HZ = 100;

/** User + system CPU seconds of a whole process (all its threads), or of one thread of it. */
function cpuSeconds(pid: number, thread?: number): number {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  // The command name may contain spaces; fields after it start with the state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** Per-request server-side means in µs from the statistics extension, over one case. */
export interface ServerTimes {
  readonly requests: number;
  /** Time inside the core: from the frontend handing it over until the response is ready. */
  readonly requestUs: number;
  readonly queueUs: number;
  readonly computeInputUs: number;
  readonly computeInferUs: number;
  readonly computeOutputUs: number;
}

type Durations = Record<'success' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output', { count: number; ns: number }>;

async function inferenceStats(httpPort: number, model: string): Promise<Durations> {
  const answer = await httpOk(httpPort, 'GET', `/v2/models/${model}/stats`);
  const payload = JSON.parse(answer.body.toString()) as { model_stats: { inference_stats: Durations }[] };
  const stats = payload.model_stats[0]?.inference_stats;
  if (!stats) throw new Error(`no statistics for ${model}`);
  return stats;
}

function serverTimes(before: Durations, after: Durations): ServerTimes {
  const requests = after.success.count - before.success.count;
  const mean = (key: keyof Durations): number => (after[key].ns - before[key].ns) / 1000 / Math.max(1, requests);
  return {
    requests,
    requestUs: mean('success'),
    queueUs: mean('queue'),
    computeInputUs: mean('compute_input'),
    computeInferUs: mean('compute_infer'),
    computeOutputUs: mean('compute_output'),
  };
}

/** A load result with where the CPU went and what the server reports about the same requests. */
export interface Measured {
  readonly load: LoadResult;
  /** CPU used by the bench process (the client) as a share of one core, warm-up included. */
  readonly clientCpu: number;
  /** CPU used by the server process as a share of one core, warm-up included. */
  readonly serverCpu: number;
  /** CPU used by the server's main thread (its event loop; thread id = pid) alone. */
  readonly serverMainCpu: number;
  /** CPU µs per request (all threads), client and server, over the requests the server counted. */
  readonly clientUsPerRequest: number;
  readonly serverUsPerRequest: number;
  readonly server: ServerTimes;
}

/** Runs one case and records both processes' CPU and the model's statistics around it. */
export async function measure(serverPid: number, httpPort: number, model: string, run: () => Promise<LoadResult>): Promise<Measured> {
  const statsBefore = await inferenceStats(httpPort, model);
  const wallStart = process.hrtime.bigint();
  const clientStart = process.cpuUsage();
  const serverStart = cpuSeconds(serverPid);
  const mainStart = cpuSeconds(serverPid, serverPid);
  const load = await run();
  const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const client = process.cpuUsage(clientStart);
  const serverCpu = (cpuSeconds(serverPid) - serverStart) / wall;
  const serverMainCpu = (cpuSeconds(serverPid, serverPid) - mainStart) / wall;
  const server = serverTimes(statsBefore, await inferenceStats(httpPort, model));
  const clientCpu = (client.user + client.system) / 1e6 / wall;
  const perRequest = (share: number): number => (share * wall * 1e6) / Math.max(1, server.requests);
  return {
    load,
    clientCpu,
    serverCpu,
    serverMainCpu,
    clientUsPerRequest: perRequest(clientCpu),
    serverUsPerRequest: perRequest(serverCpu),
    server,
  };
}
