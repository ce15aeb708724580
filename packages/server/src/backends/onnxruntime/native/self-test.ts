/**
 * The engine's start-up check. A wrong OrtApi index or signature would crash the process on first
 * use, so before any model loads, a tiny model built here in memory runs through every path a model
 * takes (session creation off the event loop, metadata, numeric and string tensors with NUL bytes,
 * a run on a run thread and one inline) and its answers are compared with what they must be.
 */
import type { Logger } from '../../../observability/logger.js';
import { unavailable } from '../../../errors/server-error.js';
import { encodeBytesElements } from '@nereid/protocol';
import { encodeBytesField, encodeVarintField } from '../protobuf-wire.js';
import type { SessionSettings } from '../session-options.js';
import { planThreads } from '../thread-plan.js';
import { ORT_API_VERSION, ortApi } from './ort-api.js';
import { NativeSession } from './native-session.js';

let ready: Promise<void> | undefined;

/** Resolves once the engine passed its self-test; rejects UNAVAILABLE (logged once) when it cannot run. */
export function engineReady(logger: Logger): Promise<void> {
  ready ??= selfTest().then(
    (description) => logger.info(`onnxruntime backend: ${description}`),
    (error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      logger.error(`onnxruntime backend cannot start: ${why}`);
      throw unavailable(`onnxruntime backend is unavailable: ${why}`);
    },
  );
  return ready;
}

const SETTINGS: SessionSettings = {
  graphOptimizationLevel: 99,
  executionMode: 'sequential',
  intraOpThreads: 1,
  interOpThreads: 1,
  memArena: undefined,
  memPattern: undefined,
  sessionConfig: new Map(),
  runConfig: new Map(),
  shareSession: true,
};

/** Runs the check; resolves with a line describing the runtime. */
export async function selfTest(): Promise<string> {
  const api = ortApi();
  const session = await NativeSession.open(selfTestModel(), SETTINGS, planThreads(SETTINGS, 1, 1));
  try {
    const names = [...session.inputs, ...session.outputs].map((info) => `${info.name}:${info.type}[${info.shape}]`);
    expect(names.join(' '), 'X:float32[2] S:string[2] Y:float32[2] T:string[2]', 'model metadata');
    const x = Buffer.from(new Float32Array([1.5, -2]).buffer);
    const s = encodeBytesElements([Buffer.from('a\0b'), Buffer.from([0xff, 0xfe])]);
    for (let run = 0; run < 2; run++) {
      const result = await session.run(
        [
          { tensor: { name: 'X', datatype: 'FP32', shape: [2], data: x }, dims: [2] },
          { tensor: { name: 'S', datatype: 'BYTES', shape: [2], data: s }, dims: [2] },
        ],
        ['Y', 'T'],
      );
      const [y, t] = result.outputs;
      expect(Buffer.from(y?.data ?? []).toString('hex'), Buffer.from(new Float32Array([3, -4]).buffer).toString('hex'), 'Add');
      expect(Buffer.from(t?.data ?? []).toString('hex'), s.toString('hex'), 'string Identity');
    }
  } finally {
    await session.release();
  }
  return `ONNX Runtime ${api.version} (C API ${ORT_API_VERSION}) from ${api.libraryPath}; self-test passed`;
}

function expect(actual: string, wanted: string, what: string): void {
  if (actual !== wanted) throw new Error(`self-test: ${what} gave ${actual}, expected ${wanted}`);
}

/** Y = X + X (float [2]) and T = Identity(S) (string [2]), opset 13. */
function selfTestModel(): Uint8Array {
  const tensorInfo = (name: string, elemType: number): Uint8Array => {
    const dim = encodeBytesField(1, encodeVarintField(1, 2));
    const tensorType = Buffer.concat([encodeVarintField(1, elemType), encodeBytesField(2, dim)]);
    return Buffer.concat([encodeBytesField(1, name), encodeBytesField(2, encodeBytesField(1, tensorType))]);
  };
  const node = (inputs: string[], output: string, op: string): Uint8Array =>
    Buffer.concat([
      ...inputs.map((input) => encodeBytesField(1, input)),
      encodeBytesField(2, output),
      encodeBytesField(4, op),
    ]);
  const graph = Buffer.concat([
    encodeBytesField(1, node(['X', 'X'], 'Y', 'Add')),
    encodeBytesField(1, node(['S'], 'T', 'Identity')),
    encodeBytesField(2, 'nereid_self_test'),
    encodeBytesField(11, tensorInfo('X', 1)),
    encodeBytesField(11, tensorInfo('S', 8)),
    encodeBytesField(12, tensorInfo('Y', 1)),
    encodeBytesField(12, tensorInfo('T', 8)),
  ]);
  const opset = Buffer.concat([encodeBytesField(1, ''), encodeVarintField(2, 13)]);
  return Buffer.concat([encodeVarintField(1, 8), encodeBytesField(8, opset), encodeBytesField(7, graph)]);
}
