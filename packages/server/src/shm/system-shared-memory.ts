import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { ServerError, invalidArg, notFound } from '../errors/index.js';
import { compareNames } from '../util/compare.js';

/** One registered region: bytes [offset, offset + byteSize) of the POSIX shm object `key`. */
export interface SystemRegionStatus {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byte_size: number;
}

/** Python backend regions use this prefix; clients may not register keys that start with it. */
const RESERVED_KEY_PREFIX = 'triton_python_backend_shm_region_';

interface Region extends SystemRegionStatus {
  readonly fd: number;
  /** Requests holding the region; the descriptor closes when this drops to zero after unregister. */
  users: number;
  unregistered: boolean;
}

/**
 * A region borrowed by one request. Reads and writes are bounds-checked against the registered size;
 * the descriptor stays open until `release`, so unregistering a region in use is safe.
 */
export interface RegionHandle {
  read(offset: number, byteSize: number): Buffer;
  write(offset: number, data: Uint8Array): void;
  release(): void;
}

/**
 * The system shared-memory extension. Regions are POSIX shm objects, i.e. files under /dev/shm on
 * Linux; they are read and written through a kept-open descriptor with pread/pwrite, which sees the
 * same pages the client has mapped, and turns a truncated or vanished object into an error rather
 * than the SIGBUS a stale mapping would raise.
 */
export class SystemSharedMemoryManager {
  readonly #regions = new Map<string, Region>();
  readonly #shmRoot: string;

  constructor(shmRoot = '/dev/shm') {
    this.#shmRoot = shmRoot;
  }

  register(name: string, key: string, offset: number, byteSize: number): void {
    if (name === '') throw invalidArg("shared memory region 'name' must not be empty");
    if (shmObjectName(key).startsWith(RESERVED_KEY_PREFIX)) {
      throw invalidArg(
        `cannot register shared memory region '${name}' with key '${key}' as the key contains the reserved prefix '${RESERVED_KEY_PREFIX}'`,
      );
    }
    if (!isSize(offset) || !isSize(byteSize)) {
      throw invalidArg(`failed to register shared memory region '${name}': invalid args`);
    }
    if (this.#regions.has(name)) {
      throw new ServerError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    }
    const fd = openShmObject(this.#shmRoot, key);
    if (offset + byteSize > fstatSync(fd).size) {
      closeSync(fd);
      throw invalidArg(`failed to register shared memory region '${name}': invalid args`);
    }
    this.#regions.set(name, { name, key, offset, byte_size: byteSize, fd, users: 0, unregistered: false });
  }

  /** Unregisters one region; an unknown name is not an error (Triton's behaviour). */
  unregister(name: string): void {
    const region = this.#regions.get(name);
    if (!region) return;
    this.#regions.delete(name);
    region.unregistered = true;
    if (region.users === 0) closeSync(region.fd);
  }

  unregisterAll(): void {
    for (const name of [...this.#regions.keys()]) this.unregister(name);
  }

  status(name: string): SystemRegionStatus[] {
    const describe = (r: Region): SystemRegionStatus => ({ name: r.name, key: r.key, offset: r.offset, byte_size: r.byte_size });
    // Sorted by name, as Triton's std::map lists them.
    if (name === '') return [...this.#regions.values()].sort((a, b) => compareNames(a.name, b.name)).map(describe);
    const region = this.#regions.get(name);
    if (!region) throw notFound(`Unable to find system shared memory region: '${name}'`);
    return [describe(region)];
  }

  has(name: string): boolean {
    return this.#regions.has(name);
  }

  acquire(name: string): RegionHandle {
    const region = this.#regions.get(name);
    if (!region) throw notFound(`Unable to find shared memory region: '${name}'`);
    region.users += 1;
    let released = false;
    return {
      read: (offset, byteSize) => readRegion(region, offset, byteSize),
      write: (offset, data) => writeRegion(region, offset, data),
      release: () => {
        if (released) return;
        released = true;
        region.users -= 1;
        if (region.users === 0 && region.unregistered) closeSync(region.fd);
      },
    };
  }
}

/** The object's file name under the shm folder: glibc's shm_open drops every leading '/'. */
function shmObjectName(key: string): string {
  return key.replace(/^\/+/, '');
}

/** Longest file name Linux allows (NAME_MAX); glibc's shm_open refuses longer names. */
const NAME_MAX = 255;

/**
 * Opens the shm object `key` the way shm_open does, and no wider: one file name directly under the
 * shm folder (no '/', '.', '..' or NUL in it), the last component not a symlink (O_NOFOLLOW), and
 * the thing opened a regular file. Without this a client could name a symlink planted in /dev/shm
 * and read or overwrite any file the server can open. Every refusal is Triton's shm_open failure.
 */
function openShmObject(root: string, key: string): number {
  const failure = (): ServerError => new ServerError('INTERNAL', `Unable to open shared memory region: '${key}'`);
  const objectName = shmObjectName(key);
  if (
    objectName === '' ||
    objectName === '.' ||
    objectName === '..' ||
    objectName.includes('/') ||
    objectName.includes('\0') ||
    Buffer.byteLength(objectName) >= NAME_MAX
  ) {
    throw failure();
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO or device planted under the name must not stall the open.
    fd = openSync(`${root}/${objectName}`, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw failure();
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw failure();
  }
  return fd;
}

function isSize(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function checkBounds(region: Region, offset: number, byteSize: number): void {
  if (!isSize(offset) || offset >= region.byte_size) {
    throw invalidArg(`Invalid offset for shared memory region: '${region.name}'`);
  }
  if (!isSize(byteSize) || offset + byteSize > region.byte_size) {
    throw invalidArg(`Invalid offset + byte size for shared memory region: '${region.name}'`);
  }
}

function readRegion(region: Region, offset: number, byteSize: number): Buffer {
  checkBounds(region, offset, byteSize);
  const out = Buffer.allocUnsafe(byteSize);
  let done = 0;
  while (done < byteSize) {
    const n = readSync(region.fd, out, done, byteSize - done, region.offset + offset + done);
    if (n === 0) {
      throw invalidArg(
        `shared memory region '${region.name}' holds fewer bytes than registered (the shm object '${region.key}' ` +
          `was truncated)`,
      );
    }
    done += n;
  }
  return out;
}

function writeRegion(region: Region, offset: number, data: Uint8Array): void {
  if (data.byteLength === 0) return;
  checkBounds(region, offset, data.byteLength);
  const end = region.offset + offset + data.byteLength;
  if (end > fstatSync(region.fd).size) {
    throw invalidArg(
      `shared memory region '${region.name}' holds fewer bytes than registered (the shm object '${region.key}' ` +
        `was truncated)`,
    );
  }
  let done = 0;
  while (done < data.byteLength) {
    done += writeSync(region.fd, data, done, data.byteLength - done, region.offset + offset + done);
  }
}
