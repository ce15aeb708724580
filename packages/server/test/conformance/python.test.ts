import { buildPythonConformanceRepository } from '../helpers/python-repository.js';
import { HttpTransport } from './http-transport.js';
import { describeConformance } from './suite.js';

// The protocol cases with `simple`, every datatype's identity model and `runtime_error` served by
// Python stubs (test/fixtures/python), over HTTP.
describeConformance(
  'protocol conformance over HTTP, core models on the Python backend',
  { http: { port: 0, address: '127.0.0.1' }, grpc: { allow: false } },
  (server) => new HttpTransport(server.http!.port),
  buildPythonConformanceRepository,
  { platform: 'python', instanceCount: 1 },
);
