import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';

/**
 * A POSIX shared-memory object made the way shm_open does on Linux: a file under /dev/shm. Node cannot
 * mmap, so the bench fills and checks it with pwrite/pread; that happens outside the timed loops (a C
 * or Python client maps it and touches the bytes in place).
 */
export class ShmObject {
  readonly key: string;
  readonly byteSize: number;
  readonly #path: string;
  #fd: number | undefined;

  constructor(key: string, byteSize: number) {
    this.key = key;
    this.byteSize = byteSize;
    this.#path = `/dev/shm${key}`;
    this.#fd = openSync(this.#path, 'w+', 0o600);
    ftruncateSync(this.#fd, byteSize);
  }

  write(data: Uint8Array, offset = 0): void {
    let done = 0;
    while (done < data.byteLength) done += writeSync(this.#open(), data, done, data.byteLength - done, offset + done);
  }

  read(byteSize: number, offset = 0): Buffer {
    const out = Buffer.alloc(byteSize);
    let done = 0;
    while (done < byteSize) {
      const n = readSync(this.#open(), out, done, byteSize - done, offset + done);
      if (n === 0) throw new Error(`${this.key}: short read`);
      done += n;
    }
    return out;
  }

  /** Closes and unlinks the object (shm_unlink); the server's own descriptor keeps the pages alive until it closes. */
  destroy(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    unlinkSync(this.#path);
  }

  #open(): number {
    if (this.#fd === undefined) throw new Error(`${this.key} is destroyed`);
    return this.#fd;
  }
}

/** One caller's input and output regions: names as registered, objects as created. */
export interface RegionPair {
  readonly inputName: string;
  readonly outputName: string;
  readonly input: ShmObject;
  readonly output: ShmObject;
}

/** Creates `count` input/output object pairs of `byteSize` each, keys unique to this process and `tag`. */
export function createRegionPairs(tag: string, count: number, byteSize: number): RegionPair[] {
  const pairs: RegionPair[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const base = `nereid_bench_${process.pid}_${tag}_${i}`;
      const input = new ShmObject(`/${base}_in`, byteSize);
      let output: ShmObject;
      try {
        output = new ShmObject(`/${base}_out`, byteSize);
      } catch (error) {
        input.destroy();
        throw error;
      }
      pairs.push({ inputName: `${base}_in`, outputName: `${base}_out`, input, output });
    }
  } catch (error) {
    destroyRegionPairs(pairs);
    throw error;
  }
  return pairs;
}

/** Closes and unlinks every object of `pairs`. */
export function destroyRegionPairs(pairs: readonly RegionPair[]): void {
  for (const pair of pairs) {
    pair.input.destroy();
    pair.output.destroy();
  }
}
