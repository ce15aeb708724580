import { InferenceGrpcClient } from './dist/test/helpers/grpc-client.js';
const c = new InferenceGrpcClient('127.0.0.1:18601');
let t = performance.now();
await c.call('serverLive', {}); console.log('first', performance.now() - t);
t = performance.now();
await c.call('serverLive', {}); console.log('second', performance.now() - t);
c.close();
