/**
 * @nereid/perf: perf_analyzer's measurements for Nereid and Triton from Node.js (`runPerf`), its
 * command line (`nereid-perf`, `parsePerfArgs`), and small SVG charts shared with the model analyzer.
 */
export { runPerf } from './run.js';
export { parsePerfArgs } from './args.js';
export type { ParsedArgs } from './args.js';
export { PerfError, OPTION_ERROR, STABILITY_ERROR, GENERIC_ERROR } from './types.js';
export type {
  PerfOptions,
  PerfResult,
  PerfRow,
  PerfHooks,
  ServerStats,
  RawServerStats,
  WindowInfo,
  LoadRange,
  Protocol,
  RequestDistribution,
  MeasurementMode,
  SharedMemoryKind,
} from './types.js';
export * as chart from './chart.js';
export { xyChart, barChart, htmlPage, htmlTable, escapeXml, niceTicks, formatTick, PALETTE } from './chart.js';
export type { Point, Series, XYChartOptions, Bar, BarChartOptions } from './chart.js';
export { createProgress } from './progress.js';
export type { Progress } from './progress.js';
export { csvReport } from './csv.js';
export { perfChartSvg, perfChartHtml } from './perf-chart.js';
