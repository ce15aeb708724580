/** What a session reports about one of a model's inputs or outputs. */
export interface TensorInfo {
  readonly name: string;
  /** Element type name ('float32', 'string', 'bfloat16', ...; see dtype-map.ts); '' for non-tensors. */
  readonly type: string;
  /** Dims as the model declares them; symbolic and unknown dims are -1. Empty for scalars. */
  readonly shape: readonly number[];
  /**
   * An input backed by an initializer (ONNX Runtime's overridable initializers): a request may omit
   * it, and the initializer's value is used.
   */
  readonly optional?: boolean;
}

/** A model's inputs and outputs, in the model's order (overridable initializers after the inputs). */
export interface ModelIo {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}
