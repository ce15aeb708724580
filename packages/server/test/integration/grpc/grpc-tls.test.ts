import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { parseCommandLine } from '../../../src/cli/options.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl for this test. */
function makeCertificates(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=nereid-test-ca',
    '-keyout', file('ca.key'), '-out', file('ca.pem'));
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', file(`${who}.key`), '-out', file(`${who}.csr`));
    openssl('x509', '-req', '-in', file(`${who}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '1', '-out', file(`${who}.pem`), ...(who === 'server' ? ['-extfile', file('server.ext')] : []));
  }
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}

async function liveOrError(client: InferenceGrpcClient): Promise<boolean | ServiceError> {
  try {
    return (await client.call('serverLive', {}, undefined, { deadline: Date.now() + 3000 })).live;
  } catch (error) {
    return error as ServiceError;
  } finally {
    client.close();
  }
}

describe('gRPC over TLS (--grpc-use-ssl, --grpc-use-ssl-mutual)', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nereid-tls-'));
    certs = makeCertificates(dir);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  async function start(args: string[]): Promise<RunningServer> {
    const parsed = parseCommandLine(['--model-repository', EXAMPLE_MODELS, ...args]);
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') throw new Error('unreachable');
    return startServer({
      ...parsed.options,
      http: { ...parsed.options.http, allow: false },
      grpc: { ...parsed.options.grpc, port: 0, address: '127.0.0.1' },
      // The parsed options carry the CLI's metrics defaults (port 8002): not wanted here.
      metrics: { ...parsed.options.metrics, allow: false },
      exitOnError: false,
      logger: silentLogger,
    });
  }

  it('serves over TLS with the server certificate; a plain-text client is refused', async () => {
    const server = await start(['--grpc-use-ssl=true', `--grpc-server-cert=${certs.serverCert}`, `--grpc-server-key=${certs.serverKey}`]);
    try {
      const address = `127.0.0.1:${server.grpc!.port}`;
      const tls = credentials.createSsl(readFileSync(certs.ca));
      assert.equal(await liveOrError(new InferenceGrpcClient(address, tls)), true);
      const infer = new InferenceGrpcClient(address, tls);
      try {
        const response = await infer.call('modelInfer', {
          modelName: 'simple',
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: Array.from({ length: 16 }, (_, i) => i) } },
            { name: 'INPUT1', datatype: 'INT32', shape: [1n, 16n], contents: { intContents: new Array<number>(16).fill(1) } },
          ],
        });
        const sums = new Int32Array(new Uint8Array(response.rawOutputContents[0]!).slice().buffer);
        assert.deepEqual([...sums], Array.from({ length: 16 }, (_, i) => i + 1));
      } finally {
        infer.close();
      }
      const plain = await liveOrError(new InferenceGrpcClient(address));
      assert.notEqual(plain, true);
    } finally {
      await server.close();
    }
  });

  it('with mutual TLS, a client without a certificate is refused and one signed by the root is served', async () => {
    const server = await start([
      '--grpc-use-ssl-mutual=true',
      `--grpc-server-cert=${certs.serverCert}`,
      `--grpc-server-key=${certs.serverKey}`,
      `--grpc-root-cert=${certs.ca}`,
    ]);
    try {
      const address = `127.0.0.1:${server.grpc!.port}`;
      const ca = readFileSync(certs.ca);
      const withoutCert = await liveOrError(new InferenceGrpcClient(address, credentials.createSsl(ca)));
      assert.notEqual(withoutCert, true);
      const withCert = credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert));
      assert.equal(await liveOrError(new InferenceGrpcClient(address, withCert)), true);
    } finally {
      await server.close();
    }
  });

  it('a certificate file that cannot be read stops the start, naming the flag and the file', async () => {
    const missing = join(dir, 'missing.pem');
    await assert.rejects(
      start(['--grpc-use-ssl=true', `--grpc-server-cert=${missing}`, `--grpc-server-key=${certs.serverKey}`]),
      (error: Error) => error.message.includes(`--grpc-server-cert file '${missing}'`),
    );
  });
});
