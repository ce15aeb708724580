import type { Backend, BackendInstance, BackendModel, ExecutionResult } from '../../src/backends/backend.js';
import { invalidArg } from '../../src/errors/index.js';
import type { InferenceRequest } from '../../src/request/inference-request.js';

/**
 * A small decoupled backend for the core's many-responses path until a scripting backend sends them:
 * `backend: "repeat"` (file `model.repeat`), decoupled. Each request's INT32 input `IN` ([n], no
 * batching) is answered with n responses, `OUT` = [IN[i]] and `IDX` = [i], each on its own event-loop
 * turn and after the execution returned (as a Python model's response sender may), then a final flag
 * alone. A negative element is answered with an error response (final) in its place.
 */
export const repeatBackend: Backend = {
  name: 'repeat',
  platforms: [],
  defaultPlatform: '',
  defaultModelFilename: 'model.repeat',
  defaultCpuInstanceCount: 1,
  async loadModel(): Promise<BackendModel> {
    return {
      completeConfig: () => {},
      createInstance: async (): Promise<BackendInstance> => ({
        async execute(requests: readonly InferenceRequest[]): Promise<ExecutionResult> {
          for (const request of requests) void respond(request);
          return { responses: requests.map(() => []), timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } };
        },
        close: async () => {},
      }),
      close: async () => {},
    };
  },
};

async function respond(request: InferenceRequest): Promise<void> {
  const responder = request.responder;
  if (responder === undefined) throw new Error('repeat models are decoupled');
  const input = request.inputs.find((tensor) => tensor.name === 'IN')!;
  const values = new Int32Array(input.data.buffer.slice(input.data.byteOffset, input.data.byteOffset + input.data.byteLength));
  for (let i = 0; i < values.length; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (values[i]! < 0) {
      responder.send({ error: invalidArg(`negative value ${values[i]} at ${i}`), final: true });
      return;
    }
    responder.send({
      outputs: [
        { name: 'OUT', datatype: 'INT32', shape: [1], data: new Uint8Array(new Int32Array([values[i]!]).buffer) },
        { name: 'IDX', datatype: 'UINT32', shape: [1], data: new Uint8Array(new Uint32Array([i]).buffer) },
      ],
      final: false,
    });
  }
  await new Promise((resolve) => setImmediate(resolve));
  responder.send({ final: true });
}

export const REPEAT_CONFIG = `name: "repeat"
backend: "repeat"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] }, { name: "IDX" data_type: TYPE_UINT32 dims: [ 1 ] } ]
`;
