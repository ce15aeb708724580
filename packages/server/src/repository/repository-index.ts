import { compareNames } from '../util/compare.js';
import { compareVersions } from './model-dir.js';
import type { ModelEntry } from './model-entry.js';

/** One row of the repository index extension. */
export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state?: string;
  readonly reason?: string;
}

/**
 * The repository index extension: one entry per known version, sorted by name then version; a
 * model in the repositories that was never loaded appears with its name only, as in Triton.
 * `missingMember` says why an ensemble cannot serve now (undefined: it can).
 */
export function repositoryIndex(
  models: ReadonlyMap<string, ModelEntry>,
  onDisk: ReadonlyMap<string, string>,
  readyOnly: boolean,
  missingMember: (entry: ModelEntry) => string | undefined,
): IndexEntry[] {
  const names = new Set([...onDisk.keys(), ...models.keys()]);
  const entries: IndexEntry[] = [];
  for (const name of [...names].sort(compareNames)) {
    const entry = models.get(name);
    if (entry === undefined || (entry.versions.size === 0 && entry.reason === '')) {
      if (!readyOnly && onDisk.has(name)) entries.push({ name });
      continue;
    }
    if (entry.reason !== '' && entry.versions.size === 0) {
      if (!readyOnly) entries.push({ name: entry.name, state: 'UNAVAILABLE', reason: entry.reason });
      continue;
    }
    const missing = missingMember(entry);
    for (const slot of [...entry.versions.values()].sort((a, b) => compareVersions(a.version, b.version))) {
      // An ensemble whose member went away is not available, whatever its own state.
      const [state, reason] = slot.state === 'READY' && missing !== undefined ? ['UNAVAILABLE', missing] : [slot.state, slot.reason];
      if (readyOnly && state !== 'READY') continue;
      const base = { name: entry.name, version: String(slot.version), state };
      entries.push(reason === '' ? base : { ...base, reason });
    }
  }
  return entries;
}
