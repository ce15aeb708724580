import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type RunningServer, type StartOptions } from '../../src/cli/start-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InferenceGrpcClient } from './grpc-client.js';
import { httpCall, postInfer, replyJson, type InferReply } from './http-client.js';
import { EXAMPLE_MODELS } from './paths.js';

/**
 * A server over real sockets for model-management tests: repositories of copies of the `simple`
 * example model, HTTP calls for the index, load, unload and checked inference, and a steady load.
 */

export const SIMPLE_ONNX = join(EXAMPLE_MODELS, 'simple', '1', 'model.onnx');
const SIMPLE_CONFIG = readFileSync(join(EXAMPLE_MODELS, 'simple', 'config.pbtxt'), 'utf8');

export function simpleConfig(name: string, extra = ''): string {
  return SIMPLE_CONFIG.replace('name: "simple"', `name: "${name}"`) + extra;
}

export function addModel(repo: string, name: string, config: string | undefined, versions: readonly string[] = ['1']): string {
  const dir = join(repo, name);
  mkdirSync(dir, { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), config);
  for (const version of versions) {
    mkdirSync(join(dir, version), { recursive: true });
    copyFileSync(SIMPLE_ONNX, join(dir, version, 'model.onnx'));
  }
  return dir;
}

export interface IndexEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

/** A running server over real sockets, with an HTTP base URL and a gRPC client. */
export class Harness {
  server!: RunningServer;
  base = '';
  grpc!: InferenceGrpcClient;

  async start(options: StartOptions): Promise<void> {
    this.server = await startServer({
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      logger: silentLogger,
      ...options,
    });
    this.base = `http://127.0.0.1:${this.server.http!.port}`;
    this.grpc = new InferenceGrpcClient(`127.0.0.1:${this.server.grpc!.port}`);
  }

  async stop(): Promise<void> {
    this.grpc.close();
    await this.server.close();
  }

  async index(): Promise<Map<string, IndexEntry[]>> {
    const reply = await httpCall(this.base, 'POST', '/v2/repository/index', { body: '{}' });
    assert.equal(reply.status, 200);
    const byName = new Map<string, IndexEntry[]>();
    for (const entry of replyJson(reply) as IndexEntry[]) byName.set(entry.name, [...(byName.get(entry.name) ?? []), entry]);
    return byName;
  }

  load(model: string, parameters?: Record<string, unknown>): Promise<{ status: number; error: string | undefined }> {
    const body = parameters === undefined ? '' : JSON.stringify({ parameters });
    return httpCall(this.base, 'POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, { body }).then((reply) => ({
      status: reply.status,
      error: reply.body.length > 0 ? (replyJson(reply) as { error?: string }).error : undefined,
    }));
  }

  unload(model: string): Promise<number> {
    return httpCall(this.base, 'POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`).then((reply) => reply.status);
  }

  /** INPUT0 + INPUT1 and INPUT0 - INPUT1 of the simple model, checked. */
  async inferSimple(model: string, version?: string): Promise<InferReply> {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, () => 1);
    const reply = await postInfer(
      this.base,
      model,
      {
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
        ],
      },
      version === undefined ? {} : { version },
    );
    if (reply.status === 200) {
      assert.deepEqual(reply.outputs.get('OUTPUT0')?.data, a.map((x) => x + 1));
      assert.deepEqual(reply.outputs.get('OUTPUT1')?.data, a.map((x) => x - 1));
    }
    return reply;
  }

  async configOf(model: string): Promise<Record<string, unknown>> {
    const reply = await httpCall(this.base, 'GET', `/v2/models/${model}/config`);
    assert.equal(reply.status, 200, reply.body.toString());
    return replyJson(reply) as Record<string, unknown>;
  }
}

/** Sends requests back to back from `workers` loops until `stop()`; counts outcomes. */
export function steadyLoad(harness: Harness, model: string, workers: number): { stop: () => Promise<{ ok: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const reply = await harness.inferSimple(model);
        if (reply.status === 200) ok++;
        else failures.push(`${reply.status} ${JSON.stringify(reply.json)}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

