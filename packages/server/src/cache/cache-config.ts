import { invalidArg } from '../errors/index.js';
import { ResponseCache } from './response-cache.js';

/** `--cache-config` settings by cache name (`local,size=1048576` → local → size → 1048576). */
export type CacheConfig = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** The one cache implementation Nereid has, as Triton names its in-process cache. */
const LOCAL = 'local';

/**
 * Builds the server's response cache from `--cache-config` (or `--response-cache-byte-size`, which
 * the command line turns into `local,size=<bytes>`): undefined when none is configured. Triton loads
 * a cache library per name; Nereid has only `local`, so any other name fails start-up here, as a
 * missing library does in Triton. Settings other than `size` are ignored, as Triton's local cache does.
 */
export function createResponseCache(config: CacheConfig): ResponseCache | undefined {
  if (config.size === 0) return undefined;
  if (config.size > 1) {
    throw invalidArg(
      '--cache-config: found multiple cache configurations, but only a single cache is currently supported',
    );
  }
  const [name, settings] = [...config][0]!;
  if (name !== LOCAL) {
    throw invalidArg(`--cache-config: cache '${name}' is not supported; the only cache is '${LOCAL}' (e.g. --cache-config ${LOCAL},size=1048576)`);
  }
  const size = settings.get('size');
  if (size === undefined || !/^\d+$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw invalidArg(
      `--cache-config: the '${LOCAL}' cache needs 'size', a number of bytes (e.g. --cache-config ${LOCAL},size=1048576), got ` +
        (size === undefined ? 'none' : `'${size}'`),
    );
  }
  return new ResponseCache(Number(size));
}
