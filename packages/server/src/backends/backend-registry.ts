import type { Backend } from './backend.js';

/**
 * Backends by name and by platform. Backends register at start-up (composition root); the repository
 * asks which backend serves a configuration, never an if-chain of names.
 */
export class BackendRegistry {
  readonly #byName = new Map<string, Backend>();
  readonly #byPlatform = new Map<string, Backend>();

  register(backend: Backend): this {
    this.#byName.set(backend.name, backend);
    for (const platform of backend.platforms) this.#byPlatform.set(platform, backend);
    return this;
  }

  byName(name: string): Backend | undefined {
    return this.#byName.get(name);
  }

  byPlatform(platform: string): Backend | undefined {
    return this.#byPlatform.get(platform);
  }

  all(): readonly Backend[] {
    return [...this.#byName.values()];
  }
}
