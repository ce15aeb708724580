// An example custom backend for Nereid, used the way Triton's LightSeq backend is: a model folder
// names `backend: "textops"`, its `default_model_filename` (a file in the model folder; the version
// folder stays empty) and a string parameter `model_type` choosing what the model does:
//
//   Upper      TEXT -> TEXT, upper-cased, with the model file's "suffix" appended
//   Reverse    TEXT -> TEXT, characters reversed
//   WordCount  TEXT -> COUNT (INT32), words per element
//
// `--backend-config=textops,separator=<text>` sets how WordCount splits words (default: spaces).
// It implements the same interface as Nereid's built-in backends (docs/backends.md); plain
// JavaScript, no dependencies, so it runs wherever the server does.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const MODEL_TYPES = ['Upper', 'Reverse', 'WordCount'];

/** BYTES tensors travel as 4-byte little-endian lengths, each followed by the element's bytes. */
function decodeStrings(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = [];
  for (let offset = 0; offset < data.byteLength; ) {
    const length = view.getUint32(offset, true);
    out.push(Buffer.from(data.subarray(offset + 4, offset + 4 + length)).toString('utf8'));
    offset += 4 + length;
  }
  return out;
}

function encodeStrings(strings) {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.writeUInt32LE(part.length, offset);
    part.copy(out, offset + 4);
    offset += 4 + part.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The model file: the version folder first, then the model folder (LightSeq's layout). */
async function readModelFile(context) {
  const name = context.config.defaultModelFilename;
  for (const dir of [context.versionDir, context.modelDir]) {
    try {
      return JSON.parse(await readFile(join(dir, name), 'utf8'));
    } catch (error) {
      if (error.code !== 'ENOENT') throw new Error(`textops: cannot read '${join(dir, name)}': ${error.message}`);
    }
  }
  throw new Error(`textops: model file '${name}' of model '${context.modelName}' is in neither '${context.versionDir}' nor '${context.modelDir}'`);
}

export default {
  name: 'textops',
  platforms: [],
  defaultPlatform: '',
  defaultModelFilename: 'textops.json',
  defaultCpuInstanceCount: 1,
  // The model file lives in the model folder; the version folder may be empty.
  requiresModelFile: false,

  async loadModel(context) {
    const modelType = context.config.parameters['model_type']?.stringValue ?? '';
    if (!MODEL_TYPES.includes(modelType)) {
      throw new Error(`textops: parameter 'model_type' of model '${context.modelName}' must be one of ${MODEL_TYPES.join(', ')}, got '${modelType}'`);
    }
    const options = await readModelFile(context);
    const separator = context.backendConfig.get('separator') ?? ' ';
    const run = {
      Upper: (text) => text.toUpperCase() + (options.suffix ?? ''),
      Reverse: (text) => [...text].reverse().join(''),
      WordCount: (text) => text.split(separator).filter((word) => word !== '').length,
    }[modelType];
    return {
      completeConfig(config) {
        const wanted = modelType === 'WordCount' ? 'COUNT' : 'TEXT';
        if (!config.input.some((input) => input.name === 'TEXT')) throw new Error(`textops: model '${context.modelName}' needs an input 'TEXT'`);
        if (!config.output.some((output) => output.name === wanted)) throw new Error(`textops: model '${context.modelName}' needs an output '${wanted}'`);
      },
      async createInstance() {
        return {
          async execute(requests) {
            const responses = requests.map((request) => {
              const input = request.inputs.find((tensor) => tensor.name === 'TEXT');
              const results = decodeStrings(input.data).map(run);
              if (modelType === 'WordCount') {
                return [{ name: 'COUNT', datatype: 'INT32', shape: input.shape, data: new Uint8Array(new Int32Array(results).buffer) }];
              }
              return [{ name: 'TEXT', datatype: 'BYTES', shape: input.shape, data: encodeStrings(results) }];
            });
            return { responses, timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } };
          },
          async close() {},
        };
      },
      async close() {},
    };
  },
};
