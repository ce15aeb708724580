/**
 * The native engine against an oracle: every model of examples/models/ and of the test fixtures,
 * found by listing those folders, runs through Nereid's onnxruntime backend (ONNX Runtime's C API
 * through koffi) and, with the same inputs, through onnxruntime-node's InferenceSession in this
 * process. Outputs must agree exactly: datatype, shape and every byte (so NaN payloads too).
 *
 * Inputs are deterministic: a PRNG seeded by the model's name fills every element with arbitrary bit
 * patterns (floats often get NaNs with payloads, ±Inf, -0 and subnormals), BOOL with 0/1 and BYTES
 * with printable ASCII, the one string content onnxruntime-node carries exactly (it cannot carry NUL
 * or non-UTF-8 bytes; exact arbitrary bytes are covered by onnxruntime.test.ts). Dynamic dims are
 * 3, batches 1 and 2, and a batch of requests goes through one execute() too. Optional inputs
 * (overridable initializers) are both left out and fed; onnxruntime-node ignores a fed initializer,
 * so fed runs are checked against the same model with that initializer removed (withoutInitializers).
 *
 * A model the generic path cannot check (onnxruntime-node refuses it, or its inputs must be
 * special) is listed in SPECIAL with the reason and what is checked instead; any other model
 * that the oracle cannot open or run fails the test, so a new model is never skipped silently.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DataType, ModelSequenceBatching_Control_Kind, type ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { BackendInstance } from '../../../src/backends/backend.js';
import type { OnnxRuntimeInstance } from '../../../src/backends/onnxruntime/instance.js';
import type { SessionRunResult } from '../../../src/backends/onnxruntime/native/native-session.js';
import type { TensorInfo } from '../../../src/backends/onnxruntime/tensor-info.js';
import { ServerError } from '../../../src/errors/server-error.js';
import type { InferenceRequest } from '../../../src/request/inference-request.js';
import { createInstance, loadModel, request, type Loaded } from './onnxruntime-harness.js';
import {
  discoverModels,
  REPOSITORIES,
  SPECIAL,
  withoutInitializers,
  type ModelCase,
  type Special,
} from './oracle-models.js';
import {
  asciiText,
  assertSameTensor,
  datatypeOf,
  fromOrtTensor,
  joinRows,
  Prng,
  randomData,
  rowsOf,
  toOrtTensor,
  type WireTensor,
} from './oracle-tensors.js';

// ---------------------------------------------------------------------------------------------
// Requests

/** One request's inputs: wire tensors, plus the dims the model sees (rank-0 inputs take none). */
interface Feed {
  readonly name: string;
  readonly wire: WireTensor;
  readonly modelDims: readonly number[];
}

interface Scenario {
  readonly batchSize: number;
  readonly feeds: readonly Feed[];
  /** Feeds an optional input (an overridable initializer), replacing the model's stored value. */
  readonly overrides: boolean;
}

/**
 * Random inputs for every input of the completed config: the request shape is the batch dim (when
 * the model batches), then the reshape (else the dims), dynamic dims set to `dynamicDim`.
 */
function makeScenario(
  config: ModelConfig,
  modelInputs: readonly TensorInfo[],
  batchSize: number,
  rng: Prng,
  options: { dynamicDim?: number; text?: (rng: Prng) => string; omitOptional?: boolean } = {},
): Scenario {
  const batching = config.maxBatchSize > 0;
  const optional = optionalInputs(config, modelInputs);
  const wanted = [
    ...config.input.filter((input) => !(options.omitOptional === true && optional.has(input.name))),
    ...sequenceInputs(config),
  ];
  const feeds = wanted.map((input): Feed => {
    const datatype = datatypeOf(input.dataType, `input '${input.name}'`);
    const declared = input.reshape?.shape ?? input.dims;
    const dims = declared.map((dim) => (dim < 0n ? (options.dynamicDim ?? 3) : Number(dim)));
    const shape = batching ? [batchSize, ...dims] : dims;
    const count = shape.reduce((product, dim) => product * dim, 1);
    const info = modelInputs.find((candidate) => candidate.name === input.name);
    assert.ok(info, `the model has no input '${input.name}'`);
    return {
      name: input.name,
      wire: { datatype, shape, data: randomData(datatype, count, rng, options.text ?? asciiText) },
      modelDims: info.shape.length === 0 ? [] : shape,
    };
  });
  const overrides = feeds.some((feed) => optional.has(feed.name));
  return { batchSize: batching ? batchSize : 1, feeds, overrides };
}

/**
 * A sequence model's control and state inputs, which the sequence batcher feeds: here random values
 * of the control's or state's datatype, shape [1] per row for controls and the state's dims.
 */
function sequenceInputs(config: ModelConfig): Array<{ name: string; dataType: DataType; dims: bigint[]; reshape?: undefined }> {
  if (config.schedulingChoice.case !== 'sequenceBatching') return [];
  const batcher = config.schedulingChoice.value;
  const controls = batcher.controlInput.map((input) => {
    const control = input.control[0]!;
    const dataType =
      control.kind === ModelSequenceBatching_Control_Kind.CONTROL_SEQUENCE_CORRID
        ? control.dataType
        : control.int32FalseTrue.length > 0
          ? DataType.TYPE_INT32
          : control.fp32FalseTrue.length > 0
            ? DataType.TYPE_FP32
            : DataType.TYPE_BOOL;
    return { name: input.name, dataType, dims: [1n] };
  });
  const states = batcher.state.map((state) => ({ name: state.inputName, dataType: state.dataType, dims: state.dims }));
  return [...controls, ...states];
}

/**
 * Config inputs a request may leave out: `optional: true`, or backed by an initializer of the model
 * (ONNX Runtime's overridable initializers). When fed, the value replaces the stored one.
 */
function optionalInputs(config: ModelConfig, modelInputs: readonly TensorInfo[]): Set<string> {
  const initializers = new Set(modelInputs.filter((info) => info.optional === true).map((info) => info.name));
  const optional = config.input.filter((input) => input.optional || initializers.has(input.name));
  return new Set(optional.map((input) => input.name));
}

function toRequest(config: ModelConfig, scenario: Scenario): InferenceRequest {
  return request(
    scenario.feeds.map((feed) => ({ name: feed.name, ...feed.wire })),
    config.output.map((output) => output.name),
    scenario.batchSize,
  );
}

/** The shape the engine gives an output the oracle returned with `shape`: rank 0 takes the config's. */
function engineShapeOf(config: ModelConfig, name: string, shape: readonly number[]): readonly number[] {
  if (shape.length > 0) return shape;
  const output = config.output.find((candidate) => candidate.name === name);
  assert.ok(output, `no config output '${name}'`);
  return (output.reshape?.shape ?? output.dims).map(Number);
}

async function runOracle(
  session: ort.InferenceSession,
  config: ModelConfig,
  feeds: readonly Feed[],
): Promise<Map<string, WireTensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const feed of feeds) ortFeeds[feed.name] = toOrtTensor(feed.wire.datatype, feed.modelDims, feed.wire.data);
  const names = config.output.map((output) => output.name);
  const results = await session.run(ortFeeds, names);
  const outputs = new Map<string, WireTensor>();
  for (const name of names) {
    const value = results[name];
    assert.ok(value, `the oracle returned no '${name}'`);
    const wire = fromOrtTensor(name, value);
    outputs.set(name, { ...wire, shape: engineShapeOf(config, name, wire.shape) });
  }
  return outputs;
}

/** What each model was checked with, for the log. */
const verdicts = new Map<string, string[]>();
/** Models whose test passed, for the final coverage check. */
const passed = new Set<string>();

function note(label: string, what: string): void {
  const list = verdicts.get(label) ?? [];
  if (!list.includes(what)) list.push(what);
  verdicts.set(label, list);
}

async function withModel<T>(
  model: ModelCase,
  use: (loaded: Loaded, instance: BackendInstance) => Promise<T>,
): Promise<T> {
  const loaded = await loadModel(model.name, {
    repository: model.repository,
    useConfigFile: model.hasConfig,
    modelPath: model.modelPath,
  });
  try {
    const instance = await createInstance(loaded);
    try {
      return await use(loaded, instance);
    } finally {
      await instance.close();
    }
  } finally {
    await loaded.model.close();
  }
}

/** Fatal only: failures reach the test as errors, and onnxruntime's warnings would be noise. */
const ORACLE_OPTIONS: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4 };

/** Opens the oracle session, or returns why onnxruntime-node cannot. */
async function openOracle(model: ModelCase): Promise<ort.InferenceSession | Error> {
  try {
    return await ort.InferenceSession.create(model.modelFile, ORACLE_OPTIONS);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * The requests of a model: batches 1 and 2 when it batches (2 within max_batch_size); else two
 * requests, the second without the optional inputs (the first feeds every input).
 */
function scenarios(
  config: ModelConfig,
  inputs: readonly TensorInfo[],
  rng: Prng,
  special: Special | undefined,
): Scenario[] {
  const options = special?.text === undefined ? {} : { text: special.text };
  if (config.maxBatchSize === 0) {
    return [
      makeScenario(config, inputs, 1, rng, options),
      makeScenario(config, inputs, 1, rng, { ...options, omitOptional: true }),
    ];
  }
  const sizes = [1, Math.min(2, config.maxBatchSize)];
  return sizes.map((size) => makeScenario(config, inputs, size, rng, options));
}

async function checkWithOracle(
  model: ModelCase,
  loaded: Loaded,
  instance: BackendInstance,
  oracle: ort.InferenceSession,
  special: Special | undefined,
): Promise<void> {
  const { config } = loaded;
  const rng = new Prng(`${model.label}#oracle`);
  const cases = scenarios(config, loaded.model.io.inputs, rng, special);
  // Runs that feed an overridable initializer go to the model with that initializer removed.
  let overriding: ort.InferenceSession | undefined;
  const sessionFor = async (scenario: Scenario): Promise<ort.InferenceSession> => {
    if (!scenario.overrides) return oracle;
    if (overriding === undefined) {
      const names = optionalInputs(config, loaded.model.io.inputs);
      const bytes = withoutInitializers(await readFile(model.modelFile), names);
      overriding = await ort.InferenceSession.create(bytes, ORACLE_OPTIONS);
    }
    return overriding;
  };
  try {
    // Each request on its own.
    for (const [index, scenario] of cases.entries()) {
      const expected = await runOracle(await sessionFor(scenario), config, scenario.feeds);
      const result = await instance.execute([toRequest(config, scenario)]);
      const response = result.responses[0];
      if (response instanceof Error) {
        assert.fail(`${model.label} request ${index}: the engine failed: ${response.message}`);
      }
      assert.ok(response, `${model.label} request ${index}: no response`);
      assert.equal(response.length, config.output.length, `${model.label} request ${index}: output count`);
      for (const [i, output] of config.output.entries()) {
        assert.equal(response[i]?.name, output.name);
        const want = expected.get(output.name);
        assert.ok(want);
        assertSameTensor(`${model.label} request ${index} output '${output.name}'`, response[i], want);
      }
    }
    // The same requests in one execute(): joined along the batch dim when the model batches (the
    // oracle runs the joined inputs once and its outputs are cut back), else run one by one.
    const batching = config.maxBatchSize > 0;
    const result = await instance.execute(cases.map((scenario) => toRequest(config, scenario)));
    assert.equal(result.responses.length, cases.length);
    const expectedPerRequest: Array<Map<string, WireTensor>> = [];
    if (batching) {
      const first = cases[0];
      assert.ok(first);
      const joined = first.feeds.map((feed): Feed => {
        const parts = cases.map((scenario) => scenario.feeds.find((f) => f.name === feed.name)?.wire);
        const wire = joinRows(parts.map((part) => part ?? assert.fail(`'${feed.name}' missing from a request`)));
        return { name: feed.name, wire, modelDims: wire.shape };
      });
      const whole = await runOracle(await sessionFor(first), config, joined);
      let row = 0;
      for (const scenario of cases) {
        expectedPerRequest.push(
          new Map([...whole].map(([name, tensor]) => [name, rowsOf(tensor, row, row + scenario.batchSize)])),
        );
        row += scenario.batchSize;
      }
    } else {
      for (const scenario of cases) {
        expectedPerRequest.push(await runOracle(await sessionFor(scenario), config, scenario.feeds));
      }
    }
    for (const [index, response] of result.responses.entries()) {
      if (response instanceof Error) {
        assert.fail(`${model.label} request ${index} of a batch: the engine failed: ${response.message}`);
      }
      for (const [i, output] of config.output.entries()) {
        const want = expectedPerRequest[index]?.get(output.name);
        assert.ok(want);
        const how = batching ? 'joined' : 'one-by-one';
        assertSameTensor(`${model.label} ${how} request ${index} output '${output.name}'`, response[i], want);
      }
    }
    note(model.label, batching ? 'oracle (batch 1, batch 2, joined batch)' : 'oracle (two requests, one by one)');
    if (cases.some((scenario) => scenario.overrides)) {
      note(model.label, 'fed optional inputs checked against the model without those initializers');
    }
    if (cases.some((scenario) => scenario.feeds.length < config.input.length)) {
      note(model.label, 'optional inputs left out (stored initializer values)');
    }
  } finally {
    await overriding?.release();
  }
}

async function checkIdentity(model: ModelCase, loaded: Loaded, instance: BackendInstance): Promise<void> {
  const { config } = loaded;
  const { inputs, outputs } = loaded.model.io;
  // Only an identity-shaped signature qualifies: one output per input, same element type and shape.
  assert.equal(config.input.length, config.output.length, `${model.label}: identity needs as many outputs as inputs`);
  for (const [i, info] of outputs.entries()) {
    assert.equal(info.type, inputs[i]?.type, `${model.label}: output ${info.name} type vs input`);
    assert.deepEqual(info.shape, inputs[i]?.shape, `${model.label}: output ${info.name} shape vs input`);
  }
  const rng = new Prng(`${model.label}#identity`);
  for (const scenario of scenarios(config, inputs, rng, undefined)) {
    const result = await instance.execute([toRequest(config, scenario)]);
    const response = result.responses[0];
    if (response instanceof Error) assert.fail(`${model.label}: the engine failed: ${response.message}`);
    assert.ok(response);
    for (const [i, output] of config.output.entries()) {
      const feed = scenario.feeds[i];
      assert.ok(feed);
      assertSameTensor(`${model.label} identity output '${output.name}'`, response[i], feed.wire);
    }
  }
  note(model.label, 'identity (output == input)');
}

async function checkBothFail(
  model: ModelCase,
  loaded: Loaded,
  instance: BackendInstance,
  oracle: ort.InferenceSession,
  failing: NonNullable<Special['failing']>,
): Promise<void> {
  const { config } = loaded;
  const rng = new Prng(`${model.label}#failing`);
  const options = {
    ...(failing.dynamicDim === undefined ? {} : { dynamicDim: failing.dynamicDim }),
    ...(failing.text === undefined ? {} : { text: failing.text }),
  };
  const scenario = makeScenario(config, loaded.model.io.inputs, 1, rng, options);
  const oracleError = await runOracle(oracle, config, scenario.feeds).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  assert.ok(oracleError, `${model.label}: onnxruntime-node ran inputs meant to fail (${failing.why})`);
  const result = await instance.execute([toRequest(config, scenario)]);
  const response = result.responses[0];
  assert.ok(response instanceof ServerError, `${model.label}: the engine ran inputs meant to fail (${failing.why})`);
  assert.equal(response.code, 'INTERNAL');
  assert.match(response.message, /^onnx runtime error \d+: /);
  // Both report onnxruntime's own message.
  assert.equal(response.message.replace(/^onnx runtime error \d+: /, ''), oracleError.message);
  note(model.label, `both fail (${failing.why})`);
}

// ---------------------------------------------------------------------------------------------
// Tests

const { cases: MODELS, problems: LAYOUT_PROBLEMS } = discoverModels();

describe('onnxruntime engine vs onnxruntime-node (oracle)', () => {
  for (const model of MODELS) {
    it(`${model.label} gives onnxruntime-node's outputs`, async (t) => {
      const special = SPECIAL[model.label];
      const oracle = await openOracle(model);
      try {
        await withModel(model, async (loaded, instance) => {
          if (oracle instanceof Error) {
            if (special?.identityInsteadOfOracle !== true) {
              assert.fail(
                `onnxruntime-node cannot open ${model.label} (${oracle.message}); give it a reason and a check in SPECIAL`,
              );
            }
            assert.match(oracle.message, /Unsupported data type: 16/, `${model.label}: refused for another reason`);
            t.diagnostic(`${model.label}: onnxruntime-node refuses it (${oracle.message}); checked as identity`);
          } else {
            await checkWithOracle(model, loaded, instance, oracle, special);
            if (special?.failing !== undefined) await checkBothFail(model, loaded, instance, oracle, special.failing);
          }
          if (special?.identityInsteadOfOracle === true) await checkIdentity(model, loaded, instance);
        });
      } finally {
        if (!(oracle instanceof Error)) await oracle.release();
      }
      passed.add(model.label);
      t.diagnostic(`${model.label}: ${(verdicts.get(model.label) ?? []).join('; ')}`);
    });
  }

  it('runs inline and on run threads alike', async () => {
    // The first runs of a session go to a run thread; once its runs are measured tiny, later runs
    // of the same size compute inline (run-placement.ts). Outputs must not depend on where.
    for (const label of ['examples/simple', 'examples/simple_identity']) {
      const model = MODELS.find((candidate) => candidate.label === label);
      assert.ok(model, `${label} is gone: pick another tiny model`);
      const oracle = await ort.InferenceSession.create(model.modelFile, ORACLE_OPTIONS);
      try {
        await withModel(model, async (loaded, instance) => {
          const session = (instance as OnnxRuntimeInstance).session;
          const runs: SessionRunResult[] = [];
          const run = session.run.bind(session);
          session.run = async (feeds, fetches) => {
            const result = await run(feeds, fetches);
            runs.push(result);
            return result;
          };
          const scenario = makeScenario(loaded.config, loaded.model.io.inputs, 1, new Prng(`${label}#placement`));
          const expected = await runOracle(oracle, loaded.config, scenario.feeds);
          const seen = new Set<boolean>();
          // ~5–20 runs usually show both; a slow run (a loaded machine) sends the session back to run
          // threads until its estimate decays (~60 runs per slow run), hence the generous cap.
          for (let i = 0; i < 1000 && (i < 5 || seen.size < 2); i++) {
            const result = await instance.execute([toRequest(loaded.config, scenario)]);
            const response = result.responses[0];
            if (response instanceof Error) assert.fail(`${label} run ${i}: ${response.message}`);
            const placement = runs.at(-1)?.inline;
            assert.ok(placement !== undefined);
            seen.add(placement);
            for (const [j, output] of loaded.config.output.entries()) {
              const want = expected.get(output.name);
              assert.ok(want);
              const where = `${label} run ${i} (${placement ? 'inline' : 'run thread'}) '${output.name}'`;
              assertSameTensor(where, response?.[j], want);
            }
          }
          assert.deepEqual([...seen].sort(), [false, true], `${label}: runs went ${[...seen].join(', ')} only`);
          const inline = runs.filter((run) => run.inline).length;
          note(label, `inline and run-thread runs agree (${inline} inline, ${runs.length - inline} on run threads)`);
        });
      } finally {
        await oracle.release();
      }
    }
  });

  it('covered every model of both repositories', (t) => {
    assert.deepEqual(LAYOUT_PROBLEMS, []);
    for (const { prefix } of REPOSITORIES) {
      assert.ok(MODELS.some((model) => model.label.startsWith(`${prefix}/`)), `no models found in ${prefix}`);
    }
    const labels = new Set(MODELS.map((model) => model.label));
    for (const label of Object.keys(SPECIAL)) assert.ok(labels.has(label), `SPECIAL names ${label}, which is gone`);
    const missing = MODELS.filter((model) => !passed.has(model.label)).map((model) => model.label);
    assert.deepEqual(missing, [], 'models without a passing check');
    for (const model of MODELS) t.diagnostic(`${model.label}: ${verdicts.get(model.label)?.join('; ')}`);
  });
});
