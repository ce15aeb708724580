/**
 * CPU utilisation and memory as Triton's Metrics::PollCpuMetrics reads them (core `metrics.cc`):
 * the aggregate `cpu` line of /proc/stat (busy = user + nice + system + irq + softirq + steal, idle
 * = idle + iowait, utilisation over the last interval) and MemTotal / MemTotal − MemAvailable from
 * /proc/meminfo. Linux only; elsewhere the values stay 0, as Triton's do when parsing fails.
 */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
}

export interface MemoryBytes {
  readonly total: number;
  readonly used: number;
}

/** The aggregate CPU times of /proc/stat's first line, or undefined when it is not there. */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.slice(0, text.indexOf('\n') >>> 0);
  if (!line.startsWith('cpu ')) return undefined;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 4 || fields.some((value) => !Number.isFinite(value))) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/** MemTotal and MemTotal − MemAvailable, in bytes, or undefined when either is missing or inconsistent. */
export function parseMemInfo(text: string): MemoryBytes | undefined {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (match) kib.set(match[1]!, Number(match[2]));
  }
  const total = kib.get('MemTotal');
  const available = kib.get('MemAvailable');
  if (total === undefined || available === undefined || available > total) return undefined;
  return { total: total * 1024, used: (total - available) * 1024 };
}

/** Busy share of the time between two readings, in [0, 1] (0 when no time passed). */
export function cpuUtilization(now: CpuTimes, before: CpuTimes): number {
  const busy = Math.max(0, now.busy - before.busy);
  const idle = Math.max(0, now.idle - before.idle);
  return busy + idle === 0 ? 0 : busy / (busy + idle);
}

/** The latest CPU readings, refreshed every `intervalMs` on an unref'd timer. */
export class CpuMetricsPoller {
  utilization = 0;
  memory: MemoryBytes = { total: 0, used: 0 };
  #last: CpuTimes | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.#last = readCpuTimes();
    this.memory = readMemory() ?? this.memory;
    this.#timer = setInterval(() => this.poll(), Math.max(1, intervalMs));
    this.#timer.unref();
  }

  poll(): void {
    const now = readCpuTimes();
    if (now !== undefined && this.#last !== undefined) this.utilization = cpuUtilization(now, this.#last);
    if (now !== undefined) this.#last = now;
    this.memory = readMemory() ?? { total: 0, used: 0 };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function readCpuTimes(): CpuTimes | undefined {
  return readProc('/proc/stat', parseProcStat);
}

function readMemory(): MemoryBytes | undefined {
  return readProc('/proc/meminfo', parseMemInfo);
}

function readProc<T>(path: string, parse: (text: string) => T | undefined): T | undefined {
  try {
    return parse(readFileSync(path, 'latin1'));
  } catch {
    return undefined;
  }
}
