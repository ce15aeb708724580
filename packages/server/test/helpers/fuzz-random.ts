/**
 * Seeded randomness for fuzz tests: a mulberry32 generator (small, fast, good enough to pick
 * inputs), per-case seeds so any single case can be rebuilt from (seed, stream, index), and byte
 * mutations (flips, truncations, insertions, deletions, duplications) of valid inputs.
 */

/** The fuzz seed: `NEREID_FUZZ_SEED` (decimal or 0x-hex) when set, else `fallback`. */
export function fuzzSeed(fallback: number): number {
  const text = process.env['NEREID_FUZZ_SEED'];
  if (text === undefined || text.trim() === '') return fallback >>> 0;
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value)) throw new Error(`NEREID_FUZZ_SEED must be an integer, got '${text}'`);
  return value >>> 0;
}

/** A seed for case `index` of `stream`, so each case is reproducible on its own. */
export function caseSeed(seed: number, stream: number, index: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x85ebca6b) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [low, high]. */
  range(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** One of `choices`, each drawn in proportion to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [weight] of choices) total += weight;
    let roll = this.next() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![1];
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** Printable ASCII (header-safe). */
  ascii(length: number): string {
    let text = '';
    for (let i = 0; i < length; i++) text += String.fromCharCode(0x20 + this.int(95));
    return text;
  }

  /** Any UTF-16 text, lone surrogates and NULs included. */
  text(length: number): string {
    let text = '';
    for (let i = 0; i < length; i++) {
      text += this.chance(0.7) ? String.fromCharCode(0x20 + this.int(95)) : String.fromCharCode(this.int(0x10000));
    }
    return text;
  }
}

/**
 * `input` with 1–4 random edits: a bit flip, a byte set, a truncation, an insertion (random bytes or
 * one of `tokens`), a deletion, or a duplicated slice.
 */
export function mutateBytes(random: Random, input: Uint8Array, tokens: readonly (string | Uint8Array)[] = []): Buffer {
  let bytes = Buffer.from(input);
  const edits = random.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = random.int(bytes.length + 1);
    switch (random.int(tokens.length > 0 ? 6 : 5)) {
      case 0:
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)]! ^= 1 << random.int(8);
        break;
      case 1:
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = random.int(256);
        break;
      case 2:
        bytes = bytes.subarray(0, at);
        break;
      case 3: {
        const end = Math.min(bytes.length, at + random.range(1, 16));
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]);
        break;
      }
      case 4: {
        const inserted = random.chance(0.5) ? random.bytes(random.range(1, 8)) : bytes.subarray(at, at + random.range(1, 32));
        bytes = Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
        break;
      }
      default: {
        const token = random.pick(tokens);
        bytes = Buffer.concat([bytes.subarray(0, at), typeof token === 'string' ? Buffer.from(token, 'utf8') : token, bytes.subarray(at)]);
      }
    }
  }
  return bytes;
}
