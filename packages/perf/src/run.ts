import { connect, modelInfo } from './connection.js';
import { inlineInputs, prepareRequests } from './inputs.js';
import { requestChannel, startConcurrency, startRequestRate, type RequestChannel, type RunningLoad } from './load.js';
import { isStable, measureWindow, mergeWindows, STABILITY_WINDOW, type MeasureSettings, type Window } from './measure.js';
import { levelLine, levelReport, passLine, settingsLines, summaryLines } from './report.js';
import { setUpSystemSharedMemory, type SharedMemoryRequests } from './shm.js';
import { GENERIC_ERROR, OPTION_ERROR, PerfError, type LoadRange, type PerfHooks, type PerfOptions, type PerfResult, type PerfRow } from './types.js';

/** The levels of a linear sweep, as perf_analyzer's do/while walks them (end 0: until the latency limit). */
export function levels(range: LoadRange, limit = 10_000): number[] {
  const out: number[] = [];
  let value = range.start;
  do {
    out.push(value);
    value = Number((value + range.step).toPrecision(12));
  } while ((value <= range.end || range.end === 0) && out.length < limit);
  return out;
}

/** Validates options and fills perf_analyzer's defaults. */
export function resolveOptions(options: PerfOptions) {
  const protocol = options.protocol ?? 'http';
  const mode: 'concurrency' | 'request_rate' = options.requestRateRange !== undefined ? 'request_rate' : 'concurrency';
  const range = options.requestRateRange ?? options.concurrencyRange ?? { start: 1, end: 1, step: 1 };
  const resolved = {
    model: options.model,
    version: options.modelVersion ?? '',
    protocol,
    url: options.url,
    batchSize: options.batchSize ?? 1,
    shapes: options.shapes ?? {},
    mode,
    range,
    distribution: options.requestDistribution ?? 'constant',
    windowMs: options.measurementIntervalMs ?? 5000,
    countWindows: (options.measurementMode ?? 'time_windows') === 'count_windows',
    requestCount: options.measurementRequestCount ?? 50,
    stability: (options.stabilityPercentage ?? 10) / 100,
    maxTrials: options.maxTrials ?? 10,
    percentile: options.percentile ?? -1,
    latencyThresholdMs: options.latencyThresholdMs ?? 0,
    inputData: options.inputData ?? 'random',
    streaming: options.streaming ?? false,
    async: options.async ?? false,
    sharedMemory: options.sharedMemory ?? 'none',
    outputSharedMemorySize: options.outputSharedMemorySize ?? 102400,
    warmupRequestCount: options.warmupRequestCount ?? 0,
    headers: options.headers ?? {},
    verbose: options.verbose ?? false,
  };
  const bad = (message: string) => new PerfError(message, OPTION_ERROR);
  if (options.model === '') throw bad('-m flag must be specified');
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize <= 0) throw bad('batch size must be > 0');
  if (options.requestRateRange !== undefined && options.concurrencyRange !== undefined) throw bad('Cannot specify --concurrency-range and --request-rate-range simultaneously.');
  if (!(range.start > 0) || !(range.step > 0) || range.end < 0 || (mode === 'concurrency' && ![range.start, range.end, range.step].every(Number.isInteger))) {
    throw bad(`invalid ${mode === 'concurrency' ? '--concurrency-range' : '--request-rate-range'} ${range.start}:${range.end}:${range.step}`);
  }
  if (range.end === 0 && resolved.latencyThresholdMs === 0) throw bad("The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously");
  if (!(resolved.windowMs > 0)) throw bad('measurement window must be > 0 in msec');
  if (!(resolved.stability > 0)) throw bad('stability percentage must be > 0');
  if (!Number.isInteger(resolved.maxTrials) || resolved.maxTrials <= 0) throw bad('max trials must be > 0');
  if (resolved.percentile !== -1 && !(resolved.percentile > 0 && resolved.percentile < 100)) throw bad('percentile must be -1 for not reporting or in range (0, 100)');
  if (resolved.streaming && protocol !== 'grpc') throw bad('Streaming is only allowed with gRPC protocol.');
  if (resolved.countWindows && !(resolved.requestCount > 0)) throw bad('measurement request count must be > 0');
  return resolved;
}

export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/**
 * Measures `options.model` across the concurrency (or request-rate) range as perf_analyzer does and
 * returns one row per stable level. Report text goes to `hooks.log` (stdout's lines in the CLI),
 * warnings to `hooks.warn`. Throws PerfError (with perf_analyzer's exit code) on bad options, an
 * unreachable server, an unknown model or failing requests.
 */
export async function runPerf(options: PerfOptions, hooks: PerfHooks = {}): Promise<PerfResult> {
  const o = resolveOptions(options);
  const log = hooks.log ?? (() => undefined);
  const warn = hooks.warn ?? (() => undefined);
  // A function: a property read would be narrowed by TypeScript across awaits.
  const aborted = (): boolean => hooks.signal?.aborted === true;
  const connection = connect(o.protocol, o.url, o.headers);
  let shm: SharedMemoryRequests | undefined;
  let channel: RequestChannel | undefined;
  try {
    const info = await modelInfo(connection, o.model, o.version);
    if (info.maxBatchSize === 0 && o.batchSize > 1) throw new PerfError('can not specify batch size > 1 as the model does not support batching', GENERIC_ERROR);
    if (info.decoupled && !o.streaming && o.protocol === 'grpc') throw new PerfError('can not use a decoupled model without --streaming over gRPC', OPTION_ERROR);
    if (info.decoupled && o.protocol === 'http') throw new PerfError('decoupled models are not supported over HTTP; use -i grpc --streaming', OPTION_ERROR);
    const prepared = prepareRequests(info, o.batchSize, o.inputData, o.shapes);
    let inputs = prepared.map(inlineInputs);
    let outputs = info.metadata.outputs.map((output) => ({ name: output.name, binary: true }));
    if (o.sharedMemory === 'system') {
      shm = await setUpSystemSharedMemory(connection, info, prepared, o.outputSharedMemorySize * o.batchSize);
      inputs = shm.inputs;
      outputs = shm.outputs as typeof outputs;
    }
    const bytes = prepared.map((step) => step.map((input) => input.bytes));
    channel = requestChannel(connection, { model: o.model, version: o.version, inputs, bytes, outputs, headers: o.headers, streaming: o.streaming, decoupled: info.decoupled });
    log(
      settingsLines({
        batchSize: o.batchSize,
        countWindows: o.countWindows,
        requestCount: o.requestCount,
        windowMs: o.windowMs,
        percentile: o.percentile,
        async: o.async,
        latencyThresholdMs: o.latencyThresholdMs,
        mode: o.mode,
        rangeStart: o.range.start,
        rangeEnd: o.range.end,
        distribution: o.distribution,
        decoupled: info.decoupled,
        warmupRequestCount: o.warmupRequestCount,
      }).join('\n'),
    );
    if (o.warmupRequestCount > 0) {
      const sender = channel.open();
      try {
        for (let i = 0; i < o.warmupRequestCount; i++) await sender.send(i);
      } catch (error) {
        throw new PerfError(`Failed to retrieve results from inference request.\n${errorText(error)}`, GENERIC_ERROR);
      } finally {
        sender.close();
      }
    }
    const settings: MeasureSettings = {
      windowMs: o.windowMs,
      countWindows: o.countWindows,
      requestCount: o.requestCount,
      batchSize: o.batchSize,
      percentile: o.percentile,
      stabilityThreshold: o.stability,
      maxTrials: o.maxTrials,
      latencyThresholdMs: o.latencyThresholdMs,
      async: o.async,
    };
    const loads = levels(o.range);
    const rows: PerfRow[] = [];
    const allRows: PerfRow[] = [];
    let stoppedReason: string | undefined;
    let lastStable = true;
    for (const [index, load] of loads.entries()) {
      if (aborted()) {
        stoppedReason = 'Received exit signal.';
        warn(stoppedReason);
        break;
      }
      hooks.onLevelStart?.(load, index, o.range.end === 0 ? 0 : loads.length);
      log(levelLine(o.mode, load));
      const running: RunningLoad = o.mode === 'concurrency' ? startConcurrency(channel, load) : startRequestRate(channel, load, o.distribution);
      const windows: Window[] = [];
      let stable = false;
      try {
        for (let trial = 0; trial < o.maxTrials; trial++) {
          const window = await measureWindow(connection, o.model, o.version, running, settings, hooks.onTick && ((fraction, completed) => hooks.onTick!(load, trial + 1, fraction, completed)));
          const failed = running.failure();
          if (failed !== undefined) {
            warn(`Thread [${failed.worker}] had error: ${errorText(failed.error)}`);
            throw new PerfError('Failed to retrieve results from inference request.', GENERIC_ERROR);
          }
          windows.push(window);
          const avgUs = Math.floor(window.avgLatencyNs / 1000);
          hooks.onWindow?.({ load, trial: trial + 1, maxTrials: o.maxTrials, requestCount: window.latenciesNs.length, throughput: window.throughput, avgLatencyUs: avgUs, stabilizingLatencyUs: Math.floor(window.stabilizingLatencyNs / 1000) });
          if (o.verbose) log(passLine(trial + 1, window.throughput, avgUs, window.stdUs, o.percentile, Math.floor(window.stabilizingLatencyNs / 1000)));
          stable = isStable(windows, o.stability);
          if (stable || aborted()) break;
          if (o.latencyThresholdMs > 0 && windows.length >= STABILITY_WINDOW && windows.slice(-STABILITY_WINDOW).some((w) => w.stabilizingLatencyNs >= o.latencyThresholdMs * 1e6)) break;
        }
      } finally {
        await running.stop();
      }
      if (!stable && o.async && isStable(windows, o.stability, false)) {
        warn('Warning: Request latency is not stabilizing. Please try lowering the request rate.');
        stable = true;
      }
      const row = mergeWindows(windows.slice(-STABILITY_WINDOW), { mode: o.mode, load, batchSize: o.batchSize, percentile: o.percentile, cacheEnabled: info.responseCacheEnabled }, stable, windows.length);
      allRows.push(row);
      lastStable = stable;
      if (!stable && aborted()) {
        // Interrupted mid-level: as perf_analyzer, report the levels done and stop.
        stoppedReason = 'Received exit signal.';
        warn(stoppedReason);
        break;
      }
      if (o.latencyThresholdMs > 0 && row.stabilizingLatencyUs >= o.latencyThresholdMs * 1000) {
        stoppedReason = `Measured latency went over the set limit of ${o.latencyThresholdMs} msec. `;
        warn(stoppedReason);
        break;
      }
      if (!stable) {
        stoppedReason =
          o.mode === 'request_rate'
            ? 'Failed to obtain stable measurement.'
            : `Failed to obtain stable measurement within ${o.maxTrials} measurement windows for concurrency ${load}. Please try to increase the ${o.countWindows ? '--measurement-request-count' : '--measurement-interval'}.`;
        warn(stoppedReason);
        break;
      }
      rows.push(row);
      for (const line of levelReport(row, o.protocol, o.percentile, info.decoupled, info.responseCacheEnabled)) log(line);
      hooks.onLevelEnd?.(row);
    }
    const result: PerfResult = {
      model: o.model,
      modelVersion: info.version,
      protocol: o.protocol,
      mode: o.mode,
      batchSize: o.batchSize,
      decoupled: info.decoupled,
      responseCacheEnabled: info.responseCacheEnabled,
      rows,
      allRows,
      stable: allRows.every((r) => r.stable) && lastStable,
      ...(stoppedReason === undefined ? {} : { stoppedReason }),
    };
    for (const line of summaryLines(result, o.percentile)) log(line);
    return result;
  } finally {
    channel?.close();
    await shm?.release();
    connection.close();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
