/**
 * Runs s3rver (a real S3-protocol server) in a process of its own, for TestS3Server: listens on
 * 127.0.0.1 at an ephemeral port, stores under the folder given as argument, and prints
 * `{"port":N}` once listening; exits when its stdin closes (the parent is gone). Started with --openssl-legacy-provider, which s3rver needs for the
 * continuation tokens of paginated listings (DES) under OpenSSL 3.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: process.env['S3RVER_LOG'] === undefined, directory: process.argv[2] });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
// The parent holds the other end of stdin: when it goes, so does this server.
process.stdin.on('end', () => process.exit(0)).resume();
