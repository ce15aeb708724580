import { after, before, describe } from 'node:test';
import { startServer, type RunningServer } from '../../src/cli/start-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildConformanceRepository } from '../helpers/test-repository.js';
import { GrpcTransport } from './grpc-transport.js';
import { protocolCases } from './protocol.case.js';

describe('protocol conformance over gRPC', () => {
  let server: RunningServer;
  let transport: GrpcTransport;
  before(async () => {
    server = await startServer({
      modelRepositories: [buildConformanceRepository()],
      http: { allow: false },
      grpc: { port: 0, address: "127.0.0.1" },
      allowClientShm: true,
      logger: silentLogger,
    });
    transport = new GrpcTransport(server.grpc!.port);
  });
  after(async () => {
    await transport.close();
    await server.close();
  });
  protocolCases(() => transport);
});
