import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  ModelInferRequestSchema,
  type InferParameter,
  type ModelInferRequest_InferInputTensor,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient, type GrpcCallError } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS, FIXTURE_MODELS } from '../../helpers/paths.js';

/**
 * The sequence batcher behind real sockets and real ONNX Runtime runs of `sequence_accumulator`
 * (OUTPUT = running sum of INPUT per sequence, kept by implicit state; CORRID_OUT echoes the ID;
 * FLAGS = 100·START + 10·END + READY): many interleaved sequences over HTTP and over one gRPC
 * stream, each value checked, with the direct and the oldest strategy.
 */
function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-sequence-'));
  const variant = (name: string, edit: (config: string) => string): void => {
    cpSync(join(FIXTURE_MODELS, 'sequence_accumulator'), join(dir, name), { recursive: true });
    const file = join(dir, name, 'config.pbtxt');
    writeFileSync(file, edit(readFileSync(file, 'utf8').replace('name: "sequence_accumulator"', `name: "${name}"`)));
  };
  const twoInstances = (config: string) => config.replace('count: 1', 'count: 2');
  variant('seq_direct', twoInstances);
  variant('seq_oldest', (config) => twoInstances(config).replace('sequence_batching {', 'sequence_batching {\n  oldest { max_candidate_sequences: 4 }'));
  variant('seq_idle', (config) => config.replace('max_sequence_idle_microseconds: 5000000', 'max_sequence_idle_microseconds: 100000'));
  cpSync(join(EXAMPLE_MODELS, 'simple'), join(dir, 'simple'), { recursive: true });
  return dir;
}

interface Step {
  readonly sequence: number;
  readonly step: number;
  readonly value: number;
  readonly start: boolean;
  readonly end: boolean;
}

/** `count` sequences of `steps` steps with random values; IDs from `firstId`. */
function plan(count: number, steps: number, firstId: number): Step[][] {
  return Array.from({ length: count }, (_, s) =>
    Array.from({ length: steps }, (_, k) => ({
      sequence: firstId + s,
      step: k,
      value: Math.floor(Math.random() * 1000) - 500,
      start: k === 0,
      end: k === steps - 1,
    })),
  );
}

function expectedSum(steps: readonly Step[], upTo: number): number {
  return steps.slice(0, upTo + 1).reduce((sum, step) => sum + step.value, 0);
}

interface ModelStats {
  inference_count: number;
  execution_count: number;
  inference_stats: { success: { count: number }; fail: { count: number }; queue: { count: number } };
}

describe('sequence batching over HTTP and gRPC', () => {
  let repository = '';
  let server: RunningServer;
  let base = '';
  let grpc: InferenceGrpcClient;

  before(async () => {
    repository = buildRepository();
    server = await startServer({
      modelRepositories: [repository],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc?.port}`);
  });
  after(async () => {
    grpc.close();
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  const stats = async (model: string): Promise<ModelStats> => {
    const reply = await httpCall(base, 'GET', `/v2/models/${model}/stats`);
    return (replyJson(reply) as { model_stats: ModelStats[] }).model_stats[0]!;
  };

  const httpStep = (model: string, step: { sequence: number | string; value: number; start?: boolean; end?: boolean }) =>
    postInfer(base, model, {
      parameters: {
        sequence_id: step.sequence,
        ...(step.start ? { sequence_start: true } : {}),
        ...(step.end ? { sequence_end: true } : {}),
      },
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [step.value] }],
    });

  for (const model of ['seq_direct', 'seq_oldest']) {
    it(`${model}: 12 interleaved sequences over HTTP, each step sees its own running sum, ID and flags`, async () => {
      const before = await stats(model);
      const sequences = plan(12, 6, 1000);
      await Promise.all(
        sequences.map(async (steps) => {
          for (const step of steps) {
            const reply = await httpStep(model, step);
            assert.equal(reply.status, 200, JSON.stringify(reply.json));
            assert.deepEqual(reply.outputs.get('OUTPUT')?.data, [expectedSum(steps, step.step)]);
            assert.deepEqual(reply.outputs.get('CORRID_OUT')?.data, [step.sequence]);
            assert.deepEqual(reply.outputs.get('FLAGS')?.data, [(step.start ? 100 : 0) + (step.end ? 10 : 0) + 1]);
            assert.equal(reply.outputs.has('STATE_OUT'), false, 'state outputs stay in the server');
          }
        }),
      );
      const after = await stats(model);
      assert.equal(after.inference_count - before.inference_count, 72);
      assert.equal(after.inference_stats.success.count - before.inference_stats.success.count, 72);
      assert.equal(after.inference_stats.queue.count - before.inference_stats.queue.count, 72);
      assert.ok(after.execution_count - before.execution_count < 72, 'sequences shared batches');
    });

    it(`${model}: 16 sequences written at once on one gRPC stream, every response right`, async () => {
      const sequences = plan(16, 5, 5000);
      // Interleaved: step k of every sequence, then step k+1, all written without waiting.
      const order = sequences[0]!.flatMap((_, k) => sequences.map((steps) => steps[k]!));
      const stream = grpc.stream();
      const responses = new Map<string, ModelStreamInferResponse>();
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (message: ModelStreamInferResponse) => {
          responses.set(message.inferResponse?.id ?? `error ${responses.size}`, message);
          if (responses.size === order.length) resolve();
        });
        stream.on('error', reject);
      });
      for (const step of order) {
        const parameters: Record<string, InferParameter> = {
          sequence_id: { parameterChoice: { case: 'int64Param', value: BigInt(step.sequence) } } as InferParameter,
          sequence_start: { parameterChoice: { case: 'boolParam', value: step.start } } as InferParameter,
          sequence_end: { parameterChoice: { case: 'boolParam', value: step.end } } as InferParameter,
        };
        stream.write(
          create(ModelInferRequestSchema, {
            modelName: model,
            id: `${step.sequence}/${step.step}`,
            parameters,
            inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1n, 1n] } as ModelInferRequest_InferInputTensor],
            rawInputContents: [new Uint8Array(new Int32Array([step.value]).buffer)],
          }),
        );
      }
      await done;
      stream.end();
      for (const steps of sequences) {
        for (const step of steps) {
          const message = responses.get(`${step.sequence}/${step.step}`);
          assert.equal(message?.errorMessage, '', `step ${step.sequence}/${step.step}`);
          const response = message!.inferResponse!;
          const index = response.outputs.findIndex((output) => output.name === 'OUTPUT');
          const raw = response.rawOutputContents[index]!;
          assert.equal(Buffer.from(raw).readInt32LE(0), expectedSum(steps, step.step));
        }
      }
    });
  }

  it("errors over HTTP carry Triton's status and text, and name the ID; other sequences keep going", async () => {
    const ok = await httpStep('seq_direct', { sequence: 42, value: 3, start: true });
    assert.equal(ok.status, 200);
    const never = await httpStep('seq_direct', { sequence: 43, value: 1 });
    assert.equal(never.status, 400);
    assert.deepEqual(never.json, {
      error: "inference request for sequence 43 to model 'seq_direct' must specify the START flag on the first request of the sequence",
    });
    const noId = await postInfer(base, 'seq_direct', { inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1] }] });
    assert.equal(noId.status, 400);
    assert.deepEqual(noId.json, { error: "inference request to model 'seq_direct' must specify a non-zero or non-empty correlation ID" });
    const stringId = await httpStep('seq_direct', { sequence: 'forty-two', value: 1, start: true });
    assert.equal(stringId.status, 400);
    assert.match(String(stringId.json['error']), /sequence batching control 'CORRID' data-type is 'BYTES', but model 'seq_direct' expects 'UINT64'/);
    const notSequence = await postInfer(base, 'simple', {
      parameters: { sequence_id: 9, sequence_start: true },
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) },
      ],
    });
    assert.equal(notSequence.status, 400);
    assert.match(String(notSequence.json['error']), /sequence 9 to model 'simple' specifies sequence parameters, but the model has no sequence batching/);
    const last = await httpStep('seq_direct', { sequence: 42, value: 4, end: true });
    assert.deepEqual(last.outputs.get('OUTPUT')?.data, [7]);
  });

  it('gRPC unary: a string ID to a UINT64 model fails INVALID_ARGUMENT; a never-started one too', async () => {
    const call = (id: InferParameter['parameterChoice'], start: boolean) =>
      grpc.call('modelInfer', {
        modelName: 'seq_direct',
        parameters: {
          sequence_id: { parameterChoice: id } as InferParameter,
          sequence_start: { parameterChoice: { case: 'boolParam', value: start } } as InferParameter,
        },
        inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1n, 1n] } as ModelInferRequest_InferInputTensor],
        rawInputContents: [new Uint8Array(new Int32Array([1]).buffer)],
      });
    await assert.rejects(call({ case: 'stringParam', value: 'abc' }, true), (error: GrpcCallError) => {
      assert.equal(error.code, 3);
      assert.match(error.details, /data-type is 'BYTES', but model 'seq_direct' expects 'UINT64'/);
      return true;
    });
    await assert.rejects(call({ case: 'int64Param', value: 77n }, false), (error: GrpcCallError) => {
      assert.equal(error.code, 3);
      assert.match(error.details, /sequence 77 to model 'seq_direct' must specify the START flag/);
      return true;
    });
    const started = await call({ case: 'uint64Param', value: 78n } as InferParameter['parameterChoice'], true).catch((e: GrpcCallError) => e);
    // uint64_param is not a type Triton accepts for sequence_id over gRPC.
    assert.equal((started as GrpcCallError).code, 3);
  });

  it('a sequence idle past max_sequence_idle_microseconds is released: its next request fails as never started', async () => {
    const first = await httpStep('seq_idle', { sequence: 7, value: 5, start: true });
    assert.deepEqual(first.outputs.get('OUTPUT')?.data, [5]);
    const second = await httpStep('seq_idle', { sequence: 7, value: 1 });
    assert.deepEqual(second.outputs.get('OUTPUT')?.data, [6]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const late = await httpStep('seq_idle', { sequence: 7, value: 1 });
    assert.equal(late.status, 400);
    assert.match(String(late.json['error']), /sequence 7 to model 'seq_idle' must specify the START flag/);
    const again = await httpStep('seq_idle', { sequence: 7, value: 2, start: true, end: true });
    assert.deepEqual(again.outputs.get('OUTPUT')?.data, [2]);
  });
});
