/** How an ensemble's steps reach their members. */
import type { ModelVersion } from '../model/model-version.js';
import type { InferenceTrace } from '../observability/tracing/request-trace.js';
import type { InferRequestInit } from '../request/infer-request-init.js';
import type { InferResponse } from '../request/infer-response.js';
import type { StepRunner } from '../scheduler/ensemble/ensemble-scheduler.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { nowNs } from '../util/clock.js';

/** The core's own entry for a request, as a client's request takes it. */
export type CoreEntry = (request: InferRequestInit, signal: CancelSignal | undefined, trace: InferenceTrace | undefined) => Promise<InferResponse>;

/** What the core gives the step runner. */
export interface MemberStepOptions {
  /** Whether the core serves requests now (live: ready or exiting). */
  readonly serving: () => boolean;
  /** The version serving a model (`RepositoryManager.forInference`); throws when there is none. */
  readonly member: (name: string, version: string) => ModelVersion;
  readonly viaCore: CoreEntry;
}

/**
 * A step goes straight to its member's serving version, with callbacks. It skips what only a
 * client's request needs: a step's tensors are the ensemble's inputs (already read out of shared
 * memory when it entered) or its members' outputs, never a shared-memory region. A member that is
 * not loaded (evicted under `--model-memory-budget`, so loaded on demand) or a server that has
 * stopped serving takes the client's path, with its errors.
 */
export function memberStepRunner(options: MemberStepOptions): StepRunner {
  const { serving, member, viaCore } = options;
  return (request, signal, trace, onResponse, onError) => {
    let version: ModelVersion | undefined;
    if (serving()) {
      try {
        version = member(request.modelName, request.modelVersion);
      } catch {
        version = undefined;
      }
    }
    if (version === undefined) {
      viaCore(request, signal, trace).then(onResponse, onError);
      return;
    }
    version.submit(request, signal, nowNs(), trace, onResponse, onError);
  };
}
