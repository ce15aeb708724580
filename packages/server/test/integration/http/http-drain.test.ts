import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import type { Logger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import { decodeInferReply, httpCall, inferPath, replyJson } from '../../helpers/http-client.js';

/**
 * The HTTP frontend's part of a graceful exit, over real sockets: a response still being written
 * when the drain starts arrives whole, and a draining server refuses new inference but keeps
 * answering everything else.
 */

const silentLogger: Logger = {
  settings: { info: false, warning: false, error: false, verboseLevel: 0, format: 'default' },
    file: '',
    close: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  verbose: () => {},
};

/** Far more than loopback socket buffers hold, so most of the response waits in the server. */
const LARGE = 16 * 1024 * 1024;

function start(): Promise<HttpServerHandle> {
  return startHttpServer(new EchoCore(), { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 2 * LARGE }, silentLogger);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('HTTP graceful exit', () => {
  it('lets a large response that the client reads slowly arrive whole before closing its connection', async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true });
    const input = Buffer.alloc(LARGE);
    for (let i = 0; i < LARGE; i += 4) input.writeUInt32LE(i, i);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: server.port,
        path: inferPath('raw_fp32'),
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' },
      });
      req.on('response', (res) => {
        res.pause(); // the client stops reading: the response stays in flight
        resolve(res);
      });
      req.on('error', reject);
      req.end(input);
    });
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await sleep(300);
    assert.equal(closed, false, 'close() waits for the response being written');
    assert.equal(server.inFlight, 1);
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve, reject) => {
      response.on('end', resolve);
      response.on('error', reject);
      response.resume();
    });
    const reply = decodeInferReply({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
    assert.equal(reply.status, 200);
    assert.ok(reply.outputs.get('OUTPUT0')?.binary?.equals(input), 'the whole response arrived');
    await closing;
    agent.destroy();
  });

  it('refuses new inference with 503 while draining, answers the rest and closes each connection after its response', async () => {
    const server = await start();
    const base = `http://127.0.0.1:${server.port}`;
    const agent = new Agent({ keepAlive: true });
    try {
      assert.equal((await httpCall(base, 'GET', '/v2/health/live', { agent })).status, 200);
      server.startDraining();
      // The idle keep-alive connection is ended; let the client see that before reusing it.
      await sleep(50);
      const refused = await httpCall(base, 'POST', inferPath('raw_fp32'), {
        agent,
        headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' },
        body: Buffer.alloc(16),
      });
      assert.equal(refused.status, 503);
      assert.deepEqual(replyJson(refused), { error: 'HTTP server is shutting down and has stopped accepting new requests.' });
      assert.equal(refused.headers['connection'], 'close');
      const live = await httpCall(base, 'GET', '/v2/health/live', { agent });
      assert.equal(live.status, 200);
      assert.equal(live.headers['connection'], 'close');
      assert.equal((await httpCall(base, 'GET', '/v2/models/raw_fp32', { agent })).status, 200);
    } finally {
      agent.destroy();
      server.forceClose();
      await server.close();
    }
  });
});
