/**
 * How many compute threads a model's sessions get.
 *
 * ONNX Runtime gives every session its own intra-op pool, sized to the cores unless told otherwise,
 * so N instances running at once would use N × cores threads (Triton users see 70–100 threads per
 * model). The rule here: a model whose instances can run R requests at once (the sum of its
 * instance_group counts, shared session or not) gives each run max(1, ⌊cores / R⌋) intra-op threads,
 * so the model's concurrently running sessions never use more threads than the machine has cores
 * (one thread per run at least: a run always computes on its own thread). In parallel execution mode
 * the inter-op pool gets the same share; in sequential mode it is unused and set to 1.
 * `intra_op_thread_count` / `inter_op_thread_count` in the config always win. Across models, the
 * compute budget (native/compute-budget.ts) keeps the threads computing at once within the cores.
 */
import { clone } from '@bufbuild/protobuf';
import { ModelConfigSchema, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { normalizeModelConfig } from '../../config/normalize.js';
import type { SessionSettings } from './session-options.js';

export interface ThreadPlan {
  /** Requests (or batches) of the model that can run at once. */
  readonly concurrentRuns: number;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  /** Which counts the config fixed (the rest were planned). */
  readonly fromConfig: { readonly intraOp: boolean; readonly interOp: boolean };
}

export function planThreads(settings: SessionSettings, concurrentRuns: number, cores: number): ThreadPlan {
  const share = Math.max(1, Math.floor(cores / Math.max(1, concurrentRuns)));
  return {
    concurrentRuns,
    intraOpThreads: settings.intraOpThreads ?? share,
    interOpThreads: settings.interOpThreads ?? (settings.executionMode === 'parallel' ? share : 1),
    fromConfig: {
      intraOp: settings.intraOpThreads !== undefined,
      interOp: settings.interOpThreads !== undefined,
    },
  };
}

/**
 * How many requests a model will run at once, read from the configuration as loaded (before
 * auto-complete, which never changes instance groups): the instance counts after Triton's defaults,
 * passive groups excluded.
 */
export function concurrentRunsOf(config: ModelConfig, defaultCpuInstanceCount: number): number {
  const normalized = clone(ModelConfigSchema, config);
  normalizeModelConfig(normalized, { defaultCpuInstanceCount, gpus: [] });
  const runs = normalized.instanceGroup
    .filter((group) => !group.passive)
    .reduce((sum, group) => sum + group.count * Math.max(1, group.gpus.length), 0);
  return Math.max(1, runs);
}

/** One log line: the plan a model's sessions were created with. */
export function describeThreadPlan(plan: ThreadPlan, cores: number, shared: boolean): string {
  const intra = plan.fromConfig.intraOp
    ? `${plan.intraOpThreads} intra-op (intra_op_thread_count)`
    : `${plan.intraOpThreads} intra-op (${cores} cores / ${plan.concurrentRuns} concurrent runs)`;
  const inter = plan.fromConfig.interOp
    ? `${plan.interOpThreads} inter-op (inter_op_thread_count)`
    : `${plan.interOpThreads} inter-op`;
  const sessions = shared ? '1 session shared by all instances' : `${plan.concurrentRuns} sessions, one per instance`;
  return `${sessions}; up to ${plan.concurrentRuns} runs at once; threads per run: ${intra}, ${inter}`;
}
