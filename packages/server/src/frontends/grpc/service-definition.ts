import { fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { censusOfInferRequest } from './contents-census.js';

/** Turns a message into wire bytes; grpc-js needs a Buffer. */
export type ResponseSerializer = (message: never) => Buffer;

/**
 * The grpc-js definition of a protobuf-es service: one entry per RPC, keyed by its proto name
 * (`ModelInfer`) with the camelCase name as `originalName`, path `/<package>.<Service>/<Method>`,
 * and toBinary / fromBinary as codecs. `responseSerializers` replaces the encoder of chosen methods
 * (the infer RPCs use a faster one for large tensors). No .proto file is read at run time.
 */
export function grpcServiceDefinition(
  service: DescService,
  responseSerializers: Readonly<Record<string, ResponseSerializer>> = {},
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const kind = method.methodKind;
    const custom = responseSerializers[method.localName] as ((message: unknown) => Buffer) | undefined;
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: kind === 'client_streaming' || kind === 'bidi_streaming',
      responseStream: kind === 'server_streaming' || kind === 'bidi_streaming',
      requestSerialize: serializerOf(method.input),
      requestDeserialize: method.input.typeName === INFER_REQUEST ? inferRequestDeserializer(method.input) : deserializerOf(method.input),
      responseSerialize: custom ?? serializerOf(method.output),
      responseDeserialize: deserializerOf(method.output),
      originalName: method.localName,
    };
  }
  return definition;
}

function serializerOf(schema: DescMessage): (message: unknown) => Buffer {
  return (message) => asBuffer(toBinary(schema, message as MessageShape<DescMessage>));
}

function deserializerOf(schema: DescMessage): (bytes: Buffer) => unknown {
  // fromBinary hands out `bytes` fields as views into `bytes`: tensor data is never copied here.
  return (bytes) => fromBinary(schema, bytes);
}

const INFER_REQUEST = 'inference.ModelInferRequest';

/**
 * Marks an infer request refused before decoding (see contents-census.ts). grpc-js answers INTERNAL
 * when a deserializer throws, so the refusal travels as the message and inferRequestFromProto throws
 * it, as INVALID_ARGUMENT, where every other request error is raised.
 */
export const REFUSED_BEFORE_DECODING = Symbol('refused before decoding');

function inferRequestDeserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  const decode = deserializerOf(schema);
  return (bytes) => {
    const refusal = censusOfInferRequest(bytes);
    return refusal === undefined ? decode(bytes) : { [REFUSED_BEFORE_DECODING]: refusal };
  };
}

/** A Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
