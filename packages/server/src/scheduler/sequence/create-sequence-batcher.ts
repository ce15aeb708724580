import type { ModelConfig, ModelSequenceBatching } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { ExecutionListener } from '../default-scheduler.js';
import { batchKeyOf, refuseRaggedBatching } from '../dynamic/batch-key.js';
import type { FormedBatch } from '../dynamic/dynamic-batcher.js';
import type { SchedulerClock } from '../scheduler-clock.js';
import type { ExecutionTarget } from '../scheduler.js';
import { SequenceControls } from './controls.js';
import { DirectSlots } from './direct-slots.js';
import type { StateSpec } from './implicit-state.js';
import { OldestSlots } from './oldest-slots.js';
import { SequenceBatcher } from './sequence-batcher.js';
import { SequenceRequestBuilder } from './sequence-request.js';

export interface SequenceBatcherContext {
  readonly config: ModelConfig;
  readonly batcher: ModelSequenceBatching;
  readonly states: readonly StateSpec[];
  readonly targets: readonly ExecutionTarget[];
  readonly onExecution: ExecutionListener;
  readonly onBatch?: (batch: FormedBatch) => void;
  readonly logger: Logger;
  readonly clock: SchedulerClock;
}

/**
 * The sequence batcher for `sequence_batching`: controls and states checked, one slot group per
 * instance with the strategy the config names (direct when it names none, as Triton). Throws
 * INVALID_ARG for settings Nereid cannot honour.
 */
export function createSequenceBatcher(context: SequenceBatcherContext): SequenceBatcher {
  const { config, batcher, targets, clock } = context;
  refuseRaggedBatching(config);
  if (batcher.iterativeSequence) {
    throw invalidArg(`model '${config.name}': sequence_batching.iterative_sequence is not supported by Nereid yet`);
  }
  const batching = config.maxBatchSize > 0;
  const maxBatchSize = Math.max(1, config.maxBatchSize);
  const controls = new SequenceControls(batcher, config.name, batching);
  const builder = new SequenceRequestBuilder(controls, context.states, batching, batchKeyOf(config));
  const scheduler = new SequenceBatcher({
    modelName: config.name,
    controls,
    maxIdleNs: Number(batcher.maxSequenceIdleMicroseconds) * 1000,
    clock,
    logger: context.logger,
  });
  const strategy = batcher.strategyChoice;
  if (strategy.case === 'oldest') {
    const oldest = strategy.value;
    const slotCount = oldest.maxCandidateSequences > 0 ? oldest.maxCandidateSequences : maxBatchSize;
    scheduler.attach(
      targets.map(
        (target) =>
          new OldestSlots(target, {
            modelName: config.name,
            oldest,
            slotCount,
            maxBatchSize,
            builder,
            owner: scheduler,
            clock,
            onExecution: context.onExecution,
            ...(context.onBatch ? { onBatch: context.onBatch } : {}),
          }),
      ),
    );
    return scheduler;
  }
  const direct = strategy.case === 'direct' ? strategy.value : undefined;
  const maxQueueDelayNs = Number(direct?.maxQueueDelayMicroseconds ?? 0n) * 1000;
  const minimumSlotUtilization = direct?.minimumSlotUtilization ?? 0;
  if (maxQueueDelayNs > 0 && minimumSlotUtilization > 0) clock.prepareTimers?.();
  scheduler.attach(
    targets.map(
      (target) =>
        new DirectSlots(target, {
          slotCount: maxBatchSize,
          builder,
          owner: scheduler,
          clock,
          onExecution: context.onExecution,
          maxQueueDelayNs,
          minimumSlotUtilization,
          maxBatchSize,
        }),
    ),
  );
  return scheduler;
}
