/**
 * The client side of the sequence batching benchmark: `sequences` concurrent sequences of `steps`
 * requests each over HTTP (binary tensor extension, keep-alive, one connection per sequence), each
 * sending its next step as soon as the previous answer arrived, with Triton's `sequence_id`,
 * `sequence_start` and `sequence_end` parameters. Every answer is checked against the reference.
 */
import { Agent, request } from 'node:http';
import { sequenceInput, type SequenceModel } from './sequence-models.js';

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
  readonly port: number;
  readonly served: string;
  readonly model: SequenceModel;
  readonly sequences: number;
  readonly steps: number;
  /** Correlation IDs are firstId .. firstId + sequences - 1. */
  readonly firstId: number;
  readonly reference: Float32Array[][];
}

/** The request body of one step: the JSON header then the input's bytes. */
function stepBody(round: Round, id: number, data: Buffer, start: boolean, end: boolean): { body: Buffer; headerLength: number } {
  const { model } = round;
  const header = Buffer.from(
    JSON.stringify({
      parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
      inputs: [{ name: model.input.name, shape: [1, ...model.input.dims], datatype: model.input.datatype, parameters: { binary_data_size: data.length } }],
      outputs: [{ name: model.output, parameters: { binary_data: true } }],
    }),
  );
  return { body: Buffer.concat([header, data]), headerLength: header.length };
}

function post(agent: Agent, port: number, path: string, body: Buffer, headerLength: number): Promise<{ status: number; headerLength: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(headerLength), 'Content-Length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headerLength: Number(res.headers['inference-header-content-length'] ?? -1), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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
  const path = `/v2/models/${round.served}/infer`;
  const latenciesUs: number[] = [];
  let errors = 0;
  let mismatches = 0;
  let firstProblem: string | undefined;
  const sequence = async (index: number): Promise<void> => {
    const id = round.firstId + index;
    const values = sequenceInput(round.model, index);
    const data = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    const bodies = [
      stepBody(round, id, data, true, round.steps === 1),
      stepBody(round, id, data, false, false),
      stepBody(round, id, data, false, true),
    ];
    for (let step = 0; step < round.steps; step++) {
      const { body, headerLength } = bodies[step === 0 ? 0 : step === round.steps - 1 ? 2 : 1]!;
      const sent = performance.now();
      const answer = await post(agent, round.port, path, body, headerLength);
      latenciesUs.push((performance.now() - sent) * 1000);
      if (answer.status !== 200) {
        errors += 1;
        firstProblem ??= `sequence ${id} step ${step}: ${answer.status} ${answer.body.toString().slice(0, 200)}`;
        if (step === 0) return; // the sequence never started: its later steps would all fail the same way
        continue;
      }
      if (!matches(answer.body.subarray(answer.headerLength), round.reference[index]![step]!)) {
        mismatches += 1;
        firstProblem ??= `sequence ${id} step ${step}: output differs from raw ORT`;
      }
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: round.sequences }, (_, index) => sequence(index)));
  } finally {
    agent.destroy();
  }
  return { seconds: (performance.now() - started) / 1000, latenciesUs, errors, mismatches, firstProblem };
}
