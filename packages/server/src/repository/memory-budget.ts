/**
 * The model memory budget (`--model-memory-budget`, Nereid's own): which loaded models to unload so
 * that a model about to load fits. Pure: the repository manager supplies what is loaded and acts.
 *
 * A model's footprint is the size of the files of the versions it loads. That is what a backend
 * reads into memory for weights (ONNX Runtime keeps initializers about that size), known before
 * the load starts and independent of what else the process does, unlike a resident-memory delta.
 */

/** A loaded (or loading) model as the budget sees it. */
export interface BudgetedModel {
  readonly name: string;
  /** Estimated bytes of the versions it holds. */
  readonly footprint: number;
  /** Monotonic time of its last inference request (0: never used). */
  readonly lastUsedMs: number;
  /** It can be unloaded now: no request in flight, no load or unload running. */
  readonly idle: boolean;
}

export type EvictionPlan =
  | { readonly fits: true; readonly evict: readonly string[] }
  | { readonly fits: false; readonly shortBytes: number };

/**
 * The least recently used idle models to unload so that `needBytes` more fit within `budgetBytes`
 * beside everything else loaded; or how much would still be missing.
 */
export function planEvictions(loaded: readonly BudgetedModel[], needBytes: number, budgetBytes: number): EvictionPlan {
  let used = loaded.reduce((sum, model) => sum + model.footprint, 0);
  const evict: string[] = [];
  const candidates = loaded.filter((model) => model.idle && model.footprint > 0).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  for (const candidate of candidates) {
    if (used + needBytes <= budgetBytes) break;
    evict.push(candidate.name);
    used -= candidate.footprint;
  }
  if (used + needBytes > budgetBytes) return { fits: false, shortBytes: used + needBytes - budgetBytes };
  return { fits: true, evict };
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** `2GiB`, `512MB`, `1.5g`, `1048576`: bytes, or undefined when the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) return undefined;
  const unit = UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
