import { toServerError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { RepositoryManager } from './repository-manager.js';

/**
 * Poll mode (`--model-control-mode=poll`): every `--repository-poll-secs` the repositories are
 * compared with what is loaded; added and changed models load (beside the old version, which keeps
 * serving if the new one fails), removed ones unload. A failed load is retried once its files change
 * again. Polls never overlap: the next waits for the previous to finish.
 */
export class RepositoryPoller {
  readonly #repository: RepositoryManager;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(repository: RepositoryManager, intervalSecs: number, logger: Logger) {
    this.#repository = repository;
    this.#intervalMs = Math.max(0, intervalSecs) * 1000;
    this.#logger = logger;
    // Triton: 0 disables polling after the start-up load.
    if (this.#intervalMs > 0) this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#intervalMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    try {
      const failures = await this.#repository.poll();
      for (const failure of failures) this.#logger.error(`poll: ${failure}`);
    } catch (error) {
      this.#logger.error(`failed to poll the model repositories: ${toServerError(error).message}`);
    }
    this.#schedule();
  }
}
