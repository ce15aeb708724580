import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { ensembleSteps } from '../config/ensemble-graph.js';
import { invalidArg, toServerError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { ModelEntry } from './model-entry.js';

/** What the ensemble checks ask of the repository manager. */
export interface MemberRepository {
  readonly logger: Logger;
  /** Loads a member, in turn with that model's other loads and unloads; `chain`: the ensembles loading it, outermost first. */
  loadMember(name: string, chain: readonly string[]): Promise<unknown>;
  /** Versions a model serves, ascending, as strings. */
  readyVersions(name: string): string[];
  isReady(name: string, version: string): boolean;
}

/**
 * An ensemble's dependencies on its member models: loads the members before the ensemble (as
 * Triton's dependency graph does), refuses cycles between ensembles, and says when a member an
 * ensemble's steps name is not ready.
 */
export class EnsembleMembers {
  readonly #repository: MemberRepository;
  /** Ensembles loading their members, and which. */
  readonly #waitingFor = new Map<string, ReadonlySet<string>>();

  constructor(repository: MemberRepository) {
    this.#repository = repository;
  }

  /**
   * Loads an ensemble's members first (as Triton's dependency graph does, in every mode), then checks
   * each has the versions the steps name, with Triton's texts, and records them in `entry.members`.
   * A member that is itself an ensemble loads its own members; a chain that comes back to an
   * ensemble on the way is refused.
   */
  async load(entry: ModelEntry, config: ModelConfig, ancestors: readonly string[]): Promise<void> {
    const chain = [...ancestors, entry.name];
    const members = ensembleSteps(config).map((step) => ({ name: step.modelName, version: step.modelVersion }));
    const names = [...new Set(members.map((member) => member.name))];
    const fail = (message: string): never => {
      if (![...entry.versions.values()].some((slot) => slot.model !== undefined)) entry.reason = message;
      this.#repository.logger.error(`failed to load '${entry.name}': ${message}`);
      throw invalidArg(message);
    };
    // Ensembles waiting for their members: waiting on one that (transitively) waits on us is a cycle,
    // refused before it could deadlock the two loads.
    for (const member of names) {
      if (chain.includes(member) || this.#waitsOn(member, entry.name)) {
        fail(`circular dependency between ensembles: ${member} -> ... -> ${entry.name} -> ${member}`);
      }
    }
    this.#waitingFor.set(entry.name, new Set(names));
    const outcomes = await Promise.all(
      names.map((member) => this.#repository.loadMember(member, chain).then(() => '', (error: unknown) => toServerError(error).message)),
    ).finally(() => this.#waitingFor.delete(entry.name));
    names.forEach((member, i) => {
      if (this.#repository.readyVersions(member).length > 0) return;
      const failure = outcomes[i] ?? '';
      fail(
        `ensemble '${entry.name}' depends on '${member}' which has no loaded version.` +
          (failure === '' ? '' : ` Model '${member}' loading failed with error: ${failure}`),
      );
    });
    for (const member of members) {
      if (member.version >= 0n && !this.#repository.readyVersions(member.name).includes(String(member.version))) {
        fail(`ensemble '${entry.name}' depends on '${member.name}' whose required version ${member.version} is not loaded.`);
      }
    }
    entry.members = members;
  }

  /** Whether ensemble `from` waits, directly or through other ensembles, for `to` to load. */
  #waitsOn(from: string, to: string, seen = new Set<string>()): boolean {
    if (seen.has(from)) return false;
    seen.add(from);
    for (const next of this.#waitingFor.get(from) ?? []) {
      if (next === to || this.#waitsOn(next, to, seen)) return true;
    }
    return false;
  }

  /** Why an ensemble cannot serve now: the first member version its steps name that is not ready (members that are ensembles check theirs). */
  missingMember(entry: ModelEntry): string | undefined {
    for (const member of entry.members) {
      if (this.#repository.isReady(member.name, member.version < 0n ? '' : String(member.version))) continue;
      return `ensemble '${entry.name}' depends on '${member.name}' which has no loaded version.`;
    }
    return undefined;
  }
}
