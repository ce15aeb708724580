import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer, type StartOptions } from '../../../src/cli/start-server.js';
import { ServerError } from '../../../src/errors/index.js';
import { keepAliveAgent, postInfer } from '../../helpers/http-client.js';
import { FIXTURE_MODELS } from '../../helpers/paths.js';
import { S3RVER_KEY, TestS3Server } from '../../helpers/s3-server.js';
import { recordingLogger } from '../grpc/start.js';

// The server reads the standard AWS variables; each test file runs in its own process.
process.env['AWS_ACCESS_KEY_ID'] = S3RVER_KEY;
process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_KEY;
process.env['AWS_DEFAULT_REGION'] = 'us-east-1';
delete process.env['AWS_SESSION_TOKEN'];
// Triton's variable for where S3 repositories are copied: here, a folder the tests can watch.
const MOUNT = mkdtempSync(join(tmpdir(), 'nereid-s3-mount-'));
process.env['TRITON_AWS_MOUNT_DIRECTORY'] = MOUNT;

const BUCKET = 'models';
const FP32 = join(FIXTURE_MODELS, 'identity_fp32');
const INT32 = join(FIXTURE_MODELS, 'identity_int32');

function start(repository: string, lines: string[], options: StartOptions = {}): Promise<RunningServer> {
  return startServer({
    modelRepositories: [repository],
    http: { port: 0, address: '127.0.0.1' },
    grpc: { allow: false },
    exitOnError: false,
    logger: recordingLogger(lines),
    ...options,
  });
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** The local copies under the mount folder (one per open S3 repository). */
function copies(): string[] {
  return readdirSync(MOUNT);
}

async function inferFp32(server: RunningServer, model = 'identity_fp32'): Promise<unknown> {
  const reply = await postInfer(`http://127.0.0.1:${server.http!.port}`, model, {
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: [1.5, -2, 3.25] }],
  });
  assert.equal(reply.status, 200, reply.body.toString());
  return reply.outputs.get('OUTPUT0')?.data;
}

describe('s3:// model repositories on a real S3-protocol server (s3rver)', () => {
  let s3: TestS3Server;

  before(async () => {
    s3 = await TestS3Server.start([BUCKET]);
  });

  after(async () => {
    keepAliveAgent.destroy();
    await s3.close();
    rmSync(MOUNT, { recursive: true, force: true });
  });

  it('serves an ONNX model from s3://host:port/bucket/path over HTTP and removes its copy at stop', async () => {
    await s3.upload(BUCKET, 'serve/repo/identity_fp32/', FP32);
    // Keys that are no path inside the repository are skipped, never written outside the copy.
    await s3.put(BUCKET, 'serve/repo/sneaky/..', 'x');
    const lines: string[] = [];
    // Triton's grammar: an explicit http:// before host:port, repeated and trailing slashes.
    const server = await start(`s3://http://${s3.hostPort}//${BUCKET}/serve//repo/`, lines);
    try {
      assert.deepEqual(await inferFp32(server), [1.5, -2, 3.25]);
      assert.equal(copies().length, 1);
      const copy = join(MOUNT, copies()[0]!, 'repository');
      assert.deepEqual(readFileSync(join(copy, 'identity_fp32', '1', 'model.onnx')), readFileSync(join(FP32, '1', 'model.onnx')));
      assert.ok(lines.some((line) => line.startsWith('W ') && line.includes("skipping object 'serve/repo/sneaky/..': its key is not a path inside the repository")), lines.join('\n'));
      const index = await server.core.repositoryIndex({ readyOnly: false });
      assert.deepEqual(index.map((entry) => entry.name), ['identity_fp32']);
    } finally {
      await server.close();
    }
    assert.deepEqual(copies(), [], 'the local copy is removed at stop');
  });

  it('poll mode notices an added model, a changed config with a new version, and a removed model', async () => {
    await s3.upload(BUCKET, 'poll/identity_fp32/', FP32);
    const lines: string[] = [];
    const server = await start(`s3://${s3.hostPort}/${BUCKET}/poll`, lines, { modelControlMode: 'poll', repositoryPollSecs: 0.1 });
    const { core } = server;
    try {
      assert.deepEqual(core.modelMetadata('identity_fp32', '').versions, ['1']);
      assert.equal(core.isModelReady('identity_int32', ''), false);

      await s3.upload(BUCKET, 'poll/identity_int32/', INT32);
      await waitFor('the added model is ready', () => core.isModelReady('identity_int32', ''));

      // A new version folder and a config that serves every version: one poll sees both.
      await s3.put(BUCKET, 'poll/identity_fp32/2/model.onnx', readFileSync(join(FP32, '1', 'model.onnx')));
      const config = readFileSync(join(FP32, 'config.pbtxt'), 'utf8');
      await s3.put(BUCKET, 'poll/identity_fp32/config.pbtxt', `${config}\nversion_policy: { all {} }\n`);
      await waitFor('version 2 serves beside 1', () => core.modelMetadata('identity_fp32', '').versions.join() === '1,2');
      assert.deepEqual(await inferFp32(server), [1.5, -2, 3.25]);

      await s3.remove(BUCKET, 'poll/identity_int32/');
      await waitFor('the removed model is unloaded', async () => !(await core.repositoryIndex({ readyOnly: false })).some((entry) => entry.name === 'identity_int32'));
      assert.equal(core.isModelReady('identity_int32', ''), false);
      const copy = join(MOUNT, copies()[0]!, 'repository');
      assert.equal(existsSync(join(copy, 'identity_int32')), false, 'the removed model is deleted from the local copy');
      assert.ok(existsSync(join(copy, 'identity_fp32', '2', 'model.onnx')));
      assert.ok(lines.some((line) => line.includes('files fetched')), lines.join('\n'));
    } finally {
      await server.close();
    }
    assert.deepEqual(copies(), []);
  });

  it('explicit mode: a load request fetches the model as it is in the bucket now', async () => {
    await s3.upload(BUCKET, 'explicit/identity_fp32/', FP32);
    const server = await start(`s3://${s3.hostPort}/${BUCKET}/explicit`, [], { modelControlMode: 'explicit' });
    const { core } = server;
    try {
      await assert.rejects(core.loadModel('identity_int32', {}), /failed to load 'identity_int32'/);
      await s3.upload(BUCKET, 'explicit/identity_int32/', INT32);
      await core.loadModel('identity_int32', {});
      assert.equal(core.isModelReady('identity_int32', ''), true);
      const config = readFileSync(join(FP32, 'config.pbtxt'), 'utf8');
      await s3.put(BUCKET, 'explicit/identity_fp32/config.pbtxt', config.replace('max_batch_size: 8', 'max_batch_size: 4'));
      await core.loadModel('identity_fp32', {});
      assert.equal(core.modelConfig('identity_fp32', '').maxBatchSize, 4);
    } finally {
      await server.close();
    }
  });

  it('a poll that cannot reach S3 leaves every model serving and says why', async () => {
    const lone = await TestS3Server.start(['lone']);
    await lone.upload('lone', 'identity_fp32/', FP32);
    const lines: string[] = [];
    const server = await start(`s3://${lone.hostPort}/lone`, lines, { modelControlMode: 'poll', repositoryPollSecs: 0.1 });
    try {
      await lone.close();
      await waitFor('a poll failed', () => lines.some((line) => line.startsWith('E ') && line.includes('Could not list contents of directory at')));
      const failure = lines.find((line) => line.includes('Could not list contents'))!;
      assert.match(failure, new RegExp(`directory at s3://${lone.hostPort.replace(/\./g, '\\.')}/lone due to exception: ECONNREFUSED`));
      assert.equal(server.core.isModelReady('identity_fp32', ''), true);
      assert.deepEqual(await inferFp32(server), [1.5, -2, 3.25]);
    } finally {
      await server.close();
    }
    assert.deepEqual(copies(), []);
  });

  it('bad credentials, a missing bucket, an empty path and a malformed URL fail start-up with Triton\'s texts', async () => {
    const refused = async (url: string, pattern: RegExp, env: Record<string, string> = {}): Promise<void> => {
      const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
      Object.assign(process.env, env);
      try {
        await assert.rejects(start(url, []), (error: unknown) => {
          assert.ok(error instanceof ServerError);
          assert.match(error.message, pattern);
          return true;
        });
      } finally {
        Object.assign(process.env, saved);
      }
      assert.deepEqual(copies(), [], `nothing is left behind after ${url}`);
    };
    await s3.upload(BUCKET, 'errors/identity_fp32/', FP32);
    const url = `s3://${s3.hostPort}/${BUCKET}/errors`;
    await refused(
      url,
      new RegExp(
        `^failed to open model repository '${url.replace(/\./g, '\\.')}': Unable to create S3 filesystem client\\. Check account credentials\\. ` +
          "Exception: 'InvalidAccessKeyId' Message: 'The AWS Access Key Id you provided does not exist in our records\\.'$",
      ),
      { AWS_ACCESS_KEY_ID: 'NOT-A-KEY' },
    );
    await refused(
      `s3://${s3.hostPort}/no-such-bucket/path`,
      /^failed to open model repository '.*no-such-bucket\/path': Unable to create S3 filesystem client\. Check account credentials\. Exception: 'NoSuchBucket' Message: 'The specified bucket does not exist'$/,
    );
    await refused(`s3://${s3.hostPort}/${BUCKET}/nothing/here`, /^failed to open model repository '.*\/nothing\/here': repository path is not a valid directory$/);
    await refused('s3://', /^Invalid bucket name: ''$/);
    await refused(`s3://${s3.hostPort}`, new RegExp(`^No bucket name found in path: s3://${s3.hostPort.replace(/\./g, '\\.')}$`));
    await refused(`s3://https://${BUCKET}/errors`, /must be followed by host:port/);
  });
});
