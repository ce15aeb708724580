/**
 * The native arrays one OrtApi::Run reads and writes, in one off-heap block:
 * [input names | input values | output names | output values]. The output values must be NULL
 * before every run (a non-null entry is taken as a pre-allocated output), so `reset` clears them.
 * Its address never moves (an explicit ArrayBuffer), so a run thread can use it while the main
 * thread goes on.
 */
import { koffi } from './ffi.js';
import type { Pointer } from './ort-api.js';
import type { OrtValues } from './ort-values.js';

export class RunFrame {
  readonly #slots: BigUint64Array;
  readonly #base: bigint;
  readonly #inputCapacity: number;
  readonly #outputCapacity: number;
  #inputs = 0;
  #outputs = 0;
  #arguments: bigint[] | undefined;
  /** The counts #arguments was built for. */
  #argumentInputs = -1;
  #argumentOutputs = -1;

  constructor(inputCapacity: number, outputCapacity: number) {
    this.#inputCapacity = inputCapacity;
    this.#outputCapacity = outputCapacity;
    this.#slots = new BigUint64Array(new ArrayBuffer(8 * Math.max(1, 2 * inputCapacity + 2 * outputCapacity)));
    this.#base = koffi.address(this.#slots) as bigint;
    this.#inputs = inputCapacity;
    this.#outputs = outputCapacity;
  }

  fits(inputCount: number, outputCount: number): boolean {
    return inputCount <= this.#inputCapacity && outputCount <= this.#outputCapacity;
  }

  /** Prepares the frame for a run with these counts; every value slot is NULL afterwards. */
  reset(inputCount: number, outputCount: number): void {
    this.#slots.fill(0n);
    this.#inputs = inputCount;
    this.#outputs = outputCount;
  }

  setInput(index: number, name: Pointer, value: Pointer): void {
    this.#slots[index] = name;
    this.#slots[this.#inputCapacity + index] = value;
  }

  setOutputName(index: number, name: Pointer): void {
    this.#slots[2 * this.#inputCapacity + index] = name;
  }

  /** The OrtValue* the run wrote for output `index` (0n when none). */
  output(index: number): Pointer {
    return this.#slots[2 * this.#inputCapacity + this.#outputCapacity + index] ?? 0n;
  }

  /**
   * OrtApi::Run's arguments, in its order. The same array while session and counts stay the same (a
   * session's reused inline frame builds it once, not eight BigInts per run); callers only read it.
   */
  runArguments(session: Pointer, runOptions: Pointer): readonly bigint[] {
    const cached = this.#arguments;
    if (
      cached !== undefined &&
      cached[0] === session &&
      cached[1] === runOptions &&
      this.#argumentInputs === this.#inputs &&
      this.#argumentOutputs === this.#outputs
    ) {
      return cached;
    }
    const base = this.#base;
    this.#argumentInputs = this.#inputs;
    this.#argumentOutputs = this.#outputs;
    this.#arguments = [
      session,
      runOptions,
      base,
      base + BigInt(8 * this.#inputCapacity),
      BigInt(this.#inputs),
      base + BigInt(16 * this.#inputCapacity),
      BigInt(this.#outputs),
      base + BigInt(8 * (2 * this.#inputCapacity + this.#outputCapacity)),
    ];
    return this.#arguments;
  }

  /**
   * Hands the frame's large string tensors (inputs and outputs) to `release` and forgets them, so
   * that releaseValues leaves them alone: freeing millions of std::strings is run-thread work.
   */
  takeLargeStringValues(values: OrtValues, release: (value: Pointer) => void): void {
    for (const [start, count] of this.#valueSlots()) {
      for (let i = start; i < start + count; i++) {
        const value = this.#slots[i] ?? 0n;
        if (value === 0n || !values.isLargeStringTensor(value)) continue;
        this.#slots[i] = 0n;
        release(value);
      }
    }
  }

  #valueSlots(): ReadonlyArray<readonly [number, number]> {
    return [
      [this.#inputCapacity, this.#inputs],
      [2 * this.#inputCapacity + this.#outputCapacity, this.#outputs],
    ];
  }

  /** Releases every value the frame holds (inputs made for the run, outputs the run made). */
  releaseValues(values: OrtValues): void {
    for (const [start, count] of this.#valueSlots()) {
      for (let i = start; i < start + count; i++) {
        values.release(this.#slots[i] ?? null);
        this.#slots[i] = 0n;
      }
    }
  }
}
