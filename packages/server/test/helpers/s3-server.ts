import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** The one key pair s3rver knows (it accepts any SigV4 secret for it, and refuses other key ids). */
export const S3RVER_KEY = 'S3RVER';

const CHILD = fileURLToPath(new URL('./s3rver-child.js', import.meta.url));

/**
 * A real S3-protocol server (s3rver, in a child process) on 127.0.0.1 at an ephemeral port,
 * storing under a temporary folder, with a client to fill its buckets.
 */
export class TestS3Server {
  readonly port: number;
  /** `host:port`, as it goes into `s3://host:port/bucket/path`. */
  readonly hostPort: string;
  readonly client: S3Client;
  readonly #child: ChildProcess;
  readonly #dir: string;

  private constructor(child: ChildProcess, port: number, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.port = port;
    this.hostPort = `127.0.0.1:${port}`;
    this.client = new S3Client({
      endpoint: `http://${this.hostPort}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }

  static async start(buckets: readonly string[]): Promise<TestS3Server> {
    const dir = mkdtempSync(join(tmpdir(), 'nereid-s3rver-'));
    const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const first = await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => undefined)]);
    if (first === undefined) throw new Error('s3rver exited before listening');
    lines.close();
    if (process.env['S3RVER_LOG'] !== undefined) child.stdout!.pipe(process.stderr);
    else child.stdout!.resume();
    const { port } = JSON.parse(String(first[0])) as { port: number };
    // Listening: from now on it keeps this process alive no longer; it ends when this process does
    // (its stdin closes).
    child.unref();
    for (const stream of [child.stdin, child.stdout]) (stream as unknown as { unref(): void }).unref();
    const s3 = new TestS3Server(child, port, dir);
    for (const bucket of buckets) await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
    return s3;
  }

  async put(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  /** Uploads every file of a local folder under `prefix` (which should end with '/'). */
  async upload(bucket: string, prefix: string, folder: string): Promise<void> {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
    for (const file of walk(folder)) await this.put(bucket, `${prefix}${relative(folder, file)}`, readFileSync(file));
  }

  /** Deletes every object whose key starts with `prefix`. */
  async remove(bucket: string, prefix: string): Promise<void> {
    const listed = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key! }));
    if (keys.length > 0) await this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }

  /** Stops the server (its port then refuses connections) and deletes what it stored. */
  async close(): Promise<void> {
    this.client.destroy();
    if (this.#child.exitCode === null) {
      this.#child.ref();
      const exited = once(this.#child, 'exit');
      this.#child.kill();
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
