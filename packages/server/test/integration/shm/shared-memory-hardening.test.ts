import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../../src/cli/start-server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { httpCall, keepAliveAgent, replyJson, type HttpReply } from '../../helpers/http-client.js';
import { EXAMPLE_MODELS } from '../../helpers/paths.js';
import { assertStatus } from '../grpc/assert-status.js';

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;

/**
 * Hostile shared-memory registrations against a real server (HTTP and gRPC, client shm allowed):
 * keys that would escape /dev/shm or follow a planted symlink, and malformed CUDA registrations.
 */
describe('shared-memory registration hardening', () => {
  let server: RunningServer;
  let base: string;
  let grpc: InferenceGrpcClient;
  let outside: string;
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const created: string[] = [];
  const post = (path: string, body: unknown): Promise<HttpReply> =>
    httpCall(base, 'POST', path, { body: JSON.stringify(body) });

  before(async () => {
    const repository = mkdtempSync(join(tmpdir(), 'nereid-shm-hardening-'));
    symlinkSync(join(EXAMPLE_MODELS, 'simple'), join(repository, 'simple'));
    server = await startServer({
      modelRepositories: [repository],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      allowClientShm: true,
      logger: silentLogger,
    });
    base = `http://127.0.0.1:${server.http!.port}`;
    grpc = new InferenceGrpcClient(`127.0.0.1:${server.grpc!.port}`);
    outside = mkdtempSync(join(tmpdir(), 'nereid-shm-outside-'));
  });

  after(async () => {
    for (const path of created) rmSync(path, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
    keepAliveAgent.destroy();
    grpc.close();
    await server.close();
  });

  function assertHttpError(reply: HttpReply, status: number, message: string): void {
    assert.equal(reply.status, status, reply.body.toString());
    assert.deepEqual(replyJson(reply), { error: message });
  }

  it('refuses a key naming a symlink in /dev/shm and leaves its target untouched', async () => {
    const secret = join(outside, 'secret.bin');
    const original = Buffer.from('server-only secret bytes, 64 long: 0123456789abcdef0123456789ab');
    writeFileSync(secret, original);
    const key = `/nereid-link-${tag}`;
    symlinkSync(secret, `/dev/shm${key}`);
    created.push(`/dev/shm${key}`);

    assertHttpError(
      await post('/v2/systemsharedmemory/region/stolen/register', { key, byte_size: 16 }),
      500,
      `Unable to open shared memory region: '${key}'`,
    );
    await assertStatus(
      grpc.call('systemSharedMemoryRegister', { name: 'stolen', key, offset: 0n, byteSize: 16n }),
      GRPC_INTERNAL,
      `Unable to open shared memory region: '${key}'`,
    );
    assert.deepEqual(replyJson(await httpCall(base, 'GET', '/v2/systemsharedmemory/status')), []);
    assert.deepEqual(readFileSync(secret), original);
  });

  it('refuses keys that leave the shm folder or name something other than a regular file', async () => {
    const folder = `/nereid-dir-${tag}`;
    mkdirSync(`/dev/shm${folder}`);
    created.push(`/dev/shm${folder}`);
    const keys = ['../etc/passwd', '/../etc/passwd', '..', '/', '', `${folder}/x`, 'a/b', folder, `/nereid-missing-${tag}`];
    for (const key of keys) {
      assertHttpError(
        await post('/v2/systemsharedmemory/region/bad/register', { key, byte_size: 1 }),
        500,
        `Unable to open shared memory region: '${key}'`,
      );
      await assertStatus(
        grpc.call('systemSharedMemoryRegister', { name: 'bad', key, offset: 0n, byteSize: 1n }),
        GRPC_INTERNAL,
        `Unable to open shared memory region: '${key}'`,
      );
    }
    assert.deepEqual(replyJson(await httpCall(base, 'GET', '/v2/systemsharedmemory/status')), []);
  });

  it('still serves a normal region afterwards: inputs from it, an output into it', async () => {
    const key = `/nereid-ok-${tag}`;
    const path = `/dev/shm${key}`;
    const values = Array.from({ length: 16 }, (_, i) => i);
    const region = Buffer.alloc(192);
    values.forEach((v, i) => {
      region.writeInt32LE(v, i * 4);
      region.writeInt32LE(1, 64 + i * 4);
    });
    writeFileSync(path, region);
    created.push(path);
    assert.equal((await post('/v2/systemsharedmemory/region/ok/register', { key, byte_size: 192 })).status, 200);
    await grpc.call('systemSharedMemoryRegister', { name: 'ok_grpc', key, offset: 0n, byteSize: 64n });
    const shm = (offset: number) => ({ shared_memory_region: 'ok', shared_memory_offset: offset, shared_memory_byte_size: 64 });
    const reply = await post('/v2/models/simple/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm(0) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shm(64) },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: shm(128) }],
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const written = readFileSync(path).subarray(128, 192);
    assert.deepEqual(values.map((_, i) => written.readInt32LE(i * 4)), values.map((v) => v + 1));
    assert.equal((await post('/v2/systemsharedmemory/unregister', {})).status, 200);
  });

  describe('CUDA register validates its arguments before answering unsupported', () => {
    const handle64 = Buffer.alloc(64, 7).toString('base64');
    const register = (body: unknown) => post('/v2/cudasharedmemory/region/gpu/register', body);

    it('over HTTP, with Triton texts', async () => {
      const cases: [unknown, string][] = [
        [{ device_id: 0, byte_size: 16 }, "Shared memory register request has no 'raw_handle' field"],
        [{ raw_handle: {}, device_id: 0, byte_size: 16 }, "attempt to access non-existing object member 'b64'"],
        [{ raw_handle: { b64: 7 }, device_id: 0, byte_size: 16 }, 'attempt to access JSON non-string as string'],
        [{ raw_handle: { b64: handle64 }, device_id: 0 }, "attempt to access non-existing object member 'byte_size'"],
        [{ raw_handle: { b64: handle64 }, device_id: 0, byte_size: -1 }, 'attempt to access JSON non-unsigned-integer as unsigned-integer'],
        [{ raw_handle: { b64: handle64 }, byte_size: 16 }, "attempt to access non-existing object member 'device_id'"],
        [{ raw_handle: { b64: handle64 }, device_id: 'x', byte_size: 16 }, 'attempt to access JSON non-unsigned-integer as unsigned-integer'],
        [{ raw_handle: { b64: 'AAAA' }, device_id: 0, byte_size: 16 }, "'raw_handle' must be a valid base64 encoded cudaIpcMemHandle_t"],
        [{ raw_handle: { b64: Buffer.alloc(48).toString('base64') }, device_id: 0, byte_size: 16 }, "'raw_handle' must be a valid base64 encoded cudaIpcMemHandle_t"],
        [{ raw_handle: { b64: handle64 }, device_id: 2 ** 31, byte_size: 16 }, 'failed to register shared memory region: invalid args'],
      ];
      for (const [body, message] of cases) assertHttpError(await register(body), 400, message);
      const huge = `{"raw_handle":{"b64":"${handle64}"},"device_id":0,"byte_size":18446744073709551615}`;
      assertHttpError(
        await httpCall(base, 'POST', '/v2/cudasharedmemory/region/gpu/register', { body: huge }),
        400,
        "failed to register shared memory region 'gpu': invalid args",
      );
      assertHttpError(
        await register({ raw_handle: { b64: handle64 }, device_id: 0, byte_size: 16 }),
        501,
        "failed to register CUDA shared memory region 'gpu': CUDA shared memory is not supported by this CPU-only server",
      );
      assert.deepEqual(replyJson(await httpCall(base, 'GET', '/v2/cudasharedmemory/status')), []);
    });

    it('over gRPC, with Triton texts', async () => {
      const call = (rawHandle: Uint8Array, deviceId: bigint, byteSize: bigint) =>
        grpc.call('cudaSharedMemoryRegister', { name: 'gpu', rawHandle, deviceId, byteSize });
      const invalid = 'failed to register shared memory region: invalid args';
      await assertStatus(call(new Uint8Array(0), 0n, 16n), GRPC_INVALID_ARGUMENT, invalid);
      await assertStatus(call(new Uint8Array(65), 0n, 16n), GRPC_INVALID_ARGUMENT, invalid);
      await assertStatus(call(new Uint8Array(64), -1n, 16n), GRPC_INVALID_ARGUMENT, invalid);
      await assertStatus(call(new Uint8Array(64), 2n ** 40n, 16n), GRPC_INVALID_ARGUMENT, invalid);
      await assertStatus(
        call(new Uint8Array(64), 0n, 2n ** 64n - 1n),
        GRPC_INVALID_ARGUMENT,
        "failed to register shared memory region 'gpu': invalid args",
      );
      await assertStatus(call(new Uint8Array(64), 0n, 16n), GRPC_UNIMPLEMENTED, /CUDA shared memory is not supported/);
      const status = await grpc.call('cudaSharedMemoryStatus', { name: '' });
      assert.deepEqual(Object.keys(status.regions), []);
    });
  });
});
