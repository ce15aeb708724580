/** A small reader of the Prometheus text format for tests: samples by name and exact label set. */

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PrometheusSamples {
  /** The value of the sample with exactly these labels, or undefined when there is none. */
  value(name: string, labels: Readonly<Record<string, string>>): number | undefined;
  /** The `le` bounds of a histogram's buckets for these labels, in the order printed. */
  buckets(name: string, labels: Readonly<Record<string, string>>): string[];
  help(name: string): string | undefined;
  type(name: string): string | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): PrometheusSamples {
  const samples: Sample[] = [];
  const helps = new Map<string, string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      (comment[1] === 'HELP' ? helps : types).set(comment[2]!, comment[3]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) labels[label[1]!] = label[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3] === '+Inf' ? Infinity : match[3]) });
  }
  const sameLabels = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([key, value]) => a[key] === value);
  return {
    value: (name, labels) => samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value,
    buckets: (name, labels) =>
      samples
        .filter((s) => s.name === `${name}_bucket` && sameLabels(s.labels, { ...labels, le: s.labels['le'] ?? '' }))
        .map((s) => s.labels['le']!),
    help: (name) => helps.get(name),
    type: (name) => types.get(name),
  };
}
