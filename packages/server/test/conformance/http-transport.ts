import { httpCall, postInfer, replyJson, type HttpReply } from '../helpers/http-client.js';
import { TransportError, type InferCall, type InferResult, type Transport, type WireTensor } from './transport.js';

const CODE_OF_STATUS: Readonly<Record<number, TransportError['code']>> = {
  400: 'INVALID_ARG',
  404: 'NOT_FOUND',
  500: 'INTERNAL',
  501: 'UNSUPPORTED',
  503: 'UNAVAILABLE',
};

function fail(reply: HttpReply): never {
  const body = reply.body.length > 0 ? (replyJson(reply) as { error?: string }) : {};
  throw new TransportError(CODE_OF_STATUS[reply.status] ?? 'OTHER', body.error ?? `HTTP ${reply.status}`);
}

/** The KServe v2 HTTP protocol as tritonclient speaks it: binary tensors both ways. */
export class HttpTransport implements Transport {
  readonly name = 'http';
  readonly #base: string;

  constructor(port: number) {
    this.#base = `http://127.0.0.1:${port}`;
  }

  async #get(path: string): Promise<HttpReply> {
    return httpCall(this.#base, 'GET', path);
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await httpCall(this.#base, method, path, body === undefined ? {} : { body: JSON.stringify(body) });
    if (reply.status !== 200) fail(reply);
    return (reply.body.length > 0 ? replyJson(reply) : undefined) as T;
  }

  async serverLive(): Promise<boolean> {
    return (await this.#get('/v2/health/live')).status === 200;
  }

  async serverReady(): Promise<boolean> {
    return (await this.#get('/v2/health/ready')).status === 200;
  }

  async modelReady(model: string, version?: string): Promise<boolean> {
    const reply = await this.#get(`${modelPath(model, version)}/ready`);
    if (reply.status === 200) return true;
    if (reply.status === 400 && (replyJson(reply) as { error?: string }).error === 'Model version not ready') return false;
    fail(reply);
  }

  serverMetadata() {
    return this.#json<{ name: string; version: string; extensions: string[] }>('GET', '/v2');
  }

  modelMetadata(model: string, version?: string) {
    return this.#json<Awaited<ReturnType<Transport['modelMetadata']>>>('GET', modelPath(model, version));
  }

  async modelConfig(model: string, version?: string) {
    const config = await this.#json<Record<string, any>>('GET', `${modelPath(model, version)}/config`);
    return {
      name: config['name'] as string,
      max_batch_size: config['max_batch_size'] as number,
      preferred_batch_size: (config['dynamic_batching']?.['preferred_batch_size'] ?? []) as number[],
      instance_count: (config['instance_group'] as { count: number }[]).reduce((sum, g) => sum + g.count, 0),
      input_names: (config['input'] as { name: string }[]).map((i) => i.name),
      input: (config['input'] as Record<string, any>[]).map((i) => ({
        name: i['name'] as string,
        data_type: i['data_type'] as string,
        dims: (i['dims'] as (number | string)[]).map(Number),
        optional: i['optional'] as boolean,
      })),
    };
  }

  async infer(call: InferCall): Promise<InferResult> {
    const reply = await postInfer(
      this.#base,
      call.model,
      {
        ...(call.id === undefined ? {} : { id: call.id }),
        ...(call.parameters === undefined ? {} : { parameters: call.parameters }),
        inputs: call.inputs.map((input) =>
          input.parameters?.['shared_memory_region'] !== undefined
            ? { name: input.name, datatype: input.datatype, shape: input.shape, parameters: input.parameters }
            : { name: input.name, datatype: input.datatype, shape: input.shape, binary: input.data, parameters: input.parameters ?? {} },
        ),
        ...(call.outputs === undefined
          ? { parameters: { ...call.parameters, binary_data_output: true } }
          : {
              outputs: call.outputs.map((o) => ({
                name: o.name,
                parameters: o.parameters?.['shared_memory_region'] !== undefined ? o.parameters : { ...o.parameters, binary_data: true },
              })),
            }),
      },
      call.version === undefined ? {} : { version: call.version },
    );
    if (reply.status !== 200) fail(reply);
    const outputs: WireTensor[] = [...reply.outputs.values()].map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      data: o.binary ?? new Uint8Array(0),
    }));
    return {
      modelName: reply.json['model_name'] as string,
      modelVersion: reply.json['model_version'] as string,
      id: (reply.json['id'] as string | undefined) ?? '',
      outputs,
    };
  }

  async statistics(model: string) {
    const stats = await this.#json<{ model_stats: any[] }>('GET', `${modelPath(model)}/stats`);
    const entry = stats.model_stats[0];
    return {
      success: entry.inference_stats.success.count as number,
      fail: entry.inference_stats.fail.count as number,
      inferenceCount: entry.inference_count as number,
      executionCount: entry.execution_count as number,
    };
  }

  repositoryIndex() {
    return this.#json<{ name: string; version?: string; state?: string }[]>('POST', '/v2/repository/index', {});
  }

  async registerSystemShm(name: string, key: string, offset: number, byteSize: number): Promise<void> {
    await this.#json('POST', `/v2/systemsharedmemory/region/${name}/register`, { key, offset, byte_size: byteSize });
  }

  systemShmStatus(name?: string) {
    return this.#json<{ name: string; key: string; offset: number; byte_size: number }[]>(
      'GET',
      name === undefined ? '/v2/systemsharedmemory/status' : `/v2/systemsharedmemory/region/${name}/status`,
    );
  }

  async unregisterSystemShm(name?: string): Promise<void> {
    await this.#json('POST', name === undefined ? '/v2/systemsharedmemory/unregister' : `/v2/systemsharedmemory/region/${name}/unregister`);
  }

  async registerCudaShm(name: string): Promise<void> {
    await this.#json('POST', `/v2/cudasharedmemory/region/${name}/register`, { raw_handle: { b64: Buffer.alloc(64).toString('base64') }, device_id: 0, byte_size: 64 });
  }

  cudaShmStatus() {
    return this.#json<unknown[]>('GET', '/v2/cudasharedmemory/status');
  }

  async unregisterCudaShm(name?: string): Promise<void> {
    await this.#json('POST', name === undefined ? '/v2/cudasharedmemory/unregister' : `/v2/cudasharedmemory/region/${name}/unregister`);
  }

  async close(): Promise<void> {}
}

function modelPath(model: string, version?: string): string {
  return version === undefined ? `/v2/models/${model}` : `/v2/models/${model}/versions/${version}`;
}
