/**
 * What the repository manager remembers per model name, shared by the modules that act on it
 * (version loading, ensemble members, the memory budget).
 */
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg, notFound, quoted, unavailable } from '../errors/index.js';
import type { ModelVersion } from '../model/model-version.js';

/** Triton's model-version states (model_lifecycle.h). */
export type VersionState = 'UNKNOWN' | 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** Reason of a version unloaded on purpose (it starts the reason): not a failure, for readiness and retries. */
export const UNLOADED = 'unloaded';

export interface VersionEntry {
  /** int64 version, exact (see listVersions). */
  readonly version: bigint;
  state: VersionState;
  reason: string;
  /** The version serving requests; during a reload the old one serves until the new one is ready. */
  model: ModelVersion | undefined;
  /** Fingerprint of the files `model` was loaded from. */
  loadedFrom: string;
}

export interface ModelEntry {
  readonly name: string;
  /** Why the model as a whole could not be loaded (duplicate name, bad config), '' otherwise. */
  reason: string;
  readonly versions: Map<bigint, VersionEntry>;
  /** The config (as read, before completion) the loaded versions were made from. */
  loadedConfig: ModelConfig | undefined;
  /** What the latest load attempt saw: poll retries a failed load only once this changes. */
  attempted: string;
  /** Temporary folder of a model loaded from `file:` overrides (removed at unload). */
  overrideDir: string | undefined;
  /** Serialises loads and unloads of this model. */
  queue: Promise<unknown>;
  /** Loads or unloads of this model running (a poll's look at unchanged files does not count). */
  busy: number;
  /** Memory budget: estimated bytes of the versions loaded or loading (0 when none). */
  footprint: number;
  /** Memory budget: monotonic ms of the last inference request. */
  lastUsedMs: number;
  onDemandLoads: number;
  evictions: number;
  /** An ensemble's member models and the versions its steps name (-1: latest); empty for other models. */
  members: readonly EnsembleMember[];
}

export interface EnsembleMember {
  readonly name: string;
  readonly version: bigint;
}

/** The entry of a model name seen for the first time: no versions, nothing loaded. */
export function newModelEntry(name: string): ModelEntry {
  return {
    name, reason: '', versions: new Map(), loadedConfig: undefined, attempted: '', overrideDir: undefined, queue: Promise.resolve(),
    busy: 0, footprint: 0, lastUsedMs: 0, onDemandLoads: 0, evictions: 0, members: [],
  };
}

/** The version of a model that serves a request; '' picks the highest READY version. Triton's messages. */
export function servingVersion(entry: ModelEntry | undefined, name: string, version: string): ModelVersion {
  if (!entry || (entry.versions.size === 0 && entry.reason === '')) {
    throw notFound(`Request for unknown model: '${quoted(name)}' is not found`);
  }
  if (version === '' || version === '-1') {
    // Every request without a version comes here: a scan, no arrays.
    let latest: VersionEntry | undefined;
    for (const slot of entry.versions.values()) {
      if (slot.state === 'READY' && slot.model !== undefined && (latest === undefined || slot.version > latest.version)) latest = slot;
    }
    if (latest === undefined) throw notFound(`Request for unknown model: '${quoted(name)}' has no available versions`);
    return latest.model!;
  }
  if (!/^[0-9]+$/.test(version)) {
    throw invalidArg(`Request for unknown model: '${quoted(name)}' version '${quoted(version)}' is not a valid version number`);
  }
  // Exact: BigInt, not Number, so '9007199254740993' does not become 9007199254740992.
  const slot = entry.versions.get(BigInt(version));
  if (!slot) throw notFound(`Request for unknown model: '${quoted(name)}' version ${quoted(version)} is not found`);
  if (slot.state !== 'READY' || !slot.model) {
    throw unavailable(`Request for unknown model: '${quoted(name)}' version ${quoted(version)} is not at ready state`);
  }
  return slot.model;
}
