import { ModelInstanceGroup_Kind, type ModelConfig, type ModelRateLimiter } from '@nereid/protocol/generated/model_config_pb';
import type { BackendInstance, BackendModel, InstanceSpec } from '../backends/backend.js';
import type { RateLimitedTarget, RateLimiter } from '../scheduler/rate-limiter.js';
import type { ExecutionTarget } from '../scheduler/scheduler.js';

/** A created backend instance with its name; passive ones are loaded but get no requests. */
export interface ModelInstance extends ExecutionTarget {
  readonly passive: boolean;
  /** The group's `rate_limiter` (resources and priority), for `--rate-limit=execution_count`. */
  readonly rateLimiter: ModelRateLimiter | undefined;
  readonly deviceId: number;
  /** False while the backend instance cannot serve (see BackendInstance.ready). */
  ready(): boolean;
  close(): Promise<void>;
}

const KIND_NAMES: Readonly<Record<ModelInstanceGroup_Kind, InstanceSpec['kind']>> = {
  [ModelInstanceGroup_Kind.AUTO]: 'KIND_AUTO',
  [ModelInstanceGroup_Kind.GPU]: 'KIND_GPU',
  [ModelInstanceGroup_Kind.CPU]: 'KIND_CPU',
  [ModelInstanceGroup_Kind.MODEL]: 'KIND_MODEL',
};

/**
 * Creates every instance the (normalised) instance groups ask for: `count` per group, per GPU for GPU
 * groups. Names follow Triton: `<group>_<index>`. On failure the instances made so far are closed.
 */
export async function createInstances(model: BackendModel, config: ModelConfig): Promise<ModelInstance[]> {
  const instances: ModelInstance[] = [];
  try {
    for (const group of config.instanceGroup) {
      const devices = group.kind === ModelInstanceGroup_Kind.GPU ? group.gpus : [0];
      let index = 0;
      for (const deviceId of devices) {
        for (let i = 0; i < group.count; i++) {
          const spec: InstanceSpec = {
            name: `${group.name}_${index++}`,
            groupName: group.name,
            kind: KIND_NAMES[group.kind],
            deviceId,
          };
          const created = await model.createInstance(spec, config);
          instances.push(wrap(spec, group.passive, group.rateLimiter, created));
        }
      }
    }
  } catch (error) {
    await Promise.allSettled(instances.map((instance) => instance.close()));
    throw error;
  }
  return instances;
}

function wrap(
  spec: InstanceSpec,
  passive: boolean,
  rateLimiter: ModelRateLimiter | undefined,
  instance: BackendInstance,
): ModelInstance {
  return {
    name: spec.name,
    passive,
    rateLimiter,
    deviceId: spec.deviceId,
    execute: (requests) => instance.execute(requests),
    ready: () => instance.ready?.() ?? true,
    close: () => instance.close(),
  };
}

/**
 * Registers the active instances with the rate limiter (each execution then holds the group's
 * resources); if one cannot be registered, those before it are taken out again.
 */
export function limitInstances(limiter: RateLimiter | undefined, modelName: string, instances: readonly ModelInstance[]): RateLimitedTarget[] {
  if (limiter === undefined) return instances.map((target) => ({ target, release: () => {} }));
  const limited: RateLimitedTarget[] = [];
  try {
    for (const instance of instances) {
      limited.push(limiter.limit(modelName, instance, instance.rateLimiter, instance.deviceId));
    }
  } catch (error) {
    limited.forEach((entry) => entry.release());
    throw error;
  }
  return limited;
}
