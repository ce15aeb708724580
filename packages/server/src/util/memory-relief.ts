import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives memory back after very large requests. A request of hundreds of MiB leaves its buffers
 * unreferenced but alive until V8's next full collection, which a server with a small JS heap may
 * not run for minutes, and leaves glibc's arenas holding what was freed. Both look like a leak from
 * outside (RSS stays at the high-water mark). After a large request, once traffic has been quiet
 * for a moment, this runs one full collection and then every registered trimmer (the ONNX Runtime
 * backend registers malloc_trim). Small requests never trigger it; unloading a model does.
 */

/** Requests moving at least this many bytes schedule a relief. */
export const LARGE_REQUEST_BYTES = 64 * 1024 * 1024;
const QUIET_MS = 500;
/** After an unload: soon, since unloads are rare and a model is large by comparison with a collection. */
const RELEASE_MS = 20;
/** A second pass, for buffers still queued on a slow client's socket at the first. */
const SECOND_PASS_MS = 5_000;

const trimmers = new Set<() => void>();
let timer: NodeJS.Timeout | undefined;
let collect: (() => void) | undefined | null;

/** Registers native memory to give back after a collection (idempotent). */
export function registerTrimmer(trim: () => void): void {
  trimmers.add(trim);
}

/** Notes a request that moved `bytes`; a large one schedules a relief once requests settle. */
export function noteRequestBytes(bytes: number): void {
  if (bytes < LARGE_REQUEST_BYTES) return;
  schedule(QUIET_MS, true);
}

/** A model version was freed: its weights and arenas go back soon, not at V8's next full collection. */
export function noteModelReleased(): void {
  schedule(RELEASE_MS, true);
}

function schedule(delayMs: number, again: boolean): void {
  clearTimeout(timer);
  timer = setTimeout(() => relieve(again), delayMs);
  timer.unref();
}

function relieve(again: boolean): void {
  timer = undefined;
  fullCollection()?.();
  for (const trim of trimmers) trim();
  if (again) schedule(SECOND_PASS_MS, false);
}

/** V8's gc(), obtained once without --expose-gc (null where the flag cannot be set). */
function fullCollection(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  } catch {
    collect = null;
  }
  return collect;
}
