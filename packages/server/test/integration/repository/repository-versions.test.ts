import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, postInfer, keepAliveAgent, replyJson } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';
import { recordingLogger } from '../grpc/start.js';

const SIMPLE = join(EXAMPLE_MODELS, 'simple');
const TWO_53 = '9007199254740992';
const TWO_53_PLUS_1 = '9007199254740993';
const PAST_INT64 = '99999999999999999999';

/**
 * Versions are int64: folders past 2^53 load as themselves (not rounded into each other), a folder
 * past int64 is skipped with a warning and takes no other version down, and every API names and
 * reaches each version exactly.
 */
describe('int64 model versions stay exact end to end', () => {
  let repo: string;
  let server: RunningServer;
  let base: string;
  let grpc: InferenceGrpcClient;
  const logLines: string[] = [];

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-versions-'));
    const dir = join(repo, 'big');
    mkdirSync(dir);
    const config = readFileSync(join(SIMPLE, 'config.pbtxt'), 'utf8').replace('name: "simple"', 'name: "big"');
    writeFileSync(join(dir, 'config.pbtxt'), `${config}\nversion_policy: { all {} }\n`);
    for (const version of ['1', PAST_INT64, TWO_53, TWO_53_PLUS_1]) {
      mkdirSync(join(dir, version));
      copyFileSync(join(SIMPLE, '1', 'model.onnx'), join(dir, version, 'model.onnx'));
    }
    server = await startServer({
      modelRepositories: [repo],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      logger: recordingLogger(logLines),
    });
    base = `http://127.0.0.1:${server.http!.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
  });

  after(async () => {
    keepAliveAgent.destroy();
    grpc.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  const ones = Array.from({ length: 16 }, () => 1);
  const inputs = [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: ones },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: ones },
  ];

  it('loads 1, 2^53 and 2^53+1 and skips the folder past int64 with a warning', async () => {
    assert.ok(
      logLines.some((line) => line.startsWith('W ') && line.includes(`'${PAST_INT64}'`) && line.includes('int64')),
      logLines.join('\n'),
    );
    const metadata = replyJson(await httpCall(base, 'GET', '/v2/models/big')) as { versions: string[] };
    assert.deepEqual(metadata.versions, ['1', TWO_53, TWO_53_PLUS_1]);
    const index = replyJson(await httpCall(base, 'POST', '/v2/repository/index', { body: '{}' }));
    assert.deepEqual(index, [
      { name: 'big', version: '1', state: 'READY' },
      { name: 'big', version: TWO_53, state: 'READY' },
      { name: 'big', version: TWO_53_PLUS_1, state: 'READY' },
    ]);
    assert.equal((await httpCall(base, 'GET', '/v2/health/ready')).status, 200);
    const viaGrpc = await grpc.call('modelMetadata', { name: 'big', version: '' });
    assert.deepEqual(viaGrpc.versions, ['1', TWO_53, TWO_53_PLUS_1]);
  });

  it('reaches each version distinctly over HTTP and gRPC', async () => {
    for (const version of ['1', TWO_53, TWO_53_PLUS_1]) {
      assert.equal((await httpCall(base, 'GET', `/v2/models/big/versions/${version}/ready`)).status, 200);
    }
    assert.equal((await httpCall(base, 'GET', `/v2/models/big/versions/${PAST_INT64}/ready`)).status, 400);
    const reply = await postInfer(base, 'big', { inputs }, { version: TWO_53_PLUS_1 });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.json['model_version'], TWO_53_PLUS_1);
    const viaGrpc = await grpc.call('modelInfer', {
      modelName: 'big',
      modelVersion: TWO_53_PLUS_1,
      inputs: inputs.map((input) => ({
        name: input.name,
        datatype: input.datatype,
        shape: input.shape.map(BigInt),
        contents: { intContents: input.data },
      })),
    });
    assert.equal(viaGrpc.modelVersion, TWO_53_PLUS_1);
    const latest = await postInfer(base, 'big', { inputs });
    assert.equal(latest.json['model_version'], TWO_53_PLUS_1, 'the highest version serves an unversioned request');
    const first = await postInfer(base, 'big', { inputs }, { version: TWO_53 });
    assert.equal(first.json['model_version'], TWO_53);

    // Statistics are kept per version: 2^53+1 served three requests, 2^53 one.
    const counts = new Map<string, number>();
    for (const version of [TWO_53, TWO_53_PLUS_1]) {
      const stats = replyJson(await httpCall(base, 'GET', `/v2/models/big/versions/${version}/stats`)) as {
        model_stats: { version: string; inference_count: number }[];
      };
      assert.equal(stats.model_stats[0]?.version, version);
      counts.set(version, stats.model_stats[0]!.inference_count);
    }
    assert.deepEqual(Object.fromEntries(counts), { [TWO_53]: 1, [TWO_53_PLUS_1]: 3 });
  });
});
