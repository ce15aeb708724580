import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';

const MIB = 1024 * 1024;

/**
 * After a very large request the server must not keep its buffers (issue: hardening, item 9): they
 * are unreferenced once the response has left, and the relief (util/memory-relief.ts) runs the full
 * collection a quiet server would otherwise put off for minutes.
 */
describe('memory after a very large request', () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer({
      modelRepositories: [EXAMPLE_MODELS],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      exitOnError: false,
      logger: silentLogger,
    });
  });

  after(async () => {
    await server.close();
  });

  /** One 192 MiB identity request over a connection that then closes; the reply is read and dropped. */
  async function largeRequest(): Promise<number> {
    const count = (192 * MIB) / 4;
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, count], parameters: { binary_data_size: 4 * count } }],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
      }),
    );
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.http!.port,
          method: 'POST',
          path: '/v2/models/identity_fp32/infer',
          headers: { 'Inference-Header-Content-Length': header.length, 'Content-Length': header.length + 4 * count, Connection: 'close' },
        },
        (res) => {
          let received = 0;
          res.on('data', (chunk: Buffer) => (received += chunk.length));
          res.on('end', () => (res.statusCode === 200 ? resolve(received) : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.write(header);
      // Written in 8 MiB pieces, so that the test itself holds no large buffer afterwards.
      const piece = Buffer.alloc(8 * MIB, 1);
      for (let sent = 0; sent < 4 * count; sent += piece.length) req.write(piece);
      req.end();
    });
  }

  it('gives back the request and response buffers once the response has left', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const received = await largeRequest();
    assert.ok(received > 192 * MIB);
    let now = process.memoryUsage().arrayBuffers;
    const deadline = Date.now() + 10_000;
    while (now - before > 64 * MIB && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = process.memoryUsage().arrayBuffers;
    }
    assert.ok(now - before <= 64 * MIB, `${((now - before) / MIB).toFixed(0)} MiB of buffers still held`);
  });
});
