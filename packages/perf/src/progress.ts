import { cppNumber } from './report.js';
import type { PerfHooks, PerfRow, WindowInfo } from './types.js';

/**
 * The progress display on stderr while measuring: an animated bar on one line when stderr is a
 * terminal (redrawn at most 10 times a second, cleared before any report line), one plain line per
 * measurement window otherwise.
 */
export interface Progress extends Pick<PerfHooks, 'onLevelStart' | 'onTick' | 'onWindow' | 'onLevelEnd'> {
  /** Erases the animated line (call before writing to stdout on the same terminal). */
  clear(): void;
}

const BAR = 24;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createProgress(stream: NodeJS.WriteStream, mode: 'concurrency' | 'request_rate'): Progress {
  const tty = stream.isTTY === true;
  const name = (load: number) => (mode === 'concurrency' ? `concurrency ${load}` : `request rate ${cppNumber(load)}`);
  let shown = false;
  let frame = 0;
  let levelIndex = 0;
  let levelCount = 0;
  let last = '';
  const clear = () => {
    if (tty && shown) {
      stream.write('\r\x1b[2K');
      shown = false;
    }
  };
  const draw = (text: string) => {
    if (!tty) return;
    // Kept to one terminal row: a wrapped line could not be redrawn in place.
    const width = stream.columns > 0 ? stream.columns - 1 : text.length;
    stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
    shown = true;
  };
  return {
    clear,
    onLevelStart(load, index, levels) {
      levelIndex = index + 1;
      levelCount = levels;
      if (!tty) stream.write(`nereid-perf: measuring ${name(load)}${levels > 0 ? ` (level ${levelIndex} of ${levels})` : ''}\n`);
    },
    onTick(load, trial, fraction, completed) {
      if (!tty) return;
      const filled = Math.max(0, Math.min(BAR, Math.round(fraction * BAR)));
      const level = levelCount > 0 ? ` [${levelIndex}/${levelCount}]` : '';
      draw(`${SPINNER[frame++ % SPINNER.length]} ${name(load)}${level} window ${trial} ${'█'.repeat(filled)}${'░'.repeat(BAR - filled)} ${String(Math.round(fraction * 100)).padStart(3)}%  ${completed} requests${last}`);
    },
    onWindow(w: WindowInfo) {
      last = `  (last: ${cppNumber(w.throughput)} infer/sec, ${w.stabilizingLatencyUs} usec)`;
      if (!tty) stream.write(`nereid-perf: ${name(w.load)} window ${w.trial}/${w.maxTrials}: ${w.requestCount} requests, ${cppNumber(w.throughput)} infer/sec, latency ${w.stabilizingLatencyUs} usec\n`);
    },
    onLevelEnd(row: PerfRow) {
      last = '';
      clear();
      if (!tty) stream.write(`nereid-perf: ${name(row.load)} done: ${cppNumber(row.throughput)} infer/sec, latency ${row.stabilizingLatencyUs} usec\n`);
    },
  };
}
