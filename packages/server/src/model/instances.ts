import { ModelInstanceGroup_Kind, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendInstance, BackendModel, InstanceSpec } from '../backends/backend.js';
import type { ExecutionTarget } from '../scheduler/scheduler.js';

/** A created backend instance with its name; passive ones are loaded but get no requests. */
export interface ModelInstance extends ExecutionTarget {
  readonly passive: boolean;
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
          instances.push(wrap(spec.name, group.passive, await model.createInstance(spec, config)));
        }
      }
    }
  } catch (error) {
    await Promise.allSettled(instances.map((instance) => instance.close()));
    throw error;
  }
  return instances;
}

function wrap(name: string, passive: boolean, instance: BackendInstance): ModelInstance {
  return {
    name,
    passive,
    execute: (requests) => instance.execute(requests),
    close: () => instance.close(),
  };
}
