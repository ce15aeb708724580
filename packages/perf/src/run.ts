import type { PerfHooks, PerfOptions, PerfResult } from './types.js';

/** Measures `options.model` over the concurrency (or request-rate) range; one row per stable level. */
export async function runPerf(options: PerfOptions, hooks: PerfHooks = {}): Promise<PerfResult> {
  void options;
  void hooks;
  throw new Error('runPerf: not implemented yet');
}
