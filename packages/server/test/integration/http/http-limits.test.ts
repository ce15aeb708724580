import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServerHandle } from '../../../src/frontends/http/http-server.js';
import type { Logger } from '../../../src/observability/logger.js';
import { EchoCore } from '../../helpers/echo-core.js';
import { httpCall } from '../../helpers/http-client.js';

/**
 * --http-body-timeout-secs and --http-max-connections over real sockets: a stalled upload is
 * answered 408 and closed while others are served, and connections beyond the cap are closed
 * until room frees up.
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

/** A raw TCP connection that collects what the server sends and notes when it closes. */
interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves, with the time it happened, once the server closed the connection. */
  readonly closed: Promise<number>;
}

function rawConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    const closed = new Promise<number>((done) => {
      socket.on('end', () => done(Date.now()));
      socket.on('close', () => done(Date.now()));
    });
    socket.on('error', () => {}); // a reset counts as closed
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Sends one keep-alive GET on the raw connection and waits for its complete reply. */
async function rawGet(connection: RawConnection, path: string): Promise<string> {
  const before = connection.received().length;
  connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  for (let i = 0; i < 200; i++) {
    const reply = connection.received().slice(before);
    if (/\r\n\r\n/.test(reply) && /content-length: 0/i.test(reply)) return reply;
    await sleep(10);
  }
  throw new Error(`no reply to GET ${path}: ${connection.received()}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('HTTP body timeout', () => {
  let server: HttpServerHandle;
  let base: string;

  before(async () => {
    server = await startHttpServer(
      new EchoCore(),
      { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1 << 20, bodyTimeoutSecs: 1 },
      silentLogger,
    );
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    server.forceClose();
    await server.close();
  });

  it('answers a body that stalls 408 and closes its connection after the timeout, serving others meanwhile', async () => {
    const stalled = await rawConnection(server.port);
    const started = Date.now();
    stalled.socket.write(
      'POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"inputs":[',
    );
    // The server keeps serving other clients while the upload stalls.
    const agent = new Agent({ keepAlive: false });
    try {
      await sleep(300);
      assert.equal((await httpCall(base, 'GET', '/v2/health/ready', { agent })).status, 200);
      const closedAt = await stalled.closed;
      const elapsed = closedAt - started;
      assert.ok(elapsed >= 900, `closed after ${elapsed} ms, before the 1 s timeout`);
      assert.ok(elapsed < 5000, `closed only after ${elapsed} ms`);
      const reply = stalled.received();
      assert.match(reply, /^HTTP\/1\.1 408 /);
      assert.match(reply, /connection: close/i);
      assert.match(reply, /\{"error":"request body not received within 1 s"\}$/);
      assert.equal((await httpCall(base, 'GET', '/v2/health/ready', { agent })).status, 200);
    } finally {
      agent.destroy();
      stalled.socket.destroy();
    }
  });

  it('does not time out a body that arrives in time; the connection stays usable', async () => {
    const connection = await rawConnection(server.port);
    try {
      const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
      connection.socket.write(
        `POST /v2/models/raw_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await sleep(500);
      connection.socket.write(body.slice(10));
      await sleep(1200);
      assert.match(connection.received(), /^HTTP\/1\.1 200 /);
      // The keep-alive connection is still usable after the timeout would have fired.
      assert.match(await rawGet(connection, '/v2/health/live'), /^HTTP\/1\.1 200 /);
    } finally {
      connection.socket.destroy();
    }
  });

  it('times out a stalled body sent in the same write as a complete request before it', async () => {
    // Both requests' headers arrive in one read: the first body is complete at once (no timer is
    // armed for it), the second stalls and must still be timed out.
    const connection = await rawConnection(server.port);
    try {
      const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
      const request = (length: number): string =>
        `POST /v2/models/raw_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
      const started = Date.now();
      connection.socket.write(request(body.length) + body + request(1000) + body.slice(0, 10));
      const closedAt = await connection.closed;
      assert.ok(closedAt - started >= 900, `closed after ${closedAt - started} ms, before the 1 s timeout`);
      const replies = connection.received();
      assert.match(replies, /^HTTP\/1\.1 200 /);
      assert.match(replies, /HTTP\/1\.1 408 [\s\S]*\{"error":"request body not received within 1 s"\}$/);
    } finally {
      connection.socket.destroy();
    }
  });
});

describe('HTTP connection limit', () => {
  let server: HttpServerHandle;

  before(async () => {
    server = await startHttpServer(
      new EchoCore(),
      { allow: true, port: 0, address: '127.0.0.1', maxInputSize: 1024, maxConnections: 4 },
      silentLogger,
    );
  });

  after(async () => {
    server.forceClose();
    await server.close();
  });

  it('closes connections beyond --http-max-connections while the others stay served, and accepts again once they close', async () => {
    const open: RawConnection[] = [];
    for (let i = 0; i < 4; i++) {
      const connection = await rawConnection(server.port);
      // A served request proves the server accepted (and counts) the connection.
      assert.match(await rawGet(connection, '/v2/health/live'), /^HTTP\/1\.1 200 /);
      open.push(connection);
    }
    const fifth = await rawConnection(server.port);
    fifth.socket.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await fifth.closed;
    assert.equal(fifth.received(), '', 'the connection over the limit got no answer');
    // The four keep working.
    for (const connection of open) assert.match(await rawGet(connection, '/v2/health/live'), /^HTTP\/1\.1 200 /);

    for (const connection of open) connection.socket.end();
    await Promise.all(open.map((connection) => connection.closed));
    // The server notices the closes asynchronously; a new connection gets served within a moment.
    let served = false;
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      const next = await rawConnection(server.port);
      next.socket.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      await Promise.race([next.closed, sleep(100)]);
      served = /^HTTP\/1\.1 200 /.test(next.received());
      next.socket.destroy();
      if (!served) await sleep(20);
    }
    assert.ok(served, 'a new connection was served after the others closed');
  });
});
