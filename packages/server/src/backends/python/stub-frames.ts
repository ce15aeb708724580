import { toServerError, unavailable } from '../../errors/server-error.js';
import type { CustomMetricKind } from '../../metrics/custom-metrics.js';
import type { BackendLoadContext } from '../backend.js';
import { FrameKind, type Frame } from './frames.js';
import type { StubProcess } from './stub-process.js';
import { blsRequest, errorCodeNumber } from './wire-requests.js';

/** Frames a stub sends of its own accord: BLS calls (run through the core) and log lines. */
export function handleStubFrame(frame: Frame, stub: StubProcess, context: BackendLoadContext): void {
  if (frame.kind === FrameKind.METRIC) {
    try {
      context.customMetrics?.update(Number(frame.header['id']), frame.header['op'] as 'increment' | 'set' | 'observe', Number(frame.header['value']));
    } catch (error) {
      context.logger.error(`model '${context.modelName}': ${toServerError(error).message}`);
    }
  } else if (frame.kind === FrameKind.QUERY && frame.header['what'] === 'metric') {
    answerMetricQuery(frame, stub, context);
  } else if (frame.kind === FrameKind.BLS_CALL) {
    void runBls(frame, stub, context);
  } else if (frame.kind === FrameKind.LOG) {
    const message = String(frame.header['message']);
    switch (frame.header['level']) {
      case 1:
        context.logger.warn(message);
        break;
      case 2:
        context.logger.error(message);
        break;
      case 3:
        context.logger.verbose(1, message);
        break;
      default:
        context.logger.info(message);
    }
  }
}

/** One BLS call: the request through the core, its response or error back to the stub. */
async function runBls(frame: Frame, stub: StubProcess, context: BackendLoadContext): Promise<void> {
  const call = frame.header['call'];
  if (frame.header['decoupled'] === true) return runDecoupledBls(frame, stub, context);
  try {
    const run = context.runRequest;
    if (run === undefined) throw unavailable(`model '${context.modelName}' cannot make BLS requests without a server core`);
    const response = await run(blsRequest(frame), undefined);
    const params: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(response.parameters)) params[key] = typeof value === 'bigint' ? Number(value) : value;
    stub.send(FrameKind.BLS_RESULT, { call, params }, response.outputs);
  } catch (error) {
    const failure = toServerError(error);
    stub.send(FrameKind.BLS_RESULT, { call, error: [errorCodeNumber(failure.code), failure.message] });
  }
}

/**
 * `exec(decoupled=True)`: every response of the call as a BLS_RESULT with `more` until the final one
 * (a final flag alone is an empty response, as Triton's iterator yields it).
 */
async function runDecoupledBls(frame: Frame, stub: StubProcess, context: BackendLoadContext): Promise<void> {
  const call = frame.header['call'];
  const fail = (error: unknown): void => {
    const failure = toServerError(error);
    stub.send(FrameKind.BLS_RESULT, { call, error: [errorCodeNumber(failure.code), failure.message] });
  };
  try {
    const run = context.runStreamRequest;
    if (run === undefined) throw unavailable(`model '${context.modelName}' cannot make BLS requests without a server core`);
    await run(blsRequest(frame), { signal: undefined, listen: (event) => {
      if (event.error !== undefined) {
        fail(event.error);
        return;
      }
      const params = paramsOf(event.response?.parameters ?? {});
      stub.send(FrameKind.BLS_RESULT, { call, params, more: !event.final }, event.response?.outputs ?? []);
    } });
  } catch (error) {
    fail(error);
  }
}

function paramsOf(parameters: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) params[key] = typeof value === 'bigint' ? Number(value) : value;
  return params;
}

/** Series each stub holds: released when it ends (so a model's metrics leave with it). */
const heldSeries = new WeakMap<StubProcess, Set<number>>();

/** pb_utils.MetricFamily / Metric: a family, a series or a value, answered as a QUERY_RESULT. */
function answerMetricQuery(frame: Frame, stub: StubProcess, context: BackendLoadContext): void {
  const header = frame.header;
  const call = header['call'];
  try {
    const metrics = context.customMetrics;
    if (metrics === undefined) throw unavailable('custom metrics need the metrics endpoint (--allow-metrics)');
    let result: unknown = null;
    switch (header['op']) {
      case 'family':
        metrics.family(String(header['name']), String(header['help']), header['kind'] as CustomMetricKind);
        break;
      case 'series': {
        const id = metrics.series(String(header['family']), header['labels'] as Record<string, string>, header['buckets'] as number[]);
        let held = heldSeries.get(stub);
        if (held === undefined) {
          const owned = new Set<number>();
          heldSeries.set(stub, (held = owned));
          void stub.exited.then(() => owned.forEach((seriesId) => metrics.release(seriesId)));
        }
        held.add(id);
        result = id;
        break;
      }
      case 'value':
        result = metrics.value(Number(header['id']));
        break;
      default:
        throw unavailable(`unknown metric operation '${String(header['op'])}'`);
    }
    stub.send(FrameKind.QUERY_RESULT, { call, result });
  } catch (error) {
    stub.send(FrameKind.QUERY_RESULT, { call, error: toServerError(error).message });
  }
}
