import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createS3Client } from '../../../src/repository/s3-client.js';
import { S3Mirror } from '../../../src/repository/s3-mirror.js';
import { parseS3Url } from '../../../src/repository/s3-url.js';
import { S3RVER_KEY, TestS3Server } from '../../helpers/s3-server.js';
import { recordingLogger } from '../grpc/start.js';

const BUCKET = 'tree';

describe('S3Mirror: the local copy of an s3:// repository, on s3rver', () => {
  let s3: TestS3Server;
  let parent: string;

  before(async () => {
    s3 = await TestS3Server.start([BUCKET]);
    parent = mkdtempSync(join(tmpdir(), 'nereid-s3-mirror-'));
  });

  after(async () => {
    await s3.close();
    rmSync(parent, { recursive: true, force: true });
  });

  async function open(prefix: string, lines: string[], pageSize?: number): Promise<S3Mirror> {
    const location = parseS3Url(`s3://${s3.hostPort}/${BUCKET}/${prefix}`);
    const env = { AWS_ACCESS_KEY_ID: S3RVER_KEY, AWS_SECRET_ACCESS_KEY: S3RVER_KEY, AWS_DEFAULT_REGION: 'us-east-1' };
    return S3Mirror.open(location, await createS3Client(location, env), parent, recordingLogger(lines), pageSize);
  }

  it('copies a listing of several pages with folder markers; then only what changed', async () => {
    const objects: Record<string, string> = {
      'repo/m/1/model.onnx': 'weights',
      'repo/m/2/': '',
      'repo/m/config.pbtxt': 'name: "m"',
      'repo/m/sub/a': 'a',
      'repo/m/sub/b': 'b',
    };
    for (const [key, body] of Object.entries(objects)) await s3.put(BUCKET, key, body);
    // Two keys per listing page: the listing spans three pages.
    const mirror = await open('repo', [], 2);
    try {
      const at = (path: string): string => join(mirror.dir, path);
      assert.equal(readFileSync(at('m/config.pbtxt'), 'utf8'), 'name: "m"');
      assert.equal(readFileSync(at('m/1/model.onnx'), 'utf8'), 'weights');
      assert.deepEqual(readdirSync(at('m/2')), [], 'a folder marker makes an empty folder');
      assert.deepEqual(readdirSync(at('m/sub')), ['a', 'b']);
      assert.deepEqual(await mirror.sync(), { fetched: 0, bytes: 0, removed: 0 });

      const inode = statSync(at('m/config.pbtxt')).ino;
      const changed = 'name: "m"\nmax_batch_size: 2';
      await s3.put(BUCKET, 'repo/m/config.pbtxt', changed);
      await s3.remove(BUCKET, 'repo/m/sub/');
      assert.deepEqual(await mirror.sync(), { fetched: 1, bytes: changed.length, removed: 2 });
      assert.equal(readFileSync(at('m/config.pbtxt'), 'utf8'), changed);
      assert.notEqual(statSync(at('m/config.pbtxt')).ino, inode, 'a changed file is a new file');
      assert.equal(existsSync(at('m/sub')), false, 'a folder whose objects are gone goes');
      assert.deepEqual(readdirSync(join(dirname(mirror.dir), 'staging')), [], 'nothing is left staged');
    } finally {
      await mirror.close();
    }
    assert.equal(existsSync(dirname(mirror.dir)), false, 'close removes the copy');
    await assert.rejects(mirror.sync(), /is closed/);
  });

  it('a file whose name other objects use as a folder is skipped, until they go', async () => {
    // (One page: s3rver lists 'x/y' before 'x', which its own pagination would then lose.)
    await s3.put(BUCKET, 'clash/m/x', 'a file where a folder is');
    await s3.put(BUCKET, 'clash/m/x/y', 'inside the folder');
    const lines: string[] = [];
    const mirror = await open('clash', lines);
    try {
      assert.equal(readFileSync(join(mirror.dir, 'm/x/y'), 'utf8'), 'inside the folder');
      assert.ok(lines.some((line) => line.startsWith('W ') && line.includes("skipping object 'clash/m/x': other objects use its name as a folder")), lines.join('\n'));
      await s3.remove(BUCKET, 'clash/m/x/');
      assert.deepEqual(await mirror.sync(), { fetched: 1, bytes: 'a file where a folder is'.length, removed: 1 });
      assert.equal(readFileSync(join(mirror.dir, 'm/x'), 'utf8'), 'a file where a folder is', 'the folder became the file');
    } finally {
      await mirror.close();
    }
  });

  it('syncs asked for while one runs share one more sync, which runs after it', async () => {
    await s3.put(BUCKET, 'busy/m/config.pbtxt', 'v1');
    const mirror = await open('busy', []);
    try {
      await s3.put(BUCKET, 'busy/m/config.pbtxt', 'v2');
      const order: string[] = [];
      const first = mirror.sync();
      const second = mirror.sync();
      const third = mirror.sync();
      assert.notEqual(first, second);
      assert.equal(second, third, 'one queued sync for all who asked meanwhile');
      void first.then(() => order.push('first'));
      void second.then(() => order.push('second'));
      assert.deepEqual(await first, { fetched: 1, bytes: 2, removed: 0 });
      assert.deepEqual(await second, { fetched: 0, bytes: 0, removed: 0 }, 'the queued sync lists again, after the first');
      assert.deepEqual(order, ['first', 'second']);
      assert.equal(readFileSync(join(mirror.dir, 'm', 'config.pbtxt'), 'utf8'), 'v2');
    } finally {
      await mirror.close();
    }
  });
});
