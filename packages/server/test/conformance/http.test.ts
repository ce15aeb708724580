import { HttpTransport } from './http-transport.js';
import { describeConformance } from './suite.js';

describeConformance(
  'protocol conformance over HTTP',
  { http: { port: 0, address: '127.0.0.1' }, grpc: { allow: false } },
  (server) => new HttpTransport(server.http!.port),
);
