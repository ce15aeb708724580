import { fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import type { AlignmentHint, EncodedMessage } from './framing.js';
import type { ServiceHandlers, StreamHandler, UnaryHandler } from './handlers.js';

/** Turns a response message into its wire bytes. */
export type ResponseEncoder = (message: never) => EncodedMessage;
/** Turns wire bytes into a request message; may throw on malformed bytes. */
export type RequestDecoder = (bytes: Buffer) => unknown;

/** One RPC as the server dispatches it, found by its HTTP/2 path. */
export type Route =
  | (RouteBase & { readonly kind: 'unary'; readonly handler: UnaryHandler<never, unknown> })
  | (RouteBase & { readonly kind: 'stream'; readonly handler: StreamHandler<never, never> });

interface RouteBase {
  /** `/<package>.<Service>/<Method>` */
  readonly path: string;
  readonly decode: RequestDecoder;
  readonly encode: (message: unknown) => EncodedMessage;
  /** Responses of this method follow `--grpc-infer-response-compression-level`. */
  readonly compressible: boolean;
  /** Where large request messages want their alignment (tensor payloads handed on in place). */
  readonly alignAt: AlignmentHint | undefined;
}

export interface ServiceBinding {
  readonly service: DescService;
  readonly handlers: ServiceHandlers;
  /** Replaces protobuf-es' codec for chosen methods, keyed by local name. */
  readonly decoders?: Readonly<Record<string, RequestDecoder>>;
  readonly encoders?: Readonly<Record<string, ResponseEncoder>>;
  /** Local names of the methods whose responses may be compressed. */
  readonly compressible?: readonly string[];
  readonly aligners?: Readonly<Record<string, AlignmentHint>>;
}

/**
 * The routes of services described by protobuf-es descriptors: no .proto file is read at run time.
 * Every method must have a handler (a missing one is a bug found at start, not an UNIMPLEMENTED
 * found by a client). Triton's services use unary and bidirectional methods only.
 */
export function routeTable(bindings: readonly ServiceBinding[]): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  for (const { service, handlers, decoders = {}, encoders = {}, compressible = [], aligners = {} } of bindings) {
    for (const method of service.methods) {
      const handler = handlers[method.localName];
      if (handler === undefined) throw new Error(`no handler for ${service.typeName}/${method.name}`);
      const base: RouteBase = {
        path: `/${service.typeName}/${method.name}`,
        decode: decoders[method.localName] ?? decoderOf(method.input),
        encode: (encoders[method.localName] as ((message: unknown) => EncodedMessage) | undefined) ?? encoderOf(method.output),
        compressible: compressible.includes(method.localName),
        alignAt: aligners[method.localName],
      };
      if (method.methodKind === 'unary') {
        routes.set(base.path, { ...base, kind: 'unary', handler: handler as UnaryHandler<never, unknown> });
      } else if (method.methodKind === 'bidi_streaming') {
        routes.set(base.path, { ...base, kind: 'stream', handler: handler as StreamHandler<never, never> });
      } else {
        throw new Error(`${service.typeName}/${method.name}: ${method.methodKind} methods are not served`);
      }
    }
  }
  return routes;
}

function decoderOf(schema: DescMessage): RequestDecoder {
  // fromBinary hands out `bytes` fields as views into `bytes`: tensor data is never copied here.
  return (bytes) => fromBinary(schema, bytes);
}

function encoderOf(schema: DescMessage): (message: unknown) => Uint8Array {
  return (message) => toBinary(schema, message as MessageShape<DescMessage>);
}
