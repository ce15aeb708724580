/**
 * @nereid/analyzer: model_analyzer's profile for Nereid and Triton (`profile`, `nereid-analyzer`).
 * Named exports only; types apart from values.
 */
export { profile, chosenConfigs } from './profile.js';
export { profileModel } from './profiler.js';
export { PerfMeasurer, loadPoint } from './perf-measurer.js';
export { searchSpace, powersOfTwo, range, SEARCH_DEFAULTS } from './search/space.js';
export { throughputGainValid, lastIncreasedThroughput, THROUGHPUT_MINIMUM_GAIN, THROUGHPUT_MINIMUM_CONSECUTIVE_TRIES } from './search/early-exit.js';
export { applyVariant, settingsOf, settingsKey, settingsLabel } from './search/variants.js';
export { paretoFront } from './analysis/pareto.js';
export { recommend, bestRow, meetsConstraints } from './analysis/recommend.js';
export { rowsCsv, rowCells, ROW_COLUMNS, megabytes } from './report/rows.js';
export { htmlReport } from './report/html-report.js';
export { summaryLines } from './report/summary-table.js';
export { configPbtxt } from './output/config-pbtxt.js';
export { writeOutputRepository } from './output/output-repository.js';
export { startLocalServer, defaultServerPath } from './server/local-server.js';
export { ProcessRssSampler, MetricsSampler, NoMemorySampler, remoteMemorySampler, parseVmRss, metricValue } from './server/memory.js';

export type { ProfileOptions, ProfileOutputs } from './profile.js';
export type { ProfileTarget, SweepSettings } from './profiler.js';
export type { LoadPoint, Measurer } from './measure.js';
export type { SearchBounds } from './search/space.js';
export type { VariantSpec } from './search/variants.js';
export type { MemorySampler } from './server/memory.js';
export type { LocalServer, LocalServerOptions } from './server/local-server.js';
export type { OutputRepositoryOptions } from './output/output-repository.js';
export type * from './types.js';
