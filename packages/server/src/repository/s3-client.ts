import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Location } from './s3-url.js';

/** The environment variables read here (Triton's S3Credential reads the same ones). */
export type AwsEnvironment = Readonly<Record<string, string | undefined>>;

/** Triton's region when neither the environment nor a profile names one (the C++ SDK's default). */
const FALLBACK_REGION = 'us-east-1';

/** A connection that never completes fails the request rather than hanging the load (ms). */
const CONNECTION_TIMEOUT_MS = 10_000;

/**
 * An S3 client for a repository, configured as Triton configures its own (s3.h): path-style
 * addressing, the endpoint of `s3://[http[s]://]host:port/...` when given, credentials from
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN when set) when both are set,
 * and otherwise the SDK's default chain (AWS_PROFILE, the shared config files, instance roles).
 * The region is AWS_DEFAULT_REGION (Triton's variable), else AWS_REGION or the profile's, else
 * us-east-1; a bucket in another region is followed there.
 */
export async function createS3Client(location: S3Location, env: AwsEnvironment): Promise<S3Client> {
  const keyId = env['AWS_ACCESS_KEY_ID'] ?? '';
  const secret = env['AWS_SECRET_ACCESS_KEY'] ?? '';
  const token = env['AWS_SESSION_TOKEN'] ?? '';
  const base: S3ClientConfig = {
    forcePathStyle: true,
    followRegionRedirects: true,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS },
    ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
    ...(keyId !== '' && secret !== ''
      ? { credentials: { accessKeyId: keyId, secretAccessKey: secret, ...(token === '' ? {} : { sessionToken: token }) } }
      : {}),
  };
  const region = env['AWS_DEFAULT_REGION'] || env['AWS_REGION'];
  if (region) return new S3Client({ ...base, region });
  const client = new S3Client(base);
  try {
    await client.config.region();
    return client;
  } catch {
    client.destroy();
    return new S3Client({ ...base, region: FALLBACK_REGION });
  }
}

/** An SDK failure as Triton prints one: the exception's name (or network error code) and message. */
export function describeS3Error(error: unknown): { readonly name: string; readonly message: string } {
  if (!(error instanceof Error)) return { name: '', message: String(error) };
  const code = (error as { code?: unknown }).code;
  const name = error.name === 'Error' && typeof code === 'string' ? code : error.name;
  return { name, message: error.message };
}
