import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { Client, Metadata, credentials, type ChannelOptions, type ClientDuplexStream } from '@grpc/grpc-js';
import { GRPCInferenceService } from '@nereid/protocol/generated/grpc_service_pb';

/** The server accepts messages up to 2 GiB; the client must too. */
const MAX_MESSAGE = 2 ** 31 - 1;

/** A unary method of GRPCInferenceService as protobuf-es describes it. */
interface UnaryMethod<I extends DescMessage, O extends DescMessage> {
  readonly name: string;
  readonly input: I;
  readonly output: O;
}

/** How a bench client connects. */
export interface GrpcBenchClientOptions {
  /** A connection of its own instead of grpc-js' shared subchannel (one HTTP/2 connection per caller). */
  readonly ownConnection: boolean;
  /** HTTP/2 receive window in bytes; grpc-js keeps Node's 64 KiB default unless told (C-core tunes it). */
  readonly flowControlWindow?: number;
}

const passThrough = (bytes: Buffer): Buffer => bytes;

function pathOf(method: { readonly name: string }): string {
  return `/${GRPCInferenceService.typeName}/${method.name}`;
}

/**
 * A gRPC client for the bench built from our protobuf-es messages. `call` encodes and decodes like
 * any client (setup and checks); `raw` sends pre-encoded request bytes and hands back the response
 * bytes undecoded, so the timed path costs the client no more than the HTTP one, which replays a
 * fixed body and drains the answer.
 */
export class GrpcBenchClient {
  readonly #client: Client;

  constructor(address: string, options: GrpcBenchClientOptions) {
    const channel: ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE,
      'grpc.max_send_message_length': MAX_MESSAGE,
    };
    if (options.ownConnection) channel['grpc.use_local_subchannel_pool'] = 1;
    if (options.flowControlWindow !== undefined) channel['grpc-node.flow_control_window'] = options.flowControlWindow;
    this.#client = new Client(address, credentials.createInsecure(), channel);
  }

  /** Waits until the channel is connected, so connection setup stays out of the timings. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
    );
  }

  call<I extends DescMessage, O extends DescMessage>(method: UnaryMethod<I, O>, init: MessageInitShape<I>): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        pathOf(method),
        (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        create(method.input, init),
        new Metadata(),
        (error, response) => (error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response)),
      );
    });
  }

  /** One unary call with the request already encoded; resolves with the encoded response. */
  raw(method: { readonly name: string }, request: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(pathOf(method), passThrough, passThrough, request, new Metadata(), (error, response) =>
        error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
      );
    });
  }

  /** A bidi stream of a method (ModelStreamInfer) carrying encoded messages both ways. */
  rawStream(method: { readonly name: string }): ClientDuplexStream<Buffer, Buffer> {
    return this.#client.makeBidiStreamRequest(pathOf(method), passThrough, passThrough, new Metadata());
  }

  close(): void {
    this.#client.close();
  }
}

/** Encodes a request once, for `raw`. */
export function encode<I extends DescMessage>(schema: I, init: MessageInitShape<I>): Buffer {
  const bytes = toBinary(schema, create(schema, init));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
