import { internal, invalidArg } from '../errors/index.js';

/** Where an `s3://` model repository lives. */
export interface S3Location {
  /** The repository as given on the command line (named in every error). */
  readonly url: string;
  /** `http://host:port` or `https://host:port` for an S3-compatible server; undefined for AWS. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  /** Key prefix of the repository: '' for the bucket root, else the path with a trailing '/'. */
  readonly prefix: string;
}

const SCHEME = 's3://';

/** Triton's test for a repository on S3 (filesystem/api.cc: the path starts with `s3://`). */
export function isS3Url(path: string): boolean {
  return path.startsWith(SCHEME);
}

/** Triton's endpoint form (s3.h `s3_regex_`): `[http://|https://]host:port/bucket[/path]`. */
const HOST_PORT = /^[0-9a-zA-Z\-.]+:[0-9]+$/;
const ENDPOINT_BUCKET = /^[0-9a-z.\-]+$/;
/** Bucket names S3 accepts (lower-case letters, digits, dots, hyphens; underscores in legacy buckets). */
const BUCKET = /^[0-9a-z.\-_]+$/;

/**
 * Parses `s3://bucket/path`, `s3://host:port/bucket/path` and `s3://https://host:port/bucket/path`
 * as Triton does (S3FileSystem::CleanPath and ParsePath): leading, trailing and repeated slashes
 * are dropped, and a first segment of the form host:port names an S3-compatible endpoint, reached
 * over HTTP unless `https://` precedes it. Triton's texts for what it refuses; a scheme without a
 * host:port, or a bucket name S3 could not hold, is refused here too (Triton would go on to fail
 * on a bucket named `https:`).
 */
export function parseS3Url(url: string): S3Location {
  if (!isS3Url(url)) throw invalidArg(`'${url}' is not an s3:// path`);
  let rest = url.slice(SCHEME.length);
  let scheme: 'http' | 'https' | undefined;
  for (const candidate of ['https', 'http'] as const) {
    if (rest.startsWith(`${candidate}://`)) {
      scheme = candidate;
      rest = rest.slice(candidate.length + 3);
      break;
    }
  }
  const trimmed = rest.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw invalidArg(`Invalid bucket name: '${rest}'`);
  const segments = trimmed.split(/\/+/);
  let endpoint: string | undefined;
  if (HOST_PORT.test(segments[0]!)) {
    endpoint = `${scheme ?? 'http'}://${segments.shift()!}`;
    if (segments.length === 0) throw internal(`No bucket name found in path: ${url}`);
    if (!ENDPOINT_BUCKET.test(segments[0]!)) throw invalidArg(`Invalid bucket name: '${segments[0]!}' in ${url}`);
  } else if (scheme !== undefined) {
    throw invalidArg(`the ${scheme}:// in ${url} must be followed by host:port, then the bucket`);
  }
  const bucket = segments.shift()!;
  if (!BUCKET.test(bucket)) throw invalidArg(`Invalid bucket name: '${bucket}' in ${url}`);
  const path = segments.join('/');
  return { url, endpoint, bucket, prefix: path === '' ? '' : `${path}/` };
}

/** The object a key names, as Triton writes it in messages (`s3://bucket/key`). */
export function objectUrl(location: S3Location, key: string): string {
  return `${SCHEME}${location.bucket}/${key}`;
}

/**
 * Where an object of the repository goes in the local copy: its key less the repository prefix,
 * as path segments; undefined for what cannot be a file of the repository (the prefix itself,
 * empty, `.` or `..` segments, NUL), so that no key writes outside the copy. `directory` is true
 * for a folder marker (a key ending in '/').
 */
export function localPathOf(location: S3Location, key: string): { readonly segments: readonly string[]; readonly directory: boolean } | undefined {
  if (!key.startsWith(location.prefix)) return undefined;
  const relative = key.slice(location.prefix.length);
  const directory = relative.endsWith('/');
  const body = directory ? relative.slice(0, -1) : relative;
  if (body === '') return undefined;
  const segments = body.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'))) return undefined;
  return { segments, directory };
}
