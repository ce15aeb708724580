/**
 * /proc readings about the serving processes and the machine: resident memory, CPU time, and how
 * busy the whole machine was (other processes share its cores with a benchmark).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** /proc times are in USER_HZ ticks, 100 per second on every Linux ABI Node runs on. */
const USER_HZ = 100;

/** A `kB` field of /proc/<pid>/status (VmRSS: resident now, VmHWM: resident at its peak), in MiB. */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** Resident memory of a process now (VmRSS), MiB. */
export const residentMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

/** The most resident memory the process ever had (VmHWM), MiB. */
export const peakResidentMiB = (pid: number): number => statusMiB(pid, 'VmHWM');

/** User + system CPU seconds of a whole process (all its threads), or of one thread of it. */
export function processCpuSeconds(pid: number, thread?: number): number {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  // The command name may contain spaces; fields after it start with the state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** CPU seconds all processes of the machine have used (every field of /proc/stat's cpu line but idle and iowait). */
export function machineBusySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  return (total - (fields[3] ?? 0) - (fields[4] ?? 0)) / USER_HZ;
}

/**
 * CPU that processes other than `pids` used while `run` ran, as a share of one core: the machine's
 * busy time minus these processes' own. Shows when something else competed for the cores.
 */
export async function otherCpuDuring<T>(pids: readonly number[], run: () => Promise<T>): Promise<{ result: T; otherCpu: number; wallSeconds: number }> {
  const ours = (): number => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const machineStart = machineBusySeconds();
  const oursStart = ours();
  const wallStart = process.hrtime.bigint();
  const result = await run();
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const other = machineBusySeconds() - machineStart - (ours() - oursStart);
  return { result, otherCpu: Math.max(0, other) / wallSeconds, wallSeconds };
}

/** Scheduler statistics of one thread: ns on a CPU, ns runnable but waiting for one, times it was scheduled in. */
export interface SchedStat {
  readonly runNs: number;
  readonly waitNs: number;
  readonly slices: number;
}

export function threadSchedStat(pid: number, thread: number): SchedStat {
  const [runNs, waitNs, slices] = readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { runNs: runNs ?? NaN, waitNs: waitNs ?? NaN, slices: slices ?? NaN };
}

/** The thread ids of a process now. */
export function threadIds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}
