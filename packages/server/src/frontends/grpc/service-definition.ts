import { fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { censusOfInferRequest, inferRequestHeader } from './contents-census.js';
import {
  DEFERRED_DECODING,
  REFUSED_BEFORE_DECODING,
  type DeferredInferRequest,
  type RefusedInferRequest,
} from './message-marks.js';

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
/** Messages with at least this many typed elements are decoded on a codec worker. */
const DEFER_TYPED_ELEMENTS = 64 * 1024;

/** ModelInferRequest: counted on the wire first, then refused, deferred or decoded (message-marks.ts). */
function inferRequestDeserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  const decode = deserializerOf(schema);
  return (bytes) => {
    const census = censusOfInferRequest(bytes);
    if (census.refusal !== undefined) {
      return { ...inferRequestHeader(bytes), [REFUSED_BEFORE_DECODING]: census.refusal } satisfies RefusedInferRequest;
    }
    if (census.elements < DEFER_TYPED_ELEMENTS) return decode(bytes);
    return { ...inferRequestHeader(bytes), [DEFERRED_DECODING]: bytes } satisfies DeferredInferRequest;
  };
}

/** A Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
