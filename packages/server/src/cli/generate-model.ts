import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import { printModelConfig } from '../config/read-config.js';
import { InferenceServer } from '../core/inference-server.js';
import { toServerError } from '../errors/index.js';
import { silentLogger } from '../observability/logger.js';
import { defaultBackends, resolveOptions } from './start-server.js';

/**
 * `nereid generate-model`: writes a model folder that loads as soon as it is placed in a repository,
 * from the arguments of Triton's `gen_triton_model.py` that make sense here (`--triton_input
 * NAME,DTYPE,DIMS`, `--triton_output`, `--triton_model_dir`, `--compiled_model`, batch size,
 * instance count) plus `--backend`. Tensors named `<NAME>__<index>` follow Triton's convention for
 * unnamed ones (a spec of DTYPE,DIMS alone gets INPUT__i / OUTPUT__i). For ONNX the model file is
 * copied in and the configuration auto-completed from it and printed in full; for Python a
 * commented `model.py` skeleton is written.
 */

export type GeneratedBackend = 'onnxruntime' | 'python' | 'javascript';

export interface TensorSpec {
  readonly name: string;
  /** Triton's config datatype name, e.g. TYPE_FP32. */
  readonly dataType: string;
  readonly dims: readonly number[];
}

export interface GenerateSpec {
  readonly modelDir: string;
  readonly backend: GeneratedBackend;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly compiledModel: string | undefined;
  readonly maxBatchSize: number;
  readonly instanceCount: number;
  readonly version: number;
}

/** A bad argument: the message names it. */
export class GenerateArgumentError extends Error {}

const BACKENDS: readonly GeneratedBackend[] = ['onnxruntime', 'python', 'javascript'];

/** Reads the command line after `generate-model`. */
export function parseGenerateArgs(argv: readonly string[]): GenerateSpec {
  const program = new Command('nereid generate-model')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .option('--triton_input <NAME,DTYPE,DIMS...>', 'model input, e.g. INPUT__0,INT64,4x384 (repeatable)')
    .option('--triton_output <NAME,DTYPE,DIMS...>', 'model output, e.g. OUTPUT__0,FP32,-1x10 (repeatable)')
    .option('--triton_model_dir <dir>', 'the model folder to write; its name is the model name')
    .option('--compiled_model <file>', 'the model file (ONNX: copied in as the version\'s model.onnx)')
    .option('--backend <name>', `backend of the model: ${BACKENDS.join(', ')}`)
    .option('--triton_max_batch_size <n>', 'max_batch_size (0: no batching)', '0')
    .option('--max_batch_size <n>', 'same as --triton_max_batch_size')
    .option('--triton_model_instance_count <n>', 'instances (KIND_CPU)', '1')
    .option('--instance_count <n>', 'same as --triton_model_instance_count')
    .option('--model_version <n>', 'version folder to write', '1')
    .allowExcessArguments(false);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) throw new GenerateArgumentError(error.message.replace(/^error: /, ''));
    throw error;
  }
  const o = program.opts<Record<string, string | string[] | undefined>>();
  const modelDir = o['triton_model_dir'];
  if (typeof modelDir !== 'string' || modelDir === '') throw new GenerateArgumentError('--triton_model_dir is required');
  const compiledModel = typeof o['compiled_model'] === 'string' ? o['compiled_model'] : undefined;
  const backend = (o['backend'] as string | undefined) ?? (compiledModel !== undefined && extname(compiledModel) === '.onnx' ? 'onnxruntime' : 'python');
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    throw new GenerateArgumentError(`--backend: expected one of ${BACKENDS.join(', ')}, got '${backend}'`);
  }
  if (backend === 'onnxruntime' && compiledModel === undefined) throw new GenerateArgumentError('--compiled_model is required with --backend onnxruntime');
  const inputs = tensorSpecs('--triton_input', o['triton_input'], 'INPUT');
  const outputs = tensorSpecs('--triton_output', o['triton_output'], 'OUTPUT');
  if (backend !== 'onnxruntime' && (inputs.length === 0 || outputs.length === 0)) {
    throw new GenerateArgumentError(`--triton_input and --triton_output are required with --backend ${backend}`);
  }
  return {
    modelDir: resolve(modelDir),
    backend: backend as GeneratedBackend,
    inputs,
    outputs,
    compiledModel,
    maxBatchSize: count('--max_batch_size', (o['max_batch_size'] as string | undefined) ?? (o['triton_max_batch_size'] as string), 0),
    instanceCount: count('--instance_count', (o['instance_count'] as string | undefined) ?? (o['triton_model_instance_count'] as string), 1),
    version: count('--model_version', o['model_version'] as string, 1),
  };
}

function count(flag: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new GenerateArgumentError(`${flag}: expected an integer >= ${min}, got '${raw}'`);
  return Number(raw);
}

/** `NAME,DTYPE,DIMS` or `DTYPE,DIMS` (named `<prefix>__<index>`); DIMS like 4x384 or -1x3. */
function tensorSpecs(flag: string, raw: string | string[] | undefined, prefix: string): TensorSpec[] {
  const specs = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return specs.map((spec, index) => {
    const parts = spec.split(',');
    if (parts.length < 2 || parts.length > 3) throw new GenerateArgumentError(`${flag}: expected NAME,DTYPE,DIMS, got '${spec}'`);
    const [name, type, dims] = parts.length === 3 ? parts : [`${prefix}__${index}`, parts[0], parts[1]];
    if (name === undefined || !/^[A-Za-z_][A-Za-z0-9_.:/-]*$/.test(name)) throw new GenerateArgumentError(`${flag}: bad tensor name in '${spec}'`);
    return { name, dataType: dataTypeOf(flag, type ?? '', spec), dims: dimsOf(flag, dims ?? '', spec) };
  });
}

function dataTypeOf(flag: string, raw: string, spec: string): string {
  const upper = raw.toUpperCase();
  const name = upper === 'BYTES' ? 'TYPE_STRING' : upper.startsWith('TYPE_') ? upper : `TYPE_${upper}`;
  if (!(name in DataType) || name === 'TYPE_INVALID') throw new GenerateArgumentError(`${flag}: unknown datatype '${raw}' in '${spec}'`);
  return name;
}

function dimsOf(flag: string, raw: string, spec: string): number[] {
  const dims = raw.split('x').map((part) => (/^-?\d+$/.test(part) ? Number(part) : NaN));
  if (raw === '' || dims.some((dim) => !Number.isSafeInteger(dim) || dim < -1 || dim === 0)) {
    throw new GenerateArgumentError(`${flag}: dims must be positive integers or -1 joined by 'x' (e.g. 4x384), got '${raw}' in '${spec}'`);
  }
  return dims;
}

function tensorText(kind: 'input' | 'output', tensors: readonly TensorSpec[]): string {
  if (tensors.length === 0) return '';
  const rows = tensors.map((t) => `  {\n    name: "${t.name}"\n    data_type: ${t.dataType}\n    dims: [ ${t.dims.join(', ')} ]\n  }`);
  return `${kind} [\n${rows.join(',\n')}\n]\n`;
}

function configText(spec: GenerateSpec, name: string): string {
  return (
    `name: "${name}"\nbackend: "${spec.backend}"\nmax_batch_size: ${spec.maxBatchSize}\n` +
    tensorText('input', spec.inputs) +
    tensorText('output', spec.outputs) +
    `instance_group [ { kind: KIND_CPU count: ${spec.instanceCount} } ]\n`
  );
}

/** Writes the folder; returns the configuration written (completed from the model for ONNX). */
export async function generateModelFolder(spec: GenerateSpec): Promise<string> {
  const name = basename(spec.modelDir);
  const existing = await readdir(spec.modelDir).catch(() => [] as string[]);
  if (existing.includes('config.pbtxt')) {
    throw new GenerateArgumentError(`--triton_model_dir: '${spec.modelDir}' already holds a config.pbtxt`);
  }
  const versionDir = join(spec.modelDir, String(spec.version));
  await mkdir(versionDir, { recursive: true });
  if (spec.backend === 'onnxruntime') {
    await copyFile(spec.compiledModel!, join(versionDir, 'model.onnx')).catch((error: Error) => {
      throw new GenerateArgumentError(`--compiled_model: cannot copy '${spec.compiledModel}': ${error.message}`);
    });
    await writeFile(join(spec.modelDir, 'config.pbtxt'), configText(spec, name));
    const completed = await completedConfig(spec.modelDir, name);
    await writeFile(join(spec.modelDir, 'config.pbtxt'), completed);
    return completed;
  }
  let artifact = '';
  if (spec.compiledModel !== undefined) {
    artifact = basename(spec.compiledModel);
    await copyFile(spec.compiledModel, join(versionDir, artifact)).catch((error: Error) => {
      throw new GenerateArgumentError(`--compiled_model: cannot copy '${spec.compiledModel}': ${error.message}`);
    });
  }
  const config = configText(spec, name);
  await writeFile(join(spec.modelDir, 'config.pbtxt'), config);
  if (spec.backend === 'javascript') await writeFile(join(versionDir, 'model.ts'), typescriptSkeleton(spec, artifact));
  else await writeFile(join(versionDir, 'model.py'), pythonSkeleton(spec, artifact));
  return config;
}

/** Loads the model alone (explicit mode, no frontends) and prints its completed configuration. */
async function completedConfig(modelDir: string, name: string): Promise<string> {
  const options = resolveOptions({
    modelRepositories: [dirname(modelDir)],
    modelControlMode: 'explicit',
    startupModels: [name],
    exitOnError: false,
  });
  const server = await InferenceServer.create(options, defaultBackends(), silentLogger);
  try {
    if (!server.isModelReady(name, '')) {
      const reason = (await server.repositoryIndex({ readyOnly: false })).find((entry) => entry.name === name)?.reason ?? 'unknown';
      throw new GenerateArgumentError(`the generated model does not load: ${reason}`);
    }
    return `# Generated by nereid generate-model; completed from the model file.\n${printModelConfig(server.modelConfig(name, ''))}`;
  } finally {
    await server.stop();
  }
}

function pythonSkeleton(spec: GenerateSpec, artifact: string): string {
  const reads = spec.inputs.map((t) => `            ${pyName(t.name)} = pb_utils.get_input_tensor_by_name(request, "${t.name}").as_numpy()`).join('\n');
  const writes = spec.outputs
    .map((t) => {
      const shape = t.dims.map((d) => (d === -1 ? 1 : d));
      const full = spec.maxBatchSize > 0 ? `(batch, ${shape.join(', ')})` : `(${shape.join(', ')},)`;
      return `            # TODO: compute "${t.name}" (${t.dataType}, dims [${t.dims.join(', ')}]).\n` +
        `            ${pyName(t.name)}_out = np.zeros(${full}, dtype=self.dtypes["${t.name}"])`;
    })
    .join('\n');
  const batch = spec.maxBatchSize > 0 ? `            batch = ${pyName(spec.inputs[0]!.name)}.shape[0]\n` : '';
  const tensors = spec.outputs.map((t) => `pb_utils.Tensor("${t.name}", ${pyName(t.name)}_out)`).join(', ');
  return `"""Generated by nereid generate-model: a Triton Python model (runs unchanged on Triton and Nereid).

Fill in initialize() to load your model${artifact === '' ? '' : ` (the version folder holds '${artifact}')`} and execute() to compute
the outputs; until then it answers zeros of the declared shapes.
"""
import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        # args["model_config"] is the model's configuration as JSON.
        self.model_config = json.loads(args["model_config"])
        self.dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"])
            for output in self.model_config["output"]
        }
        self.version_dir = os.path.join(args["model_repository"], args["model_version"])
${artifact === '' ? '' : `        self.model_file = os.path.join(self.version_dir, "${artifact}")\n        # TODO: load self.model_file.\n`}
    def execute(self, requests):
        responses = []
        for request in requests:
${reads}
${batch}${writes}
            responses.append(pb_utils.InferenceResponse(output_tensors=[${tensors}]))
        return responses

    def finalize(self):
        pass
`;
}

/** The TypedArray a JavaScript model answers each config datatype with. */
const TYPED_ARRAYS: Readonly<Record<string, string>> = {
  TYPE_BOOL: 'Uint8Array', TYPE_UINT8: 'Uint8Array', TYPE_UINT16: 'Uint16Array', TYPE_UINT32: 'Uint32Array', TYPE_UINT64: 'BigUint64Array',
  TYPE_INT8: 'Int8Array', TYPE_INT16: 'Int16Array', TYPE_INT32: 'Int32Array', TYPE_INT64: 'BigInt64Array',
  TYPE_FP16: 'Uint16Array', TYPE_FP32: 'Float32Array', TYPE_FP64: 'Float64Array', TYPE_BF16: 'Uint16Array',
};

function typescriptSkeleton(spec: GenerateSpec, artifact: string): string {
  const reads = spec.inputs.map((t) => `    const ${jsName(t.name)} = request.input('${t.name}')!;`).join('\n');
  const batch = spec.maxBatchSize > 0 ? `    const batch = ${jsName(spec.inputs[0]!.name)}.shape[0]!;\n` : '';
  const outputs = spec.outputs
    .map((t) => {
      const dims = t.dims.map((d) => (d === -1 ? 1 : d));
      const shape = spec.maxBatchSize > 0 ? `[batch, ${dims.join(', ')}]` : `[${dims.join(', ')}]`;
      const count = dims.reduce((a, b) => a * b, 1);
      const size = spec.maxBatchSize > 0 ? `batch * ${count}` : String(count);
      const data = t.dataType === 'TYPE_STRING' ? `Array.from({ length: ${size} }, () => new Uint8Array(0))` : `new ${TYPED_ARRAYS[t.dataType] ?? 'Float32Array'}(${size})`;
      return `        // TODO: compute '${t.name}' (${t.dataType}, dims [${t.dims.join(', ')}]).\n        { name: '${t.name}', shape: ${shape}, data: ${data} },`;
    })
    .join('\n');
  return `// Generated by nereid generate-model: a TypeScript model for Nereid's JavaScript backend (the server
// compiles it when it loads the model; the types come from 'nereid/model').
// Fill in initialize() to load your model${artifact === '' ? '' : ` (the version folder holds '${artifact}')`} and execute() to compute the
// outputs; until then it answers zeros of the declared shapes.
import type { InitializeArgs, Request, Response } from 'nereid/model';

export function initialize(args: InitializeArgs): void {
  // args.model_config is the model's configuration; the version folder is
  // \`\${args.model_repository}/\${args.model_version}\`.
  void args;
}

export function execute(requests: readonly Request[]): Response[] {
  return requests.map((request) => {
${reads}
    void [${spec.inputs.map((t) => jsName(t.name)).join(', ')}]; // TODO: read the inputs' .data
${batch}    return {
      outputs: [
${outputs}
      ],
    };
  });
}

export function finalize(): void {}
`;
}

function jsName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
  return /^[0-9]/.test(cleaned) ? `t_${cleaned}` : cleaned;
}

function pyName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
}

/** The subcommand's entry: exit code 0, or 2 with the argument named. */
export async function runGenerateModel(argv: readonly string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  try {
    const spec = parseGenerateArgs(argv);
    const config = await generateModelFolder(spec);
    out(`wrote ${spec.modelDir}\n${config}`);
    return 0;
  } catch (error) {
    if (error instanceof GenerateArgumentError) {
      err(`error: ${error.message}\nUsage: nereid generate-model --triton_model_dir <dir> [--backend onnxruntime|python|javascript] ...\n`);
      return 2;
    }
    err(`error: ${toServerError(error).message}\n`);
    return 1;
  }
}
