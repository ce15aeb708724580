/**
 * The client side of the sequence batching benchmark: `sequences` concurrent sequences of `steps`
 * requests each, every sequence sending its next step as soon as the previous answer arrived, with
 * Triton's `sequence_id`, `sequence_start` and `sequence_end` parameters, over
 *   - http: the binary tensor extension, keep-alive, one connection per sequence;
 *   - grpc: one ModelStreamInfer stream per sequence (all on one HTTP/2 connection, as one
 *     tritonclient process has), messages encoded once up front.
 * Every answer is checked against the reference.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { Agent, request } from 'node:http';
import { GRPCInferenceService, ModelInferRequestSchema, ModelStreamInferResponseSchema } from '@nereid/protocol/generated/grpc_service_pb';
import { GrpcBenchClient, encode } from './grpc-bench-client.js';
import { sequenceInput, type SequenceModel } from './sequence-models.js';

export type Protocol = 'http' | 'grpc';

export interface RoundResult {
  readonly seconds: number;
  /** Per-step latency the client saw, µs. */
  readonly latenciesUs: number[];
  readonly errors: number;
  /** Answers whose output differs from the reference beyond float tolerance. */
  readonly mismatches: number;
  readonly firstProblem?: string | undefined;
}

export interface Round {
  readonly protocol: Protocol;
  /** The HTTP or gRPC port. */
  readonly port: number;
  readonly served: string;
  readonly model: SequenceModel;
  readonly sequences: number;
  readonly steps: number;
  /** Correlation IDs are firstId .. firstId + sequences - 1. */
  readonly firstId: number;
  readonly reference: Float32Array[][];
}

/** A step's answer: the output's bytes, or what went wrong. */
type Answer = { readonly output: Buffer } | { readonly problem: string };

/** One sequence's connection to the server: `send(k)` sends the k-th prepared step (0 start, 1 middle, 2 end). */
interface Channel {
  send(kind: number): Promise<Answer>;
  close(): void;
}

interface Flags {
  readonly start: boolean;
  readonly end: boolean;
}

const FLAGS: readonly Flags[] = [
  { start: true, end: false },
  { start: false, end: false },
  { start: false, end: true },
];

function httpChannel(round: Round, agent: Agent, id: number, data: Buffer): Channel {
  const { model } = round;
  const path = `/v2/models/${round.served}/infer`;
  const bodies = FLAGS.map(({ start, end }) => {
    const header = Buffer.from(
      JSON.stringify({
        parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
        inputs: [{ name: model.input.name, shape: [1, ...model.input.dims], datatype: model.input.datatype, parameters: { binary_data_size: data.length } }],
        outputs: [{ name: model.output, parameters: { binary_data: true } }],
      }),
    );
    return { body: Buffer.concat([header, data]), headerLength: header.length };
  });
  return {
    send: (kind) =>
      new Promise((resolve, reject) => {
        const { body, headerLength } = bodies[kind]!;
        const headers = { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(headerLength), 'Content-Length': String(body.length) };
        const req = request({ agent, host: '127.0.0.1', port: round.port, method: 'POST', path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('close', () => {
            if (!res.complete) reject(new Error(`sequence ${id}: the connection closed before the whole answer came`));
          });
          res.on('end', () => {
            const answer = Buffer.concat(chunks);
            if (res.statusCode !== 200) resolve({ problem: `${res.statusCode} ${answer.toString().slice(0, 200)}` });
            else resolve({ output: answer.subarray(Number(res.headers['inference-header-content-length'])) });
          });
        });
        req.on('error', reject);
        req.end(body);
      }),
    close: () => {},
  };
}

function grpcChannel(round: Round, client: GrpcBenchClient, id: number, data: Buffer): Channel {
  const { model } = round;
  const messages = FLAGS.map(({ start, end }) =>
    encode(ModelInferRequestSchema, {
      modelName: round.served,
      parameters: {
        sequence_id: { parameterChoice: { case: 'int64Param', value: BigInt(id) } },
        sequence_start: { parameterChoice: { case: 'boolParam', value: start } },
        sequence_end: { parameterChoice: { case: 'boolParam', value: end } },
      },
      inputs: [{ name: model.input.name, datatype: model.input.datatype, shape: [1n, ...model.input.dims.map(BigInt)] }],
      outputs: [{ name: model.output }],
      rawInputContents: [data],
    }),
  );
  const stream = client.rawStream(GRPCInferenceService.method.modelStreamInfer);
  let waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;
  // Once the stream is over (an error, or the server ending it), every send fails at once.
  let over: Error | undefined;
  const end = (error: Error): void => {
    over ??= error;
    const pending = waiting;
    waiting = undefined;
    pending?.reject(over);
  };
  stream.on('error', end);
  stream.on('end', () => end(new Error(`sequence ${id}: the server ended the stream`)));
  stream.on('data', (bytes: Buffer) => {
    const message = fromBinary(ModelStreamInferResponseSchema, bytes);
    const raw = message.inferResponse?.rawOutputContents[0];
    const answer: Answer = message.errorMessage || !raw ? { problem: message.errorMessage || 'no output' } : { output: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) };
    const pending = waiting;
    waiting = undefined;
    pending?.resolve(answer);
  });
  return {
    send: (kind) =>
      new Promise((resolve, reject) => {
        if (over) return reject(over);
        waiting = { resolve, reject };
        stream.write(messages[kind]!);
      }),
    close: () => {
      over ??= new Error('closed');
      stream.end();
    },
  };
}

/** Whether `got` (the raw output bytes) matches `expected` within float tolerance. */
function matches(got: Buffer, expected: Float32Array): boolean {
  if (got.length !== expected.length * 4) return false;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    if (!(Math.abs(got.readFloatLE(i * 4) - want) <= 1e-3 * Math.max(1, Math.abs(want)))) return false;
  }
  return true;
}

/** Runs every sequence of the round to its end; resolves when the last one finished. */
export async function runRound(round: Round): Promise<RoundResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: round.sequences });
  const grpc = round.protocol === 'grpc' ? new GrpcBenchClient(`127.0.0.1:${round.port}`, { ownConnection: false }) : undefined;
  await grpc?.ready();
  const latenciesUs: number[] = [];
  let errors = 0;
  let mismatches = 0;
  let firstProblem: string | undefined;
  const sequence = async (index: number): Promise<void> => {
    const id = round.firstId + index;
    const values = sequenceInput(round.model, index);
    const data = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    const channel = grpc ? grpcChannel(round, grpc, id, data) : httpChannel(round, agent, id, data);
    try {
      for (let step = 0; step < round.steps; step++) {
        const sent = performance.now();
        const answer = await channel.send(step === 0 ? 0 : step === round.steps - 1 ? 2 : 1);
        latenciesUs.push((performance.now() - sent) * 1000);
        if ('problem' in answer) {
          errors += 1;
          firstProblem ??= `sequence ${id} step ${step}: ${answer.problem}`;
          if (step === 0) return; // the sequence never started: its later steps would all fail the same way
          continue;
        }
        if (!matches(answer.output, round.reference[index]![step]!)) {
          mismatches += 1;
          firstProblem ??= `sequence ${id} step ${step}: output differs from raw ORT`;
        }
      }
    } finally {
      channel.close();
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: round.sequences }, (_, index) => sequence(index)));
  } finally {
    agent.destroy();
    grpc?.close();
  }
  return { seconds: (performance.now() - started) / 1000, latenciesUs, errors, mismatches, firstProblem };
}
