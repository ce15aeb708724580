/**
 * Runs a model version's warm-up samples before it is ready, as Triton's TritonModelInstance::WarmUp
 * does (core backend_model_instance.cc): on every instance that takes requests (passive ones are
 * not warmed), each sample `count` times, its `batch_size` requests executed together on the
 * instance (through the rate limiter when it is on, as Triton's WARM_UP payload goes), not through
 * the model's scheduler or response cache. The first failing sample fails the load with Triton's
 * "failed to run warmup sample" message. Runs are counted in the model's statistics, as Triton's
 * backends report warm-up requests like any other.
 */
import { ServerError, toServerError } from '../errors/index.js';
import type { ModelStatisticsRecorder } from '../metrics/statistics.js';
import type { Logger } from '../observability/logger.js';
import type { ExecutionTarget } from '../scheduler/scheduler.js';
import { nowNs } from '../util/clock.js';
import { warmupFailure, type WarmupSample } from './warmup-samples.js';

export interface WarmupRun {
  readonly modelName: string;
  /** The model's instances that take requests, as the scheduler reaches them. */
  readonly targets: readonly ExecutionTarget[];
  readonly samples: readonly WarmupSample[];
  readonly statistics: ModelStatisticsRecorder;
  readonly logger: Logger;
}

/** Warms every instance at once; resolves when all are warm, rejects with the first failure. */
export async function warmUp(run: WarmupRun): Promise<void> {
  if (run.samples.length === 0) return;
  // Every instance finishes (or fails) before the caller may close them.
  const results = await Promise.allSettled(run.targets.map((target) => warmUpInstance(run, target)));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw toServerError(failed.reason);
}

async function warmUpInstance(run: WarmupRun, target: ExecutionTarget): Promise<void> {
  const { modelName, logger } = run;
  for (const sample of run.samples) {
    for (let iteration = 1; iteration <= sample.count; iteration++) {
      logger.verbose(1, `model '${modelName}' instance ${target.name} is running warmup sample '${sample.name}' for iteration ${iteration}`);
      const errors = await execute(run, target, sample);
      if (errors.length > 0) {
        logger.verbose(1, `model '${modelName}' instance ${target.name} failed to run warmup sample '${sample.name}'`);
        throw warmupFailure(sample.name, errors);
      }
    }
  }
}

/** One execution of a sample's batch; returns the error messages of its failed requests. */
async function execute(run: WarmupRun, target: ExecutionTarget, sample: WarmupSample): Promise<string[]> {
  const { requests } = sample;
  const startNs = nowNs();
  let responses: ReadonlyArray<unknown>;
  try {
    const result = await target.execute(requests);
    const { computeInputNs, computeInferNs, computeOutputNs } = result.timings;
    const rows = requests.reduce((sum, request) => sum + request.batchSize, 0);
    run.statistics.recordExecution(rows, computeInputNs, computeInferNs, computeOutputNs);
    const requestNs = nowNs() - startNs;
    responses = result.responses;
    requests.forEach((request, i) => {
      if (result.responses[i] instanceof ServerError) run.statistics.recordFailure(requestNs, 'BACKEND');
      else run.statistics.recordSuccess({ requestNs, queueNs: 0, computeInputNs, computeInferNs, computeOutputNs }, request.batchSize);
    });
  } catch (error) {
    // An execution that throws fails each of its requests (Triton's Execute responds to each).
    const failure = toServerError(error);
    responses = requests.map(() => failure);
    requests.forEach(() => run.statistics.recordFailure(nowNs() - startNs, 'BACKEND'));
  }
  const errors: string[] = [];
  for (let i = 0; i < requests.length; i++) {
    const response = responses[i];
    if (response instanceof ServerError) errors.push(response.message);
    else if (response === undefined) errors.push(`instance ${target.name} returned no response`);
  }
  return errors;
}
