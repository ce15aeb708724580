import { startFixture } from './dist/test/integration/grpc/start.js';
import { create } from '@bufbuild/protobuf';
import { ModelInferRequestSchema } from '@nereid/protocol/generated/grpc_service_pb';
const fx = await startFixture();
const req = create(ModelInferRequestSchema, { modelName: 'echo', id: 'x', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1n] }], rawInputContents: [new Uint8Array(Int32Array.of(7).buffer)], parameters: { delay_ms: { parameterChoice: { case: 'int64Param', value: 300n } } } });
const t = performance.now();
const p = fx.client.call('modelInfer', req);
for (let i = 0; i < 8; i++) { await new Promise(r => setTimeout(r, 20)); console.log(Math.round(performance.now() - t), fx.server.inFlight); }
try { console.log((await p).id, performance.now() - t); } catch (e) { console.log('err', e.code, e.details); }
await fx.close();
