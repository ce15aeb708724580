import { create } from '@bufbuild/protobuf';
import {
  ModelInstanceGroupSchema,
  ModelInstanceGroup_Kind,
  ModelOptimizationPolicySchema,
  ModelOptimizationPolicy_PinnedMemoryBufferSchema,
  ModelVersionPolicySchema,
  ModelVersionPolicy_LatestSchema,
  type ModelConfig,
} from '@nereid/protocol/generated/model_config_pb';

/** What normalisation needs to know about the backend that will run the model. */
export interface NormalizeContext {
  /** Instance count for a KIND_CPU group that gives none (Triton: 2 for onnxruntime). */
  readonly defaultCpuInstanceCount: number;
  /** GPU ids this server can use; empty on CPU-only machines. */
  readonly gpus: readonly number[];
}

/**
 * Fills the defaults Triton's core fills after backend auto-complete (NormalizeModelConfig and
 * NormalizeInstanceGroup), in place: version policy, preferred batch size, sequence idle time,
 * pinned-memory flags and the instance groups. Runs whether or not auto-complete is enabled.
 */
export function normalizeModelConfig(config: ModelConfig, context: NormalizeContext): void {
  if (!config.versionPolicy) {
    config.versionPolicy = create(ModelVersionPolicySchema, {
      policyChoice: { case: 'latest', value: create(ModelVersionPolicy_LatestSchema, { numVersions: 1 }) },
    });
  }
  const scheduling = config.schedulingChoice;
  if (scheduling.case === 'dynamicBatching') {
    if (scheduling.value.preferredBatchSize.length === 0 && config.maxBatchSize > 0) {
      scheduling.value.preferredBatchSize.push(config.maxBatchSize);
    }
  } else if (scheduling.case === 'sequenceBatching') {
    const sequence = scheduling.value;
    if (sequence.maxSequenceIdleMicroseconds === 0n) sequence.maxSequenceIdleMicroseconds = 1_000_000n;
    const strategy = sequence.strategyChoice;
    if (strategy.case === 'oldest' && strategy.value.preferredBatchSize.length === 0 && config.maxBatchSize > 0) {
      strategy.value.preferredBatchSize.push(config.maxBatchSize);
    }
  }
  if (scheduling.case === 'ensembleScheduling') return;

  const optimization = (config.optimization ??= create(ModelOptimizationPolicySchema));
  optimization.inputPinnedMemory ??= create(ModelOptimizationPolicy_PinnedMemoryBufferSchema, { enable: true });
  optimization.outputPinnedMemory ??= create(ModelOptimizationPolicy_PinnedMemoryBufferSchema, { enable: true });
  normalizeInstanceGroups(config, context);
}

/** Names, kinds and counts of the instance groups (also for an in-place instance change). */
export function normalizeInstanceGroups(config: ModelConfig, context: NormalizeContext): void {
  if (config.instanceGroup.length === 0) {
    config.instanceGroup.push(create(ModelInstanceGroupSchema, { name: config.name }));
  }
  config.instanceGroup.forEach((group, index) => {
    if (group.name === '') group.name = `${config.name}_${index}`;
    if (group.kind === ModelInstanceGroup_Kind.AUTO) {
      const allListedPresent = group.gpus.every((gpu) => context.gpus.includes(gpu));
      group.kind =
        context.gpus.length > 0 && allListedPresent ? ModelInstanceGroup_Kind.GPU : ModelInstanceGroup_Kind.CPU;
    }
    if (group.count < 1) {
      group.count = group.kind === ModelInstanceGroup_Kind.CPU ? context.defaultCpuInstanceCount : 1;
    }
    if (group.kind === ModelInstanceGroup_Kind.GPU && group.gpus.length === 0) {
      group.gpus.push(...context.gpus);
    }
  });
}
