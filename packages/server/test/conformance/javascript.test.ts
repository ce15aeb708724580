import { buildJavaScriptConformanceRepository } from '../helpers/javascript-repository.js';
import { GrpcTransport } from './grpc-transport.js';
import { HttpTransport } from './http-transport.js';
import { describeConformance } from './suite.js';

// The protocol cases with `simple`, every datatype's identity model and `runtime_error` served by
// JavaScript models on worker threads (test/fixtures/javascript), over HTTP and gRPC.
describeConformance(
  'protocol conformance over HTTP, core models on the JavaScript backend',
  { http: { port: 0, address: '127.0.0.1' }, grpc: { allow: false } },
  (server) => new HttpTransport(server.http!.port),
  buildJavaScriptConformanceRepository,
  { platform: 'javascript', instanceCount: 1 },
);

describeConformance(
  'protocol conformance over gRPC, core models on the JavaScript backend',
  { http: { allow: false }, grpc: { port: 0, address: '127.0.0.1' } },
  (server) => new GrpcTransport(server.grpc!.port),
  buildJavaScriptConformanceRepository,
  { platform: 'javascript', instanceCount: 1 },
);
