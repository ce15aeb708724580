import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { internal, invalidArg, toServerError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { Semaphore } from '../util/semaphore.js';
import { describeS3Error } from './s3-client.js';
import { localPathOf, objectUrl, type S3Location } from './s3-url.js';

/** Objects downloaded at once by one mirror. */
const DOWNLOAD_CONCURRENCY = 8;

/** Keys per listing page: S3's maximum. */
const PAGE_SIZE = 1000;

/** Thrown by downloads not started because another one failed. */
const ABANDONED = Symbol('abandoned');

/** What one sync changed. */
export interface SyncReport {
  readonly fetched: number;
  readonly bytes: number;
  readonly removed: number;
}

/** An object of the repository as listed: its key and what identifies its content. */
interface RemoteFile {
  readonly key: string;
  /** ETag and size: a new upload changes the ETag, even when the content is the same. */
  readonly signature: string;
}

/** The repository as one listing sees it, by local path ('/'-joined, relative to the copy). */
interface Listing {
  readonly files: Map<string, RemoteFile>;
  readonly dirs: Set<string>;
}

interface Fetched {
  readonly path: string;
  readonly staged: string;
  readonly signature: string;
  readonly bytes: number;
}

/**
 * A local copy of an `s3://` model repository that the repository manager scans as any local one
 * (Triton's LocalizePath, kept up to date instead of made anew). Each sync lists the objects under
 * the prefix, downloads the new and changed ones (ETag or size differ) into a staging folder,
 * streaming each to its file with a few downloads at once, and only once all arrived moves them
 * into place and deletes what went away; a sync that fails part-way leaves the copy as it was. A
 * changed file is a new file (a rename), so a model reading the old one keeps its own. Syncs never
 * overlap; a sync asked for while one runs runs after it (once for all who asked meanwhile).
 */
export class S3Mirror {
  readonly location: S3Location;
  /** The local copy: what the repository manager scans. */
  readonly dir: string;
  readonly #root: string;
  readonly #staging: string;
  readonly #client: S3Client;
  readonly #logger: Logger;
  /** Files of the copy: local path → signature of the object it was downloaded from. */
  readonly #files = new Map<string, string>();
  /** Folders of the copy, by local path. */
  readonly #dirs = new Set<string>();
  /** Keys already reported as skipped (reported once, not at every poll). */
  readonly #reported = new Set<string>();
  readonly #abort = new AbortController();
  readonly #pageSize: number;
  #running: Promise<SyncReport> | undefined;
  #queued: Promise<SyncReport> | undefined;
  #staged = 0;
  /** The first sync is done (open reports it; later ones report what they changed). */
  #opened = false;
  #closed = false;

  private constructor(location: S3Location, client: S3Client, root: string, logger: Logger, pageSize: number) {
    this.location = location;
    this.#pageSize = pageSize;
    this.#client = client;
    this.#root = root;
    this.dir = join(root, 'repository');
    this.#staging = join(root, 'staging');
    this.#logger = logger;
  }

  /**
   * Checks that the repository can be read (Triton's CheckClient and IsDirectory, with their
   * texts) and copies it into a new folder under `parent`; on failure nothing is left behind.
   * `pageSize` is the keys per listing request (S3 returns at most 1000).
   */
  static async open(location: S3Location, client: S3Client, parent: string, logger: Logger, pageSize = PAGE_SIZE): Promise<S3Mirror> {
    const root = await mkdtemp(join(parent, 'nereid-s3-'));
    const mirror = new S3Mirror(location, client, root, logger, pageSize);
    try {
      await mkdir(mirror.dir);
      await mkdir(mirror.#staging);
      await mirror.#check();
      const report = await mirror.sync();
      mirror.#opened = true;
      logger.info(`copied model repository '${location.url}' to '${mirror.dir}': ${report.fetched} files, ${report.bytes} bytes`);
      return mirror;
    } catch (error) {
      await mirror.close();
      throw toServerError(error);
    }
  }

  /** Brings the copy up to date with the bucket. */
  sync(): Promise<SyncReport> {
    if (this.#closed) return Promise.reject(internal(`model repository '${this.location.url}' is closed`));
    if (this.#running === undefined) {
      this.#running = this.#syncOnce().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.sync();
      });
    return this.#queued;
  }

  /** Stops syncing (a download under way is abandoned) and removes the local copy. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await Promise.allSettled([this.#running, this.#queued]);
    await rm(this.#root, { recursive: true, force: true });
  }

  async #check(): Promise<void> {
    const { bucket, prefix, url } = this.location;
    let keys: number;
    try {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), { abortSignal: this.#abort.signal });
      keys = page.KeyCount ?? page.Contents?.length ?? 0;
    } catch (error) {
      const { name, message } = describeS3Error(error);
      throw internal(
        `failed to open model repository '${url}': Unable to create S3 filesystem client. Check account credentials. Exception: '${name}' Message: '${message}'`,
      );
    }
    if (prefix !== '' && keys === 0) throw invalidArg(`failed to open model repository '${url}': repository path is not a valid directory`);
  }

  async #syncOnce(): Promise<SyncReport> {
    const listing = await this.#list();
    const wanted = [...listing.files].filter(([path, remote]) => this.#files.get(path) !== remote.signature);
    const fetched = await this.#fetchAll(wanted);
    const removed = await this.#apply(listing, fetched);
    const report = { fetched: fetched.length, bytes: fetched.reduce((sum, file) => sum + file.bytes, 0), removed };
    if (this.#opened && report.fetched + report.removed > 0) {
      this.#logger.info(`model repository '${this.location.url}': ${report.fetched} files fetched (${report.bytes} bytes), ${removed} removed`);
    }
    return report;
  }

  /** Every object under the prefix (page by page), as local paths; keys that cannot be are skipped. */
  async #list(): Promise<Listing> {
    const { bucket, prefix, url } = this.location;
    const files = new Map<string, RemoteFile>();
    const dirs = new Set<string>();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: this.#pageSize, ...(token === undefined ? {} : { ContinuationToken: token }) }),
          { abortSignal: this.#abort.signal },
        );
      } catch (error) {
        const { name, message } = describeS3Error(error);
        throw internal(`Could not list contents of directory at ${url} due to exception: ${name}, error message: ${message}`);
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const local = localPathOf(this.location, key);
        if (local === undefined) {
          if (key !== prefix) this.#skip(key, 'its key is not a path inside the repository');
          continue;
        }
        for (let depth = 1; depth < local.segments.length; depth++) dirs.add(local.segments.slice(0, depth).join('/'));
        const path = local.segments.join('/');
        if (local.directory) dirs.add(path);
        else files.set(path, { key, signature: `${object.ETag ?? ''}:${object.Size ?? 0}` });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    for (const [path, remote] of files) {
      if (!dirs.has(path)) continue;
      this.#skip(remote.key, 'other objects use its name as a folder');
      files.delete(path);
    }
    return { files, dirs };
  }

  #skip(key: string, why: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#logger.warn(`model repository '${this.location.url}': skipping object '${key}': ${why}`);
  }

  /** Downloads into the staging folder; on any failure removes what it staged and throws. */
  async #fetchAll(wanted: readonly (readonly [string, RemoteFile])[]): Promise<Fetched[]> {
    const slots = new Semaphore(DOWNLOAD_CONCURRENCY);
    let failed = false;
    const results = await Promise.allSettled(
      wanted.map(([path, remote]) =>
        slots.run(async () => {
          // Once one download failed, those still waiting are not started.
          if (failed) throw ABANDONED;
          return this.#fetch(path, remote).catch((error: unknown) => {
            failed = true;
            throw error;
          });
        }),
      ),
    );
    const fetched = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected' && result.reason !== ABANDONED);
    if (failure === undefined) return fetched;
    await Promise.all(fetched.map((file) => rm(file.staged, { force: true })));
    throw toServerError(failure.reason);
  }

  async #fetch(path: string, remote: RemoteFile): Promise<Fetched> {
    const staged = join(this.#staging, String(this.#staged++));
    const where = objectUrl(this.location, remote.key);
    try {
      const response = await this.#client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: remote.key }), {
        abortSignal: this.#abort.signal,
      });
      if (response.Body === undefined) throw new Error('the response has no body');
      await pipeline(response.Body as Readable, createWriteStream(staged, { flags: 'wx' }));
      const bytes = (await stat(staged)).size;
      if (response.ContentLength !== undefined && bytes !== response.ContentLength) {
        throw new Error(`received ${bytes} of ${response.ContentLength} bytes`);
      }
      // The object as downloaded, which may be newer than the listing.
      return { path, staged, signature: `${response.ETag ?? ''}:${bytes}`, bytes };
    } catch (error) {
      await rm(staged, { force: true });
      const { name, message } = describeS3Error(error);
      throw internal(`Failed to get object at ${where} due to exception: ${name}, error message: ${message}`);
    }
  }

  /**
   * Makes the copy match the listing: removes files and folders that went away, makes the new
   * folders, moves the fetched files in. A file the local file system refuses (a name too long)
   * is reported and skipped; the rest goes on. Returns how many files were removed.
   */
  async #apply(listing: Listing, fetched: readonly Fetched[]): Promise<number> {
    const gone = [...this.#files.keys()].filter((path) => !listing.files.has(path));
    for (const path of gone) {
      await rm(join(this.dir, path), { force: true });
      this.#files.delete(path);
    }
    const depth = (path: string): number => path.split('/').length;
    for (const path of [...this.#dirs].filter((dir) => !listing.dirs.has(dir)).sort((a, b) => depth(b) - depth(a))) {
      await rm(join(this.dir, path), { recursive: true, force: true });
      this.#dirs.delete(path);
    }
    for (const path of [...listing.dirs].sort((a, b) => depth(a) - depth(b))) {
      if (this.#dirs.has(path)) continue;
      if (await this.#write(path, () => mkdir(join(this.dir, path), { recursive: true }))) this.#dirs.add(path);
    }
    for (const file of fetched) {
      if (await this.#write(file.path, () => rename(file.staged, join(this.dir, file.path)))) this.#files.set(file.path, file.signature);
      else await rm(file.staged, { force: true });
    }
    return gone.length;
  }

  /** Runs one write to the copy; false (and a warning, once) when the local file system refuses it. */
  async #write(path: string, work: () => Promise<unknown>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (error) {
      this.#skip(`${this.location.prefix}${path}`, `it cannot be written to the local copy: ${(error as Error).message}`);
      return false;
    }
  }
}
