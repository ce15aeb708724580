import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Random } from '../../helpers/fuzz-random.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/**
 * Triton's example sequence models in examples/models, as Triton's sequence clients use them, with
 * many sequences of all three models interleaved over HTTP and every value checked:
 * - simple_sequence (direct): OUTPUT = INPUT + START, integer and string IDs;
 * - simple_dyna_sequence (oldest, UINT64 CORRID): OUTPUT = INPUT + START + END·int32(ID);
 * - simple_string_dyna_sequence (oldest, STRING CORRID, implicit state): the running sum of INPUT,
 *   plus the ID parsed as an integer on END.
 */
type Id = number | bigint | string;

interface Sequence {
  readonly model: string;
  readonly id: Id;
  readonly values: readonly number[];
  /** The OUTPUT each step must give. */
  readonly expected: readonly number[];
}

const INT32 = (value: bigint) => Number(BigInt.asIntN(32, value));

function sequences(random: Random, round: number): Sequence[] {
  const values = () => Array.from({ length: random.range(3, 7) }, () => random.range(-500, 500));
  const all: Sequence[] = [];
  const simpleIds: Id[] = [101, 102, 103, 104, 105, 106, `run${round}-a`, `run${round}-b`, `run${round}-c`];
  for (const id of simpleIds) {
    const v = values();
    all.push({ model: 'simple_sequence', id, values: v, expected: v.map((x, k) => x + (k === 0 ? 1 : 0)) });
  }
  // 2^32 + 5: the model casts the UINT64 CORRID to int32 as Triton's does, keeping the low 32 bits.
  const dynaIds: Id[] = [201, 202, 203, 204, 205, 206, 207, 4294967301n];
  for (const id of dynaIds) {
    const v = values();
    const last = v.length - 1;
    all.push({
      model: 'simple_dyna_sequence',
      id,
      values: v,
      expected: v.map((x, k) => x + (k === 0 ? 1 : 0) + (k === last ? INT32(BigInt(id)) : 0)),
    });
  }
  for (const id of ['3001', '3002', '3003', '3004', '3005', '3006', '3007', '-42']) {
    const v = values();
    const last = v.length - 1;
    let sum = 0;
    all.push({
      model: 'simple_string_dyna_sequence',
      id,
      values: v,
      expected: v.map((x, k) => (sum += x) + (k === last ? Number(id) : 0)),
    });
  }
  return all;
}

interface ModelStats {
  inference_count: number;
  execution_count: number;
}

describe('example sequence models (examples/models) over HTTP', () => {
  let server: RunningServer;
  let base = '';

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
  });
  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
  });

  const stats = async (model: string): Promise<ModelStats> => {
    const reply = await httpCall(base, 'GET', `/v2/models/${model}/stats`);
    return (replyJson(reply) as { model_stats: ModelStats[] }).model_stats[0]!;
  };

  const run = async (sequence: Sequence): Promise<void> => {
    const last = sequence.values.length - 1;
    for (const [k, value] of sequence.values.entries()) {
      const reply = await postInfer(base, sequence.model, {
        parameters: {
          sequence_id: sequence.id,
          ...(k === 0 ? { sequence_start: true } : {}),
          ...(k === last ? { sequence_end: true } : {}),
        },
        inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
      });
      const where = `${sequence.model} sequence ${String(sequence.id)} step ${k}`;
      assert.equal(reply.status, 200, `${where}: ${JSON.stringify(reply.json)}`);
      assert.deepEqual(reply.outputs.get('OUTPUT')?.data, [sequence.expected[k]], where);
      assert.deepEqual([...reply.outputs.keys()], ['OUTPUT'], `${where}: the state output stays in the server`);
    }
  };

  it('interleaved sequences of all three models, twice with the same IDs: every output right', async () => {
    const random = new Random(0x5e9);
    const models = ['simple_sequence', 'simple_dyna_sequence', 'simple_string_dyna_sequence'];
    const before = await Promise.all(models.map(stats));
    let requests = 0;
    for (const round of [1, 2]) {
      // The second round reuses every ID: a new START must not see the previous sequence's sum.
      const planned = sequences(random, round);
      requests += planned.reduce((n, s) => n + s.values.length, 0);
      await Promise.all(planned.map(run));
    }
    const afterStats = await Promise.all(models.map(stats));
    const counted = afterStats.reduce((n, s, i) => n + s.inference_count - before[i]!.inference_count, 0);
    assert.equal(counted, requests);
    const stringDyna = afterStats[2]!;
    assert.ok(
      stringDyna.execution_count - before[2]!.execution_count < stringDyna.inference_count - before[2]!.inference_count,
      'the oldest strategy batched sequences together',
    );
  });
});
