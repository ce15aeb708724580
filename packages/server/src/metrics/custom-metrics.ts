import type { Registry } from 'prom-client';
import { invalidArg } from '../errors/index.js';

/**
 * Custom metrics that models define (Triton's TRITONSERVER_MetricFamily; the Python backend's
 * `pb_utils.MetricFamily`): families of counters, gauges or histograms, each series named by its
 * labels. Families with one name are shared (a second registration with the same kind reuses the
 * first, keeping its description; another kind is an error, as in Triton), and so are series with
 * the same labels, counted by their owners: a series leaves the metrics when its last owner releases
 * it (a stub that ends releases everything it held).
 */

export type CustomMetricKind = 'COUNTER' | 'GAUGE' | 'HISTOGRAM';

interface Series {
  readonly id: number;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: readonly number[];
  value: number;
  /** Histogram: cumulative counts per bucket, then sum and count. */
  readonly counts: number[];
  sum: number;
  count: number;
  owners: number;
}

class CustomFamily {
  readonly name: string;
  readonly help: string;
  readonly kind: CustomMetricKind;
  readonly aggregator = 'sum';
  readonly series = new Map<string, Series>();

  constructor(name: string, help: string, kind: CustomMetricKind) {
    this.name = name;
    this.help = help;
    this.kind = kind;
  }

  get type(): string {
    return this.kind.toLowerCase();
  }

  /** What prom-client's registry prints. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const values: unknown[] = [];
    for (const series of this.series.values()) {
      if (this.kind !== 'HISTOGRAM') {
        values.push({ labels: series.labels, value: series.value });
        continue;
      }
      series.buckets.forEach((le, i) => values.push({ labels: { ...series.labels, le }, value: series.counts[i] ?? 0, metricName: `${this.name}_bucket` }));
      values.push({ labels: { ...series.labels, le: '+Inf' }, value: series.count, metricName: `${this.name}_bucket` });
      values.push({ labels: series.labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: series.labels, value: series.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  getForPromString(): ReturnType<CustomFamily['get']> {
    return this.get();
  }

  reset(): void {}
}

export class CustomMetrics {
  readonly #registry: Registry | undefined;
  readonly #families = new Map<string, CustomFamily>();
  readonly #series = new Map<number, { family: CustomFamily; series: Series }>();
  #nextId = 0;

  /** `registry`: where the families are printed (none: kept, not served). */
  constructor(registry?: Registry) {
    this.#registry = registry;
  }

  /** Registers (or reuses) a family. */
  family(name: string, help: string, kind: CustomMetricKind): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw invalidArg(`invalid metric family name '${name}'`);
    const existing = this.#families.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw invalidArg(`metric family '${name}' already exists with kind ${existing.kind}; it cannot be registered as ${kind}`);
      }
      return;
    }
    const family = new CustomFamily(name, help, kind);
    this.#families.set(name, family);
    this.#registry?.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** A series of a family by its labels (the same labels share one series); returns its id. */
  series(familyName: string, labels: Readonly<Record<string, string>>, buckets: readonly number[] = []): number {
    const family = this.#families.get(familyName);
    if (family === undefined) throw invalidArg(`metric family '${familyName}' does not exist`);
    if (family.kind === 'HISTOGRAM' && buckets.length === 0) throw invalidArg(`a histogram metric of '${familyName}' needs buckets`);
    const sorted = [...buckets].sort((a, b) => a - b);
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let series = family.series.get(key);
    if (series === undefined) {
      series = { id: ++this.#nextId, key, labels: { ...labels }, buckets: sorted, value: 0, counts: sorted.map(() => 0), sum: 0, count: 0, owners: 0 };
      family.series.set(key, series);
      this.#series.set(series.id, { family, series });
    }
    series.owners++;
    return series.id;
  }

  /** increment (counter, gauge), set (gauge), observe (histogram). */
  update(id: number, op: 'increment' | 'set' | 'observe', value: number): void {
    const found = this.#series.get(id);
    if (found === undefined) return;
    const { family, series } = found;
    if (op === 'increment' && family.kind !== 'HISTOGRAM') {
      if (family.kind === 'COUNTER' && value < 0) throw invalidArg('counter metrics only increase: the increment must not be negative');
      series.value += value;
    } else if (op === 'set' && family.kind === 'GAUGE') {
      series.value = value;
    } else if (op === 'observe' && family.kind === 'HISTOGRAM') {
      series.sum += value;
      series.count++;
      series.buckets.forEach((le, i) => {
        if (value <= le) series.counts[i] = (series.counts[i] ?? 0) + 1;
      });
    } else {
      throw invalidArg(`'${op}' is not available for a ${family.kind.toLowerCase()} metric`);
    }
  }

  value(id: number): number {
    const found = this.#series.get(id);
    if (found === undefined) throw invalidArg('the metric was released');
    return found.family.kind === 'HISTOGRAM' ? found.series.sum : found.series.value;
  }

  /** One owner lets go of a series; the last one removes it. */
  release(id: number): void {
    const found = this.#series.get(id);
    if (found === undefined) return;
    if (--found.series.owners > 0) return;
    found.family.series.delete(found.series.key);
    this.#series.delete(id);
  }
}
