/**
 * A push-driven async iterator: producers `push` values, `end` or `fail`; the consumer iterates.
 * `onReturn` runs when the consumer stops early (break, throw), so the producer can cancel.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #values: T[] = [];
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  #done = false;
  #error: { value: unknown } | undefined;

  constructor(private readonly onReturn: () => void = () => {}) {}

  push(value: T): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve({ value, done: false });
    } else {
      this.#values.push(value);
    }
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = { value: error };
    this.#settle();
  }

  #settle(): void {
    const waiting = this.#waiting;
    if (waiting === undefined || this.#values.length > 0) return;
    this.#waiting = undefined;
    if (this.#error !== undefined) waiting.reject(this.#error.value);
    else waiting.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#values.length > 0) return Promise.resolve({ value: this.#values.shift()!, done: false });
    if (this.#error !== undefined) {
      const error = this.#error.value;
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#done) {
      this.#done = true;
      this.#values.length = 0;
      this.onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
