import { create, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import {
  Client,
  Metadata,
  credentials,
  type CallOptions,
  type ClientDuplexStream,
  type ServiceError,
  type ChannelCredentials,
  type ChannelOptions,
} from '@grpc/grpc-js';
import {
  GRPCInferenceService,
  type ModelInferRequest,
  type ModelStreamInferResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import {
  Health,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
} from '@nereid/protocol/generated/health_pb';
import { grpcServiceDefinition } from './grpc-definition.js';

/**
 * A small client for Nereid's (or Triton's) gRPC API built only from our generated protobuf-es
 * messages: unary calls by method name, the ModelStreamInfer bidi stream, and the health check.
 * Requests are plain protobuf-es init objects; responses are decoded messages. Conformance suites
 * can reuse it against any server.
 */

type Methods = (typeof GRPCInferenceService)['method'];
type UnaryName = { [K in keyof Methods]: Methods[K]['methodKind'] extends 'unary' ? K : never }[keyof Methods];
type RequestOf<K extends keyof Methods> = MessageInitShape<Methods[K]['input']>;
type ResponseOf<K extends keyof Methods> = MessageShape<Methods[K]['output']>;

/** The failure of a call: gRPC status code and details. */
export type GrpcCallError = ServiceError;

const INFERENCE = grpcServiceDefinition(GRPCInferenceService);
const HEALTH = grpcServiceDefinition(Health);
/** Big enough for the 64 MiB+ tensors the server accepts. */
const MAX_MESSAGE = 2 ** 31 - 1;

export class InferenceGrpcClient {
  readonly #client: Client;

  /** `channelCredentials`: TLS for servers started with --grpc-use-ssl (plain HTTP/2 by default). */
  constructor(address: string, channelCredentials: ChannelCredentials = credentials.createInsecure(), options: ChannelOptions = {}) {
    this.#client = new Client(address, channelCredentials, {
      'grpc.max_receive_message_length': MAX_MESSAGE,
      'grpc.max_send_message_length': MAX_MESSAGE,
      ...options,
    });
  }

  /** One unary RPC of GRPCInferenceService, e.g. `call('modelReady', {name: 'echo'})`. */
  call<K extends UnaryName>(
    method: K,
    request: RequestOf<K>,
    metadata?: Record<string, string>,
    options: CallOptions = {},
  ): Promise<ResponseOf<K>> {
    const desc = GRPCInferenceService.method[method] as DescMethod;
    const definition = INFERENCE[desc.name]!;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        create(desc.input, request as MessageInitShape<DescMethod['input']>),
        toMetadata(metadata),
        options,
        (error, response) => (error ? reject(error) : resolve(response as ResponseOf<K>)),
      );
    });
  }

  /** Opens ModelStreamInfer; write `create(ModelInferRequestSchema, ...)` messages to it. */
  stream(metadata?: Record<string, string>): ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse> {
    const definition = INFERENCE['ModelStreamInfer']!;
    return this.#client.makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize as (bytes: Buffer) => ModelStreamInferResponse,
      toMetadata(metadata),
    );
  }

  /** grpc.health.v1.Health/Check for `service` ('' = the whole server). */
  healthCheck(service = ''): Promise<HealthCheckResponse> {
    const definition = HEALTH['Check']!;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        create(HealthCheckRequestSchema, { service }),
        new Metadata(),
        (error, response) => (error ? reject(error) : resolve(response as HealthCheckResponse)),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

function toMetadata(entries: Record<string, string> | undefined): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries ?? {})) metadata.set(key, value);
  return metadata;
}
