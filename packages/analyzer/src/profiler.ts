/**
 * The sweep of one model, as model_analyzer's brute search walks it: the default config first, then
 * per instance count the variant without dynamic batching and, per queue delay, a `max_batch_size`
 * walk with dynamic batching that stops when throughput stops growing. Each variant is loaded
 * through the load API with a config override and measured over a concurrency sweep with its own
 * early exit. Variants the server completes into settings already measured are skipped, and so are
 * variants that fail to load (which also ends their `max_batch_size` walk); a load level that fails
 * ends its variant's concurrency sweep.
 */
import type { HttpClient } from '@nereid/client';
import { throughputGainValid, lastIncreasedThroughput } from './search/early-exit.js';
import { applyVariant, settingsKey, settingsLabel, settingsOf, type VariantSpec } from './search/variants.js';
import type { LoadPoint, Measurer } from './measure.js';
import type { MemorySampler } from './server/memory.js';
import type { ConfigResult, Constraints, MeasuredRow, ModelVariant, SearchSpace } from './types.js';

export interface ProfileTarget {
  /** Loads variants and reads their configs. */
  readonly client: HttpClient;
  readonly measurer: Measurer;
  readonly memory: MemorySampler;
}

export interface SweepSettings {
  readonly space: SearchSpace;
  readonly constraints: Constraints;
  readonly log: (line: string) => void;
}

type Json = Record<string, unknown>;

/** Sweeps one model; the model is unloaded afterwards. */
export async function profileModel(model: string, target: ProfileTarget, sweep: SweepSettings): Promise<ConfigResult[]> {
  const results: ConfigResult[] = [];
  const seen = new Map<string, ConfigResult>();
  let next = 0;

  const run = async (spec: VariantSpec | undefined, base: Json | undefined): Promise<ConfigResult | undefined> => {
    const isDefault = spec === undefined || base === undefined;
    const override = isDefault ? undefined : applyVariant(base, spec);
    const name = isDefault ? `${model}_config_default` : `${model}_config_${next}`;
    const variant: ModelVariant = override === undefined ? { model, name, isDefault } : { model, name, isDefault, override };
    try {
      await target.client.loadModel(model, override === undefined ? {} : { config: override });
    } catch (error) {
      if (isDefault) throw new Error(`loading '${model}' failed: ${message(error)}`, { cause: error });
      sweep.log(`  ${specLabel(spec)}: load failed (${message(error)}), skipped`);
      return undefined;
    }
    const config = (await target.client.modelConfig(model)) as Json;
    const settings = settingsOf(config);
    const key = settingsKey(settings);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      sweep.log(`  ${settingsLabel(settings)}: loads as ${earlier.variant.name}, skipped`);
      return earlier;
    }
    if (!isDefault) next++;
    sweep.log(`  ${name} (${settingsLabel(settings)})`);
    const rows = await measureVariant(model, name, settings, target, sweep);
    if (rows.length === 0) {
      if (isDefault) throw new Error(`measuring '${model}' failed at the first load level`);
      return undefined;
    }
    const result: ConfigResult = { variant, settings, config, rows };
    seen.set(key, result);
    results.push(result);
    return result;
  };

  const defaults = await run(undefined, undefined);
  if (defaults === undefined) return results;
  const { instanceCounts, maxBatchSizes, dynamicBatching } = sweep.space;
  if (instanceCounts.length + maxBatchSizes.length + dynamicBatching.length > 0) await sweepVariants(defaults, sweep, run);
  await target.client.unloadModel(model).catch(() => undefined);
  return results;
}

/** The variants after the default config, in model_analyzer's order. */
async function sweepVariants(
  defaults: ConfigResult,
  sweep: SweepSettings,
  run: (spec: VariantSpec, base: Json) => Promise<ConfigResult | undefined>,
): Promise<void> {
  const base = defaults.config;
  const batching = defaults.settings.maxBatchSize > 0;
  const canBatchDynamically = batching && base['sequence_batching'] === undefined && base['ensemble_scheduling'] === undefined;
  const counts = sweep.space.instanceCounts.length > 0 ? sweep.space.instanceCounts : [undefined];
  const batchSizes = batching && sweep.space.maxBatchSizes.length > 0 ? sweep.space.maxBatchSizes : [undefined];
  const batchingChoices = sweep.space.dynamicBatching.length > 0 ? sweep.space.dynamicBatching : [true];
  for (const instanceCount of counts) {
    for (const dynamicBatching of batchingChoices) {
      if (!dynamicBatching) {
        if (base['ensemble_scheduling'] === undefined) await run(spec(instanceCount, undefined, false, 0), base);
        continue;
      }
      if (!canBatchDynamically) continue;
      for (const queueDelayUs of sweep.space.queueDelaysUs) {
        const walk: number[] = [];
        for (const maxBatchSize of batchSizes) {
          const result = await run(spec(instanceCount, maxBatchSize, true, queueDelayUs), base);
          if (result === undefined) break;
          walk.push(Math.max(0, ...result.rows.map((row) => row.throughput)));
          if (!lastIncreasedThroughput(walk)) break;
        }
      }
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function specLabel(spec: VariantSpec | undefined): string {
  if (spec === undefined) return 'default config';
  const parts = [
    spec.instanceCount === undefined ? undefined : `${spec.instanceCount} inst`,
    spec.maxBatchSize === undefined ? undefined : `mbs ${spec.maxBatchSize}`,
    spec.dynamicBatching ? `DB ${spec.queueDelayUs} µs` : 'no DB',
  ];
  return parts.filter((part) => part !== undefined).join(', ');
}

function spec(instanceCount: number | undefined, maxBatchSize: number | undefined, dynamicBatching: boolean, queueDelayUs: number): VariantSpec {
  return {
    ...(instanceCount === undefined ? {} : { instanceCount }),
    ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
    dynamicBatching,
    queueDelayUs,
  };
}

/** The concurrency sweep of one loaded variant. */
async function measureVariant(
  model: string,
  variant: string,
  settings: ConfigResult['settings'],
  target: ProfileTarget,
  sweep: SweepSettings,
): Promise<MeasuredRow[]> {
  const rows: MeasuredRow[] = [];
  for (const concurrency of sweep.space.concurrencies) {
    target.memory.start();
    let point: LoadPoint;
    try {
      point = await target.measurer.measure(model, concurrency);
    } catch (error) {
      await target.memory.stop();
      sweep.log(`    concurrency ${concurrency}: failed (${message(error)}); ${variant}'s sweep ends here`);
      break;
    }
    const memoryBytes = await target.memory.stop();
    const row: MeasuredRow = { model, variant, settings, concurrency, ...point, memoryBytes };
    rows.push(row);
    sweep.log(
      `    concurrency ${concurrency}: ${row.throughput.toFixed(1)} infer/s, p99 ${row.p99LatencyMs.toFixed(2)} ms, ` +
        `${(memoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    if (!throughputGainValid(rows.map((r) => r.throughput))) break;
    const budget = sweep.constraints.latencyBudgetMs;
    if (budget !== undefined && row.p99LatencyMs > budget) break;
  }
  return rows;
}
