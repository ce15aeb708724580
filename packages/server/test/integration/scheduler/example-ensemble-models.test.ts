import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ModelInferResponse } from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Random } from '../../helpers/fuzz-random.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, postInfer, replyJson, tensorBytes, type DecodedOutput } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/**
 * The example ensembles of examples/models (scripts/ensemble_models.py), over HTTP (JSON and binary)
 * and gRPC (raw and typed contents), many requests at once, every output value recomputed here from
 * the constants the models were built with:
 * - ensemble_pipeline: IMAGE -> preprocess -> (classifier, segmenter) -> SCORES, MASK;
 * - ensemble_nested: IMAGE -> ensemble_pipeline -> postprocess -> CLASS_ID, CONFIDENCE (+ MASK).
 * The members' statistics then count exactly what the ensembles sent them.
 */

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const W = [
  [2.0, -1.0, 0.5, -0.5],
  [-1.0, 2.0, 0.5, -0.5],
  [-1.0, -1.0, 0.5, 2.0],
];
const B = [0.0, 0.0, 0.25, 0.0];
const f32 = Math.fround;
/** Float tolerance: ORT sums in another order than this file. */
const TOLERANCE = 1e-5;

/** One request: a batch of images of one size, and what each output must hold. */
interface Case {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly image: Uint8Array;
  readonly scores: number[];
  readonly mask: number[];
  readonly classId: number[];
  readonly confidence: number[];
}

/** The normalised pixels of one image (float32 steps, as the preprocess graph computes them). */
function pixels(image: Uint8Array, offset: number, area: number): number[][] {
  return [0, 1, 2].map((c) =>
    Array.from({ length: area }, (_, i) => f32(f32(f32(f32(image[offset + c * area + i]!) / 255) - f32(MEAN[c]!)) / f32(STD[c]!))),
  );
}

/** Expected outputs of one image, or undefined when a value sits too close to a decision boundary. */
function expected(image: Uint8Array, offset: number, area: number) {
  const p = pixels(image, offset, area);
  const averages = p.map((channel) => channel.reduce((sum, v) => sum + v, 0) / area);
  const logits = B.map((b, k) => averages.reduce((sum, a, c) => sum + a * W[c]![k]!, b));
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const total = exps.reduce((sum, e) => sum + e, 0);
  const scores = exps.map((e) => e / total);
  const sorted = [...scores].sort((a, b) => b - a);
  const brightness = Array.from({ length: area }, (_, i) => (p[0]![i]! + p[1]![i]! + p[2]![i]!) / 3);
  if (sorted[0]! - sorted[1]! < 1e-3 || brightness.some((b) => Math.abs(b) < 1e-3)) return undefined;
  return {
    scores,
    mask: brightness.map((b) => (b > 0 ? 1 : 0)),
    classId: scores.indexOf(sorted[0]!),
    confidence: sorted[0]!,
  };
}

/** Images around a random colour (so every class shows up), redrawn while a value is on a boundary. */
function makeCase(random: Random): Case {
  const batch = random.range(1, 3);
  const height = random.range(1, 5);
  const width = random.range(1, 5);
  const area = height * width;
  const image = new Uint8Array(batch * 3 * area);
  const scores: number[] = [];
  const mask: number[] = [];
  const classId: number[] = [];
  const confidence: number[] = [];
  for (let n = 0; n < batch; n++) {
    const offset = n * 3 * area;
    for (;;) {
      const colour = [0, 1, 2].map(() => random.range(0, 255));
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < area; i++) image[offset + c * area + i] = Math.max(0, Math.min(255, colour[c]! + random.range(-60, 60)));
      }
      const values = expected(image, offset, area);
      if (values === undefined) continue;
      scores.push(...values.scores);
      mask.push(...values.mask);
      classId.push(values.classId);
      confidence.push(values.confidence);
      break;
    }
  }
  return { batch, height, width, image, scores, mask, classId, confidence };
}

const close = (actual: readonly number[], wanted: readonly number[], where: string): void => {
  assert.equal(actual.length, wanted.length, where);
  for (let i = 0; i < wanted.length; i++) {
    assert.ok(Math.abs(actual[i]! - wanted[i]!) <= TOLERANCE, `${where}[${i}]: ${actual[i]} vs ${wanted[i]}`);
  }
};

type Transport = 'http-json' | 'http-binary' | 'grpc-raw' | 'grpc-typed';
const TRANSPORTS: readonly Transport[] = ['http-json', 'http-binary', 'grpc-raw', 'grpc-typed'];

interface Output {
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

const fromBytes = (datatype: string, bytes: Uint8Array): number[] => {
  const copy = new Uint8Array(bytes).buffer;
  if (datatype === 'FP32') return Array.from(new Float32Array(copy));
  if (datatype === 'INT32') return Array.from(new Int32Array(copy));
  return Array.from(new Uint8Array(copy));
};

function httpOutputs(outputs: ReadonlyMap<string, DecodedOutput>): Map<string, Output> {
  const result = new Map<string, Output>();
  for (const [name, output] of outputs) {
    const values = output.binary !== undefined ? fromBytes(output.datatype, output.binary) : (output.data as number[]);
    result.set(name, { datatype: output.datatype, shape: output.shape, values });
  }
  return result;
}

function grpcOutputs(response: ModelInferResponse): Map<string, Output> {
  const result = new Map<string, Output>();
  response.outputs.forEach((output, i) => {
    const raw = response.rawOutputContents[i];
    assert.ok(raw !== undefined, `raw output ${output.name}`);
    result.set(output.name, { datatype: output.datatype, shape: output.shape.map(Number), values: fromBytes(output.datatype, raw) });
  });
  return result;
}

describe('example ensembles (examples/models) over HTTP and gRPC', () => {
  let server: RunningServer;
  let base = '';
  let client: InferenceGrpcClient;

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
    client = new InferenceGrpcClient(`127.0.0.1:${server.grpc?.port}`);
  });
  after(async () => {
    client.close();
    keepAliveAgent.destroy();
    await server.close();
  });

  const successes = async (model: string): Promise<number> => {
    const reply = await httpCall(base, 'GET', `/v2/models/${model}/stats`);
    const stats = (replyJson(reply) as { model_stats: { inference_stats: { success: { count: number } } }[] }).model_stats;
    return stats[0]!.inference_stats.success.count;
  };

  async function infer(model: string, c: Case, transport: Transport, outputs?: readonly string[]): Promise<Map<string, Output>> {
    const shape = [c.batch, 3, c.height, c.width];
    if (transport === 'http-json' || transport === 'http-binary') {
      const binary = transport === 'http-binary';
      const reply = await postInfer(base, model, {
        inputs: [{ name: 'IMAGE', datatype: 'UINT8', shape, ...(binary ? { binary: tensorBytes(c.image) } : { data: [...c.image] }) }],
        ...(outputs === undefined && !binary ? {} : { outputs: (outputs ?? ['SCORES', 'MASK', 'CLASS_ID', 'CONFIDENCE'].filter((name) => hasOutput(model, name))).map((name) => ({ name, parameters: { binary_data: binary } })) }),
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      return httpOutputs(reply.outputs);
    }
    const response = await client.call('modelInfer', {
      modelName: model,
      inputs: [
        {
          name: 'IMAGE',
          datatype: 'UINT8',
          shape: shape.map(BigInt),
          ...(transport === 'grpc-typed' ? { contents: { uintContents: [...c.image] } } : {}),
        },
      ],
      ...(transport === 'grpc-raw' ? { rawInputContents: [c.image] } : {}),
      ...(outputs === undefined ? {} : { outputs: outputs.map((name) => ({ name })) }),
    });
    return grpcOutputs(response);
  }

  const hasOutput = (model: string, name: string): boolean =>
    model === 'ensemble_pipeline' ? name === 'SCORES' || name === 'MASK' : name !== 'SCORES';

  function check(model: string, c: Case, outputs: Map<string, Output>, where: string): void {
    const mask = outputs.get('MASK');
    assert.deepEqual([mask?.datatype, mask?.shape], ['UINT8', [c.batch, c.height, c.width]], `${where} MASK`);
    assert.deepEqual(mask!.values, c.mask, `${where} MASK`);
    if (model === 'ensemble_pipeline') {
      assert.deepEqual([...outputs.keys()].sort(), ['MASK', 'SCORES'], where);
      const scores = outputs.get('SCORES')!;
      assert.deepEqual([scores.datatype, scores.shape], ['FP32', [c.batch, 4]], `${where} SCORES`);
      close(scores.values, c.scores, `${where} SCORES`);
      return;
    }
    assert.deepEqual([...outputs.keys()].sort(), ['CLASS_ID', 'CONFIDENCE', 'MASK'], where);
    const classId = outputs.get('CLASS_ID')!;
    assert.deepEqual([classId.datatype, classId.shape, classId.values], ['INT32', [c.batch, 1], c.classId], `${where} CLASS_ID`);
    const confidence = outputs.get('CONFIDENCE')!;
    assert.deepEqual([confidence.datatype, confidence.shape], ['FP32', [c.batch, 1]], `${where} CONFIDENCE`);
    close(confidence.values, c.confidence, `${where} CONFIDENCE`);
  }

  it('both ensembles, all four transports, 96 requests at once: every value right, members count what the ensembles sent', async () => {
    const random = new Random(0xe45);
    const models = ['ensemble_pipeline', 'ensemble_nested'] as const;
    const counted = ['ensemble_pipeline', 'ensemble_nested', 'preprocess', 'classifier', 'segmenter', 'postprocess'];
    const before = await Promise.all(counted.map(successes));
    const planned = Array.from({ length: 96 }, (_, i) => ({
      model: models[i % 2]!,
      transport: TRANSPORTS[Math.floor(i / 2) % TRANSPORTS.length]!,
      c: makeCase(random),
    }));
    // Every class and both mask values show up, so the checks below could tell a wrong model apart.
    assert.deepEqual(new Set(planned.flatMap((p) => p.c.classId)), new Set([0, 1, 2, 3]));
    assert.deepEqual(new Set(planned.flatMap((p) => p.c.mask)), new Set([0, 1]));
    await Promise.all(
      planned.map(async ({ model, transport, c }, i) => {
        check(model, c, await infer(model, c, transport), `request ${i} (${model}, ${transport}, [${c.batch},3,${c.height},${c.width}])`);
      }),
    );
    const deltas = (await Promise.all(counted.map(successes))).map((count, i) => count - before[i]!);
    const [pipeline, nested, preprocess, classifier, segmenter, postprocess] = deltas;
    assert.equal(nested, 48);
    // The nested ensemble's requests reach ensemble_pipeline as requests of their own.
    assert.equal(pipeline, 48 + 48);
    assert.deepEqual([preprocess, classifier, segmenter], [pipeline, pipeline, pipeline]);
    assert.equal(postprocess, nested);
  });

  it('returns only the outputs asked for', async () => {
    const c = makeCase(new Random(7));
    for (const transport of TRANSPORTS) {
      const outputs = await infer('ensemble_nested', c, transport, ['CLASS_ID']);
      assert.deepEqual([...outputs.keys()], ['CLASS_ID'], transport);
      assert.deepEqual(outputs.get('CLASS_ID')!.values, c.classId, transport);
    }
  });

  it('reports the ensembles and their members READY in the index, with the ensemble platform', async () => {
    const index = replyJson(await httpCall(base, 'POST', '/v2/repository/index', { body: '{}' })) as { name: string; state?: string }[];
    for (const name of ['preprocess', 'classifier', 'segmenter', 'postprocess', 'ensemble_pipeline', 'ensemble_nested']) {
      assert.equal(index.find((entry) => entry.name === name)?.state, 'READY', name);
    }
    const metadata = replyJson(await httpCall(base, 'GET', '/v2/models/ensemble_nested')) as Record<string, unknown>;
    assert.equal(metadata['platform'], 'ensemble');
    assert.deepEqual(metadata['inputs'], [{ name: 'IMAGE', datatype: 'UINT8', shape: [-1, 3, -1, -1] }]);
  });
});
