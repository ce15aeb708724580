import { writeFileSync } from 'node:fs';
import { parsePerfArgs } from './args.js';
import { csvReport } from './csv.js';
import { perfChartHtml, perfChartSvg } from './perf-chart.js';
import { createProgress } from './progress.js';
import { runPerf } from './run.js';
import { GENERIC_ERROR, OPTION_ERROR, PerfError, STABILITY_ERROR } from './types.js';

/**
 * nereid-perf: perf_analyzer's command line. Report on stdout, progress and warnings on stderr;
 * exit codes as perf_analyzer's (0, 2 stability error, 3 option error, 99 generic error).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let parsed;
  try {
    parsed = parsePerfArgs(argv);
  } catch (error) {
    process.stderr.write(`${messageOf(error)}\nUsage: nereid-perf -m <model> [options]; see nereid-perf --help\n`);
    return error instanceof PerfError ? error.exitCode : OPTION_ERROR;
  }
  if (parsed.helpText !== undefined) {
    out(parsed.helpText.trimEnd());
    return 0;
  }
  if (parsed.chartFile !== undefined && !/\.(svg|html?)$/i.test(parsed.chartFile)) {
    process.stderr.write(`--chart: the file name must end in .svg or .html: ${parsed.chartFile}\n`);
    return OPTION_ERROR;
  }
  const options = parsed.options;
  const progress = createProgress(process.stderr, options.requestRateRange !== undefined ? 'request_rate' : 'concurrency');
  const controller = new AbortController();
  const onSignal = () => {
    progress.clear();
    process.stderr.write('Interrupt signal (2) received.\nWaiting for in-flight inferences to complete.\n');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  try {
    const result = await runPerf(options, {
      log: (line) => {
        progress.clear();
        out(line);
      },
      warn: (line) => {
        progress.clear();
        process.stderr.write(`${line}\n`);
      },
      onLevelStart: progress.onLevelStart!,
      onTick: progress.onTick!,
      onWindow: progress.onWindow!,
      onLevelEnd: progress.onLevelEnd!,
      signal: controller.signal,
    });
    progress.clear();
    if (parsed.csvFile !== undefined && result.rows.length > 0) writeFileSync(parsed.csvFile, csvReport(result, parsed.verboseCsv, options.percentile ?? -1));
    if (parsed.chartFile !== undefined) writeFileSync(parsed.chartFile, /\.svg$/i.test(parsed.chartFile) ? perfChartSvg(result) : perfChartHtml(result));
    // As perf_analyzer: a sweep whose first level did not stabilize is a stability error.
    if (result.stoppedReason === 'Received exit signal.') return 0;
    if (result.allRows.length >= 1 && !result.allRows[0]!.stable) {
      process.stderr.write('Failed to obtain stable measurement.\n');
      return STABILITY_ERROR;
    }
    return 0;
  } catch (error) {
    progress.clear();
    process.stderr.write(`${messageOf(error)}\n`);
    return error instanceof PerfError ? error.exitCode : GENERIC_ERROR;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
