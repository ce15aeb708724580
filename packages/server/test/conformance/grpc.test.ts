import { GrpcTransport } from './grpc-transport.js';
import { describeConformance } from './suite.js';

describeConformance(
  'protocol conformance over gRPC',
  { http: { allow: false }, grpc: { port: 0, address: '127.0.0.1' } },
  (server) => new GrpcTransport(server.grpc!.port),
);
