/**
 * Memory sources sampled while a load level is measured; each keeps the peak it saw. Locally the
 * resident set (`VmRSS` in /proc/<pid>/status) of the server process and its children; remotely the server's Prometheus
 * endpoint: `process_resident_memory_bytes` when the server exposes it, else Triton's
 * `nv_cpu_memory_used_bytes` (the host's used RAM, what model_analyzer records as cpu_used_ram).
 */
import { readFile, readdir } from 'node:fs/promises';
import type { MemorySourceInfo } from '../types.js';

/** Samples one memory figure; `stop` resolves the peak in bytes (0 when nothing could be read). */
export interface MemorySampler {
  readonly info: MemorySourceInfo;
  start(): void;
  stop(): Promise<number>;
}

/** Calls `read` every `intervalMs` between start and stop and keeps the largest value. */
abstract class PeakSampler implements MemorySampler {
  abstract readonly info: MemorySourceInfo;
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> = Promise.resolve();

  constructor(private readonly intervalMs: number) {}

  protected abstract read(): Promise<number | undefined>;

  start(): void {
    this.#peak = 0;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.intervalMs);
  }

  async stop(): Promise<number> {
    clearInterval(this.#timer);
    this.#sample();
    await this.#pending;
    return this.#peak;
  }

  #sample(): void {
    this.#pending = this.#pending.then(async () => {
      const value = await this.read().catch(() => undefined);
      if (value !== undefined && value > this.#peak) this.#peak = value;
    });
  }
}

/** The process and its descendants (children listed in /proc/<pid>/task/<tid>/children). */
export async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop() as number;
    out.push(next);
    const tasks = await readdir(`/proc/${next}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${next}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ')) if (child.trim() !== '') pending.push(Number(child));
    }
  }
  return out;
}

/** VmRSS of a local process plus its descendants (e.g. the Python backend's stub processes). */
export class ProcessRssSampler extends PeakSampler {
  readonly info: MemorySourceInfo;

  constructor(private readonly pid: number, intervalMs = 100) {
    super(intervalMs);
    this.info = {
      name: `/proc/${pid}/status VmRSS`,
      description: 'resident set size of the server process the analyzer started and of its child processes, peak while measuring',
    };
  }

  protected async read(): Promise<number | undefined> {
    let total = 0;
    for (const pid of await processTree(this.pid)) {
      total += parseVmRss(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')) ?? 0;
    }
    return total > 0 ? total : undefined;
  }
}

/** `VmRSS:   123456 kB` → bytes. */
export function parseVmRss(status: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Metrics tried in order on a remote server, with what each measures. */
export const REMOTE_MEMORY_METRICS: ReadonlyArray<readonly [string, string]> = [
  ['process_resident_memory_bytes', 'resident memory of the server process, from its metrics endpoint'],
  ['nv_cpu_memory_used_bytes', "the server host's used RAM (Triton's CPU memory metric), from the metrics endpoint"],
];

/** The value of an unlabelled (or first) sample of `metric` in Prometheus text, if present. */
export function metricValue(text: string, metric: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.replace(/^\{[^}]*\}/, '').trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/** A metric of a remote server's Prometheus endpoint. */
export class MetricsSampler extends PeakSampler {
  readonly info: MemorySourceInfo;

  constructor(private readonly url: string, private readonly metric: string, description: string, intervalMs = 250) {
    super(intervalMs);
    this.info = { name: metric, description: `${description} (${url})` };
  }

  protected async read(): Promise<number | undefined> {
    const response = await fetch(this.url);
    return metricValue(await response.text(), this.metric);
  }
}

/** Nothing to sample: every figure is 0 and the report says why. */
export class NoMemorySampler implements MemorySampler {
  constructor(readonly info: MemorySourceInfo) {}
  start(): void {}
  async stop(): Promise<number> {
    return 0;
  }
}

/** The first of REMOTE_MEMORY_METRICS the endpoint serves, or a NoMemorySampler saying why not. */
export async function remoteMemorySampler(metricsUrl: string): Promise<MemorySampler> {
  let text: string;
  try {
    const response = await fetch(metricsUrl);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return new NoMemorySampler({ name: 'none', description: `metrics endpoint ${metricsUrl} unavailable (${why})` });
  }
  for (const [metric, description] of REMOTE_MEMORY_METRICS) {
    if (metricValue(text, metric) !== undefined) return new MetricsSampler(metricsUrl, metric, description);
  }
  const names = REMOTE_MEMORY_METRICS.map(([metric]) => metric).join(' or ');
  return new NoMemorySampler({ name: 'none', description: `${metricsUrl} serves neither ${names}` });
}
