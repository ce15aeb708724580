import { create } from '@bufbuild/protobuf';
import { InferParameterSchema, type InferParameter } from '@nereid/protocol/generated/grpc_service_pb';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import { InferenceGrpcClient, type GrpcCallError } from '../helpers/grpc-client.js';
import { TransportError, type InferCall, type InferResult, type Transport } from './transport.js';

const CODE_OF_STATUS: Readonly<Record<number, TransportError['code']>> = {
  3: 'INVALID_ARG',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  12: 'UNSUPPORTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};

function parameter(value: string | number | boolean): InferParameter {
  if (typeof value === 'string') return create(InferParameterSchema, { parameterChoice: { case: 'stringParam', value } });
  if (typeof value === 'boolean') return create(InferParameterSchema, { parameterChoice: { case: 'boolParam', value } });
  return create(InferParameterSchema, { parameterChoice: { case: 'int64Param', value: BigInt(value) } });
}

function parameters(values: Readonly<Record<string, string | number | boolean>> | undefined): Record<string, InferParameter> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([key, value]) => [key, parameter(value)]));
}

/** GRPCInferenceService through a client generated from our protos, raw contents both ways. */
export class GrpcTransport implements Transport {
  readonly name = 'grpc';
  readonly #client: InferenceGrpcClient;

  constructor(port: number) {
    this.#client = new InferenceGrpcClient(`127.0.0.1:${port}`);
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const e = error as GrpcCallError;
      throw new TransportError(CODE_OF_STATUS[e.code] ?? 'OTHER', e.details ?? String(error));
    }
  }

  async serverLive() {
    return (await this.#call(() => this.#client.call('serverLive', {}))).live;
  }

  async serverReady() {
    return (await this.#call(() => this.#client.call('serverReady', {}))).ready;
  }

  async modelReady(model: string, version = '') {
    return (await this.#call(() => this.#client.call('modelReady', { name: model, version }))).ready;
  }

  async serverMetadata() {
    const reply = await this.#call(() => this.#client.call('serverMetadata', {}));
    return { name: reply.name, version: reply.version, extensions: reply.extensions };
  }

  async modelMetadata(model: string, version = '') {
    const reply = await this.#call(() => this.#client.call('modelMetadata', { name: model, version }));
    const tensors = (list: typeof reply.inputs) => list.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
    return { name: reply.name, versions: reply.versions, platform: reply.platform, inputs: tensors(reply.inputs), outputs: tensors(reply.outputs) };
  }

  async modelConfig(model: string, version = '') {
    const config = (await this.#call(() => this.#client.call('modelConfig', { name: model, version }))).config!;
    const scheduling = config.schedulingChoice;
    return {
      name: config.name,
      max_batch_size: config.maxBatchSize,
      preferred_batch_size: scheduling.case === 'dynamicBatching' ? scheduling.value.preferredBatchSize : [],
      instance_count: config.instanceGroup.reduce((sum, g) => sum + g.count, 0),
      input_names: config.input.map((i) => i.name),
      input: config.input.map((i) => ({
        name: i.name,
        data_type: DataType[i.dataType],
        dims: i.dims.map(Number),
        optional: i.optional,
      })),
    };
  }

  async infer(call: InferCall): Promise<InferResult> {
    const inShm = (t: { parameters?: Readonly<Record<string, unknown>> }) => t.parameters?.['shared_memory_region'] !== undefined;
    const reply = await this.#call(() =>
      this.#client.call('modelInfer', {
        modelName: call.model,
        modelVersion: call.version ?? '',
        id: call.id ?? '',
        parameters: parameters(call.parameters),
        inputs: call.inputs.map((input) => ({
          name: input.name,
          datatype: input.datatype,
          shape: input.shape.map(BigInt),
          parameters: parameters(input.parameters),
        })),
        outputs: (call.outputs ?? []).map((output) => ({ name: output.name, parameters: parameters(output.parameters) })),
        rawInputContents: call.inputs.filter((input) => !inShm(input)).map((input) => input.data),
      }),
    );
    return {
      modelName: reply.modelName,
      modelVersion: reply.modelVersion,
      id: reply.id,
      outputs: reply.outputs.map((output, i) => ({
        name: output.name,
        datatype: output.datatype,
        shape: output.shape.map(Number),
        data: reply.rawOutputContents[i] ?? new Uint8Array(0),
      })),
    };
  }

  async statistics(model: string) {
    const reply = await this.#call(() => this.#client.call('modelStatistics', { name: model, version: '' }));
    const entry = reply.modelStats[0]!;
    return {
      success: Number(entry.inferenceStats?.success?.count ?? 0n),
      fail: Number(entry.inferenceStats?.fail?.count ?? 0n),
      inferenceCount: Number(entry.inferenceCount),
      executionCount: Number(entry.executionCount),
    };
  }

  async repositoryIndex() {
    const reply = await this.#call(() => this.#client.call('repositoryIndex', { repositoryName: '', ready: false }));
    return reply.models.map((m) => ({ name: m.name, version: m.version, state: m.state }));
  }

  async registerSystemShm(name: string, key: string, offset: number, byteSize: number) {
    await this.#call(() => this.#client.call('systemSharedMemoryRegister', { name, key, offset: BigInt(offset), byteSize: BigInt(byteSize) }));
  }

  async systemShmStatus(name = '') {
    const reply = await this.#call(() => this.#client.call('systemSharedMemoryStatus', { name }));
    return Object.values(reply.regions).map((r) => ({ name: r.name, key: r.key, offset: Number(r.offset), byte_size: Number(r.byteSize) }));
  }

  async unregisterSystemShm(name = '') {
    await this.#call(() => this.#client.call('systemSharedMemoryUnregister', { name }));
  }

  async registerCudaShm(name: string) {
    await this.#call(() => this.#client.call('cudaSharedMemoryRegister', { name, rawHandle: new Uint8Array(64), deviceId: 0n, byteSize: 64n }));
  }

  async cudaShmStatus() {
    return Object.values((await this.#call(() => this.#client.call('cudaSharedMemoryStatus', { name: '' }))).regions);
  }

  async unregisterCudaShm(name = '') {
    await this.#call(() => this.#client.call('cudaSharedMemoryUnregister', { name }));
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
