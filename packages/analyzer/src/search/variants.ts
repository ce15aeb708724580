/**
 * Model configuration variants in Triton's JSON form: what a variant changes in the model's own
 * (server-completed) configuration, and what settings a loaded configuration has.
 */
import type { VariantSettings } from '../types.js';

/** What one variant sets; an absent field keeps the model's own value. */
export interface VariantSpec {
  readonly instanceCount?: number;
  readonly maxBatchSize?: number;
  readonly dynamicBatching: boolean;
  readonly queueDelayUs: number;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function asNumber(value: unknown): number {
  const number = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : 0;
  return Number.isFinite(number) ? number : 0;
}

/** The settings of a configuration as the server reports it (GET /v2/models/{m}/config). */
export function settingsOf(config: Json): VariantSettings {
  const groups = Array.isArray(config['instance_group']) ? (config['instance_group'] as unknown[]) : [];
  const instanceCount = groups.reduce<number>((sum, group) => sum + asNumber(asObject(group)?.['count']), 0);
  const batching = asObject(config['dynamic_batching']);
  return {
    instanceCount: Math.max(1, instanceCount),
    maxBatchSize: asNumber(config['max_batch_size']),
    dynamicBatching: batching !== undefined,
    queueDelayUs: batching === undefined ? 0 : asNumber(batching['max_queue_delay_microseconds']),
  };
}

/** A stable key of the settings, so variants the server turns into the same thing run once. */
export function settingsKey(settings: VariantSettings): string {
  const { instanceCount, maxBatchSize, dynamicBatching, queueDelayUs } = settings;
  return `${instanceCount}/${maxBatchSize}/${dynamicBatching ? queueDelayUs : 'off'}`;
}

/** A short human label: `2 inst, mbs 8, DB 100 µs` / `1 inst, mbs 8, no DB`. */
export function settingsLabel(settings: VariantSettings): string {
  const batching = settings.dynamicBatching ? `DB ${settings.queueDelayUs} µs` : 'no DB';
  return `${settings.instanceCount} inst, mbs ${settings.maxBatchSize}, ${batching}`;
}

/**
 * The model's configuration with the variant applied: one KIND_CPU instance group of the count,
 * `max_batch_size`, and a fresh `dynamic_batching` block holding only the queue delay (or none).
 * The result goes to the load API as the `config` override.
 */
export function applyVariant(base: Json, spec: VariantSpec): Json {
  const config: Json = structuredClone(base);
  if (spec.instanceCount !== undefined) config['instance_group'] = [{ count: spec.instanceCount, kind: 'KIND_CPU' }];
  if (spec.maxBatchSize !== undefined) config['max_batch_size'] = spec.maxBatchSize;
  delete config['dynamic_batching'];
  if (spec.dynamicBatching) config['dynamic_batching'] = { max_queue_delay_microseconds: spec.queueDelayUs };
  return config;
}
