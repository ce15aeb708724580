import { tmpdir } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../observability/logger.js';
import type { AwsEnvironment } from './s3-client.js';
import type { S3Mirror } from './s3-mirror.js';
import { isS3Url, parseS3Url } from './s3-url.js';

/**
 * The `s3://` model repositories of a server, each copied to a local folder that the repository
 * manager scans in its place. `sync` (run before every scan) brings every copy up to date; `close`
 * removes the copies. With no `s3://` repository it does nothing.
 */
export class S3Repositories {
  /** The repositories as the repository manager scans them: local ones as given, S3 ones by their copy. */
  readonly localPaths: readonly string[];
  readonly #mirrors: readonly S3Mirror[];
  readonly #clients: readonly S3Client[];

  private constructor(localPaths: readonly string[], mirrors: readonly S3Mirror[], clients: readonly S3Client[]) {
    this.localPaths = localPaths;
    this.#mirrors = mirrors;
    this.#clients = clients;
  }

  /**
   * Copies every `s3://` repository (all at once) into a new folder under TRITON_AWS_MOUNT_DIRECTORY
   * (Triton's variable) or the system's temporary folder. Fails, leaving nothing behind, when one
   * cannot be parsed, reached or read; the error names the repository.
   */
  static async open(repositories: readonly string[], logger: Logger, env: AwsEnvironment = process.env): Promise<S3Repositories> {
    const remote = repositories.filter(isS3Url);
    if (remote.length === 0) return new S3Repositories(repositories, [], []);
    const locations = remote.map(parseS3Url);
    // The AWS SDK loads only for servers that use S3 (it adds a tenth of a second to a start).
    const [{ createS3Client }, { S3Mirror }] = await Promise.all([import('./s3-client.js'), import('./s3-mirror.js')]);
    const parent = env['TRITON_AWS_MOUNT_DIRECTORY'] || tmpdir();
    const clients = await Promise.all(locations.map((location) => createS3Client(location, env)));
    const opened = await Promise.allSettled(locations.map((location, i) => S3Mirror.open(location, clients[i]!, parent, logger)));
    const mirrors = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) {
      await new S3Repositories([], mirrors, clients).close();
      throw failure.reason;
    }
    const dirs = new Map(mirrors.map((mirror) => [mirror.location.url, mirror.dir]));
    return new S3Repositories(
      repositories.map((path) => dirs.get(path) ?? path),
      mirrors,
      clients,
    );
  }

  /** True when there is an `s3://` repository to keep in sync. */
  get remote(): boolean {
    return this.#mirrors.length > 0;
  }

  /** Brings every copy up to date; throws the first failure (the copies that failed stay as they were). */
  readonly sync = async (): Promise<void> => {
    const results = await Promise.allSettled(this.#mirrors.map((mirror) => mirror.sync()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  };

  /** Removes the local copies and releases the clients. */
  async close(): Promise<void> {
    await Promise.all(this.#mirrors.map((mirror) => mirror.close()));
    for (const client of this.#clients) client.destroy();
  }
}
