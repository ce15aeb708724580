/**
 * What the server reads of a request's cancellation: AbortSignal has this shape, and so does
 * CancelToken, which the gRPC frontend makes per call. An AbortController costs ~4 µs to create
 * (a DOM event target), a measurable share of a small gRPC request's CPU; a call needs one listener.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A one-shot cancellation: listeners run once, at the first cancel(). */
export class CancelToken implements CancelSignal {
  #aborted = false;
  #listeners: Array<() => void> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.#aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const index = listeners.indexOf(listener);
    if (index !== -1) listeners.splice(index, 1);
  }

  cancel(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    // Every listener runs, whatever another one throws; a cancel must not fail its caller
    // (the gRPC transport's stream 'close' handler).
    for (const listener of listeners ?? []) {
      try {
        listener();
      } catch {
        // A listener's own failure is its to report.
      }
    }
  }
}
