/** OrtStatus handling and out-parameter slots for calls into ONNX Runtime's C API. */
import type { NullablePointer, OrtApi, Pointer } from './ort-api.js';

/** An error ONNX Runtime returned, with its OrtErrorCode. */
export class OrtError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'OrtError';
  }
}

/** Throws the OrtStatus a call returned (after reading and releasing it); NULL means success. */
export function check(api: OrtApi, status: unknown): void {
  if (status === null || status === 0n) return;
  const code = api.GetErrorCode(status as Pointer) as number;
  const message = api.GetErrorMessage(status as Pointer) as string;
  api.ReleaseStatus(status as Pointer);
  throw new OrtError(code, message);
}

/**
 * An 8-byte out-parameter. Backed by its own ArrayBuffer so its address never moves (V8 may move
 * small typed arrays that own no ArrayBuffer). One per thread is enough for synchronous calls.
 */
export class OutSlot {
  readonly #words = new BigUint64Array(new ArrayBuffer(8));
  readonly #ints = new Int32Array(this.#words.buffer);

  /** What to pass for the `T* out` parameter; cleared first. */
  get arg(): BigUint64Array {
    this.#words[0] = 0n;
    return this.#words;
  }

  pointer(): Pointer {
    return this.#words[0] ?? 0n;
  }

  nullablePointer(): NullablePointer {
    const value = this.pointer();
    return value === 0n ? null : value;
  }

  size(): number {
    return Number(this.#words[0]);
  }

  int32(): number {
    return this.#ints[0] ?? 0;
  }
}
