import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { httpCall, keepAliveAgent, postInfer, replyJson } from '../../helpers/http-client.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';

/**
 * `--rate-limit=execution_count` on a real server: two models whose instances need the one unit of
 * global resource R never compute at the same time, and a model needing more than
 * `--rate-limit-resource` gives fails to load with Triton's text.
 */
function buildRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nereid-rate-limit-'));
  for (const [name, count] of [['slow_a', 1], ['slow_b', 1], ['slow_big', 2]] as const) {
    cpSync(join(FIXTURE_MODELS, 'slow_identity'), join(dir, name), { recursive: true });
    const config = readFileSync(join(dir, name, 'config.pbtxt'), 'utf8').replace('name: "slow_identity"', `name: "${name}"`);
    const group = `instance_group [ { kind: KIND_CPU count: 1 rate_limiter { resources [ { name: "R" global: true count: ${count} } ] } } ]`;
    writeFileSync(join(dir, name, 'config.pbtxt'), `${config}\n${group}\n`);
  }
  return dir;
}

interface Stats {
  batch_stats: Array<{ compute_infer: { ns: number } }>;
}

describe('rate limiter over HTTP', () => {
  let repository = '';
  let server: RunningServer;
  let base = '';

  before(async () => {
    repository = buildRepository();
    server = await startServer({
      modelRepositories: [repository],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      exitOnError: false,
      rateLimit: { enabled: true, resources: [{ name: 'R', count: 1, device: undefined }] },
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http?.port}`;
  });
  after(async () => {
    keepAliveAgent.destroy();
    await server.close();
    rmSync(repository, { recursive: true, force: true });
  });

  it('models sharing one unit of a global resource run one at a time, and all answer', async () => {
    const started = process.hrtime.bigint();
    const replies = await Promise.all(
      ['slow_a', 'slow_b', 'slow_a', 'slow_b'].map((model, i) =>
        postInfer(base, model, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [i, i + 1] }] }),
      ),
    );
    const wallNs = Number(process.hrtime.bigint() - started);
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, [i, i + 1]);
    });
    let computeNs = 0;
    for (const model of ['slow_a', 'slow_b']) {
      const stats = replyJson(await httpCall(base, 'GET', `/v2/models/${model}/stats`)) as { model_stats: Stats[] };
      for (const batch of stats.model_stats[0]!.batch_stats) computeNs += batch.compute_infer.ns;
    }
    // Run one at a time, the executions' compute times add up within the wall time; had they
    // overlapped (2 cores, one thread each), their sum would exceed it.
    assert.ok(computeNs <= wallNs, `compute ${(computeNs / 1e6).toFixed(1)} ms within wall ${(wallNs / 1e6).toFixed(1)} ms`);
  });

  it('a model that needs more than --rate-limit-resource gives is not loaded, with Triton\'s reason', async () => {
    const index = replyJson(await httpCall(base, 'POST', '/v2/repository/index', { body: '{}' })) as Array<{
      name: string;
      state: string;
      reason: string;
    }>;
    const big = index.find((entry) => entry.name === 'slow_big');
    assert.equal(big?.state, 'UNAVAILABLE');
    assert.equal(
      big?.reason,
      'Resource count for "R" is limited to 1 which will prevent scheduling of one or more model instances, the minimum required count is 2',
    );
  });
});
