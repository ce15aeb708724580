import { parseByteSize } from '../repository/memory-budget.js';
import type { ExplicitResource } from '../scheduler/rate-limiter.js';
/**
 * Value forms of tritonserver's flags: each `ValueSpec` names its argument for `--help` and turns the
 * raw text into a typed value, or throws `FlagValueError` saying what it expected.
 */

/** Thrown by a `ValueSpec` parser; the flag table adds the flag name and the raw text. */
export class FlagValueError extends Error {
  constructor(readonly expected: string) {
    super(expected);
    this.name = 'FlagValueError';
  }
}

/** How one flag's argument is written and read. */
export interface ValueSpec<T> {
  /** The argument as shown in `--help` (`<integer>`), or null for a flag that takes none. */
  readonly arg: string | null;
  parse(raw: string): T;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A flag without an argument (`--disable-auto-complete-config`). */
export const SWITCH: ValueSpec<true> = { arg: null, parse: () => true };

/** Triton's ParseOption<bool>: true/on/1 and false/off/0, any case. */
export const BOOL: ValueSpec<boolean> = {
  arg: '<boolean>',
  parse(raw) {
    const lower = raw.toLowerCase();
    if (lower === 'true' || lower === 'on' || lower === '1') return true;
    if (lower === 'false' || lower === 'off' || lower === '0') return false;
    throw new FlagValueError('a boolean (true/false, on/off, 1/0)');
  },
};

/** Any text, empty included (Triton takes `--id=` as an empty id). */
export const STRING: ValueSpec<string> = { arg: '<string>', parse: (raw) => raw };

/** Text that must not be empty (paths, addresses, names). */
export function nonEmpty(arg = '<string>'): ValueSpec<string> {
  return {
    arg,
    parse(raw) {
      if (raw === '') throw new FlagValueError('a non-empty value');
      return raw;
    },
  };
}

/** A decimal integer in [min, max]; stricter than Triton's stoi, which drops trailing junk. */
export function int(min = INT32_MIN, max = INT32_MAX): ValueSpec<number> {
  return { arg: '<integer>', parse: (raw) => parseInteger(raw, min, max) };
}

/** A size in bytes, with an optional unit: `1073741824`, `512MB`, `2GiB`. */
export const BYTE_SIZE: ValueSpec<number> = {
  arg: '<bytes>',
  parse(raw) {
    const bytes = parseByteSize(raw);
    if (bytes === undefined) throw new FlagValueError('a size in bytes > 0, optionally with a unit (KB, MB, GB, KiB, MiB, GiB)');
    return bytes;
  },
};

/** A TCP port. */
export const PORT: ValueSpec<number> = int(0, 65535);
/** A count or duration that cannot be negative. */
export const NON_NEGATIVE_INT = int(0);

/** `--log-verbose`: an integer, or true/false for 1/0 (Triton's ParseIntBoolOption). */
export const INT_OR_BOOL: ValueSpec<number> = {
  arg: '<integer>',
  parse(raw) {
    const lower = raw.toLowerCase();
    if (lower === 'true') return 1;
    if (lower === 'false') return 0;
    return parseInteger(raw, INT32_MIN, INT32_MAX);
  },
};

/** A decimal number, at least `min`. */
export function float(min = -Infinity): ValueSpec<number> {
  return { arg: '<float>', parse: (raw) => parseFloatValue(raw, min) };
}

/** One of a fixed set of words; returns the canonical spelling from `choices`. */
export function choice<const C extends string>(
  choices: readonly C[],
  options: { readonly caseInsensitive: boolean },
): ValueSpec<C> {
  return {
    arg: `<${choices.join('|')}>`,
    parse(raw) {
      const found = choices.find((c) =>
        options.caseInsensitive ? c.toLowerCase() === raw.toLowerCase() : c === raw,
      );
      if (found === undefined) throw new FlagValueError(`one of ${choices.join(', ')}`);
      return found;
    },
  };
}

/** A `[<group>,]<setting>=<value>` setting, as in `--backend-config` and `--cache-config`. */
export interface GroupSetting {
  /** The part before the first comma; '' in the global form. */
  readonly group: string;
  readonly setting: string;
  readonly value: string;
}

/**
 * `<group>,<setting>=<value>`; `group` says whether the `<group>,` part is required, optional (the
 * global form) or not allowed. Setting and value must not be empty, as in Triton.
 */
export function groupSetting(
  groupLabel: string,
  group: 'required' | 'optional' | 'forbidden',
): ValueSpec<GroupSetting> {
  const named = `<${groupLabel}>,<setting>=<value>`;
  const form =
    group === 'forbidden' ? '<setting>=<value>' : group === 'required' ? named : `${named} or <setting>=<value>`;
  return {
    arg: group === 'forbidden' ? '<setting>=<value>' : named,
    parse(raw) {
      const equals = raw.indexOf('=');
      const head = equals < 0 ? raw : raw.slice(0, equals);
      const comma = head.indexOf(',');
      const parsed: GroupSetting = {
        group: comma < 0 ? '' : head.slice(0, comma),
        setting: comma < 0 ? head : head.slice(comma + 1),
        value: raw.slice(equals + 1),
      };
      const groupOk = group === 'optional' || (comma > 0) === (group === 'required');
      if (equals < 0 || comma === 0 || !groupOk || parsed.setting === '' || parsed.value === '') {
        throw new FlagValueError(form);
      }
      return parsed;
    },
  };
}

/** `<first><sep><second>` where each side has its own form, e.g. `<gpu>:<bytes>`. */
export function pair<A, B>(
  first: ValueSpec<A>,
  sep: string,
  second: ValueSpec<B>,
  arg: string,
): ValueSpec<readonly [A, B]> {
  return {
    arg,
    parse(raw) {
      const at = raw.indexOf(sep);
      if (at < 0) throw new FlagValueError(arg);
      try {
        return [first.parse(raw.slice(0, at)), second.parse(raw.slice(at + sep.length))];
      } catch (error) {
        if (error instanceof FlagValueError) throw new FlagValueError(`${arg} (${error.expected})`);
        throw error;
      }
    },
  };
}

/** `--rate-limit-resource`: `<name>:<count>` or `<name>:<count>:<device>`. */
export const RATE_LIMIT_RESOURCE: ValueSpec<ExplicitResource> = {
  arg: '<name>:<count>:<device>',
  parse(raw) {
    const parts = raw.split(':');
    const form = '<name>:<count> or <name>:<count>:<device>';
    if (parts.length < 2 || parts.length > 3) throw new FlagValueError(form);
    for (const number of parts.slice(1)) {
      if (!/^[+-]?\d+$/.test(number)) throw new FlagValueError(`${form} with integer count/device`);
    }
    const [name, count, device] = parts as [string, string, string | undefined];
    return { name, count: Number(count), device: device === undefined ? undefined : Number(device) };
  },
};

/** API groups `--http-restricted-api` and `--grpc-restricted-protocol` may name. */
const RESTRICTED_CATEGORIES = new Set([
  'health',
  'metadata',
  'inference',
  'shared-memory',
  'model-config',
  'model-repository',
  'statistics',
  'trace',
  'logging',
]);

/** `<apis>:<key>=<value>` with a comma-separated list of known API groups. */
export function restricted(listLabel: string): ValueSpec<string> {
  const form = `<${listLabel}>:<key>=<value>`;
  return {
    arg: form,
    parse(raw) {
      const colon = raw.indexOf(':');
      const equals = raw.indexOf('=', colon + 1);
      if (colon <= 0 || equals < 0 || equals === colon + 1 || equals === raw.length - 1) {
        throw new FlagValueError(form);
      }
      for (const name of raw.slice(0, colon).split(',')) {
        if (!RESTRICTED_CATEGORIES.has(name)) {
          throw new FlagValueError(`${form} with ${listLabel} among ${[...RESTRICTED_CATEGORIES].join(', ')}`);
        }
      }
      return raw;
    },
  };
}

function parseInteger(raw: string, min: number, max: number): number {
  const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  throw new FlagValueError(describeIntRange(min, max));
}

function describeIntRange(min: number, max: number): string {
  if (min === INT32_MIN && max === INT32_MAX) return 'an integer';
  if (max >= INT32_MAX) return `an integer >= ${min}`;
  return `an integer ${min}-${max}`;
}

function parseFloatValue(raw: string, min: number): number {
  const value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (Number.isFinite(value) && value >= min) return value;
  throw new FlagValueError(min === -Infinity ? 'a number' : `a number >= ${min}`);
}
