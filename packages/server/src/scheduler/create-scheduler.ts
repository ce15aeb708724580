import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { DefaultScheduler, type ExecutionListener } from './default-scheduler.js';
import { AdaptiveDelay } from './dynamic/adaptive-delay.js';
import { batchKeyOf, refuseRaggedBatching } from './dynamic/batch-key.js';
import { DynamicBatcher, type FormedBatch } from './dynamic/dynamic-batcher.js';
import { processClock, type SchedulerClock } from './scheduler-clock.js';
import { ensembleSteps } from '../config/ensemble-graph.js';
import { EnsembleScheduler, type StepRunner } from './ensemble/ensemble-scheduler.js';
import { createSequenceBatcher } from './sequence/create-sequence-batcher.js';
import type { StateSpec } from './sequence/implicit-state.js';
import type { ExecutionTarget, Scheduler } from './scheduler.js';

/** Model parameter that turns on Nereid's adaptive queue delay (`string_value: "true"`). */
export const ADAPTIVE_DELAY_PARAMETER = 'dynamic_batching_adaptive_delay';

export interface SchedulerContext {
  readonly config: ModelConfig;
  readonly targets: readonly ExecutionTarget[];
  readonly onExecution: ExecutionListener;
  readonly logger: Logger;
  readonly clock?: SchedulerClock;
  /** Implicit states of a sequence model, read at load (sequence/implicit-state.ts). */
  readonly sequenceStates?: readonly StateSpec[] | undefined;
  /** An ensemble's way to run its steps on the member models. */
  readonly runStep?: StepRunner | undefined;
}

/**
 * The scheduler the configuration asks for: the dynamic batcher for `dynamic_batching`, otherwise
 * the default scheduler (each request on its own). Throws INVALID_ARG for settings it cannot honour.
 */
export function createScheduler(context: SchedulerContext): Scheduler {
  const { config, targets, onExecution, logger } = context;
  const scheduling = config.schedulingChoice;
  if (scheduling.case === 'ensembleScheduling') {
    if (context.runStep === undefined) throw invalidArg(`ensemble '${config.name}' cannot run its steps here`);
    return new EnsembleScheduler({
      ensembleName: config.name,
      steps: ensembleSteps(config),
      inputs: config.input.map((input) => input.name),
      maxInflightRequests: scheduling.value.maxInflightRequests,
      runStep: context.runStep,
    });
  }
  if (scheduling.case === 'sequenceBatching') {
    return createSequenceBatcher({
      config,
      batcher: scheduling.value,
      states: context.sequenceStates ?? [],
      targets,
      onExecution,
      onBatch: (batch) => logBatch(logger, config.name, batch),
      logger,
      clock: context.clock ?? processClock,
    });
  }
  if (scheduling.case !== 'dynamicBatching') return new DefaultScheduler(targets, onExecution);
  const batching = scheduling.value;
  refuseRaggedBatching(config);
  const maxBatchSize = Math.max(1, config.maxBatchSize);
  return new DynamicBatcher(targets, {
    modelName: config.name,
    batching,
    maxBatchSize,
    batchKey: batchKeyOf(config),
    clock: context.clock ?? processClock,
    onExecution,
    adaptive: adaptiveDelayOf(config, Number(batching.maxQueueDelayMicroseconds), maxBatchSize),
    onBatch: (batch) => logBatch(logger, config.name, batch),
  });
}

/** At verbose level 1, what each batch held and why it closed. */
function logBatch(logger: Logger, model: string, batch: FormedBatch): void {
  // Checked first: the message would otherwise be built for every batch.
  if (logger.settings.verboseLevel < 1) return;
  logger.verbose(
    1,
    `model '${model}': batch of ${batch.rows} (${batch.requests} requests, priority ` +
      `${batch.levels().join(',')}) to ${batch.instance}, closed by ${batch.reason}`,
  );
}

function adaptiveDelayOf(config: ModelConfig, ceilingUs: number, maxBatchSize: number): AdaptiveDelay | undefined {
  const parameter = config.parameters[ADAPTIVE_DELAY_PARAMETER]?.stringValue.trim().toLowerCase();
  if (parameter === undefined || parameter === 'false' || parameter === '0' || parameter === '') return undefined;
  if (parameter !== 'true' && parameter !== '1') {
    throw invalidArg(`model '${config.name}': parameter '${ADAPTIVE_DELAY_PARAMETER}' must be "true" or "false", got '${parameter}'`);
  }
  if (ceilingUs <= 0) {
    throw invalidArg(
      `model '${config.name}': parameter '${ADAPTIVE_DELAY_PARAMETER}' needs dynamic_batching.max_queue_delay_microseconds > 0 ` +
        '(the most the adaptive delay may hold a request)',
    );
  }
  return new AdaptiveDelay(ceilingUs * 1000, maxBatchSize);
}
