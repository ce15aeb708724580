import { after, before, describe } from 'node:test';
import { startServer, type RunningServer } from '../../src/cli/start-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildConformanceRepository } from '../helpers/test-repository.js';
import { HttpTransport } from './http-transport.js';
import { protocolCases } from './protocol.case.js';

describe('protocol conformance over HTTP', () => {
  let server: RunningServer;
  let transport: HttpTransport;
  before(async () => {
    server = await startServer({
      modelRepositories: [buildConformanceRepository()],
      http: { port: 0, address: '127.0.0.1' },
      grpc: { allow: false },
      allowClientShm: true,
      logger: silentLogger,
    });
    transport = new HttpTransport(server.http!.port);
  });
  after(async () => {
    await transport.close();
    await server.close();
  });
  protocolCases(() => transport);
});
