import { LRUCache } from 'lru-cache';
import type { Tensor } from '../tensor/tensor.js';

/** What one cached response holds: the backend's output tensors, in the cache's own memory. */
interface Entry {
  readonly outputs: readonly Tensor[];
  /** The `scope` the entry was inserted under, so a model's entries can be dropped at unload. */
  readonly scope: number;
  readonly byteSize: number;
}

/**
 * The server-wide response cache (Triton's `local` cache): responses by key, bounded by bytes, the
 * least recently used evicted first. An entry's size is its tensor bytes plus the names and shapes
 * (what Triton's cache serialises); an entry larger than the whole cache is not stored.
 *
 * Bytes go in and come out as copies: a stored tensor may be a view into memory its producer reuses
 * (a batch split among requests), and a response's bytes may be moved to a codec worker once
 * encoded, which would empty a buffer the cache still held.
 */
export class ResponseCache {
  readonly capacityBytes: number;
  /** undefined when the capacity is 0: nothing fits (lru-cache needs a positive size). */
  readonly #entries: LRUCache<string, Entry> | undefined;
  #nextScope = 1;

  constructor(capacityBytes: number) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`response cache size must be a non-negative integer, got ${capacityBytes}`);
    }
    this.capacityBytes = capacityBytes;
    this.#entries =
      capacityBytes === 0
        ? undefined
        : new LRUCache<string, Entry>({ maxSize: capacityBytes, sizeCalculation: (entry) => entry.byteSize });
  }

  /** A fresh scope for one loaded model version; `dropScope` frees what was inserted under it. */
  newScope(): number {
    return this.#nextScope++;
  }

  /** The outputs stored under `key` as fresh copies (and the entry becomes most recently used). */
  lookup(key: string): Tensor[] | undefined {
    const entry = this.#entries?.get(key);
    return entry?.outputs.map(copyTensor);
  }

  /**
   * Stores copies of `outputs` under `key`, evicting least recently used entries to make room.
   * Returns false when the entry is larger than the whole cache (nothing is stored or evicted).
   */
  insert(key: string, scope: number, outputs: readonly Tensor[]): boolean {
    const byteSize = entryByteSize(outputs);
    if (this.#entries === undefined || byteSize > this.capacityBytes) return false;
    this.#entries.set(key, { outputs: outputs.map(copyTensor), scope, byteSize });
    return true;
  }

  /** Drops every entry of a scope (a model version being unloaded). */
  dropScope(scope: number): void {
    const entries = this.#entries;
    if (entries === undefined) return;
    const keys = [...entries.entries()].filter(([, entry]) => entry.scope === scope).map(([key]) => key);
    for (const key of keys) entries.delete(key);
  }

  /** Bytes held, by the same measure as the capacity. */
  get byteSize(): number {
    return this.#entries?.calculatedSize ?? 0;
  }

  get entryCount(): number {
    return this.#entries?.size ?? 0;
  }
}

/** Tensor bytes plus names and shapes (8 bytes a dimension); at least 1, as lru-cache requires. */
export function entryByteSize(outputs: readonly Tensor[]): number {
  let size = 0;
  for (const tensor of outputs) {
    size += tensor.data.byteLength + Buffer.byteLength(tensor.name, 'utf8') + tensor.datatype.length + 8 * tensor.shape.length;
  }
  return Math.max(1, size);
}

function copyTensor(tensor: Tensor): Tensor {
  return { name: tensor.name, datatype: tensor.datatype, shape: [...tensor.shape], data: tensor.data.slice() };
}
