import { after, before, describe } from 'node:test';
import { startServer, type RunningServer, type StartOptions } from '../../src/cli/start-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildConformanceRepository } from '../helpers/test-repository.js';
import { ONNX_SIMPLE, protocolCases, type SimpleBackendFacts } from './protocol.case.js';
import type { Transport } from './transport.js';

/** Starts a real server on the conformance repository and runs every protocol case through `connect`. */
export function describeConformance(
  title: string,
  frontends: Pick<StartOptions, 'http' | 'grpc'>,
  connect: (server: RunningServer) => Transport,
  buildRepository: () => string = buildConformanceRepository,
  simpleFacts: SimpleBackendFacts = ONNX_SIMPLE,
): void {
  describe(title, () => {
    let server: RunningServer;
    let transport: Transport;
    before(async () => {
      server = await startServer({
        modelRepositories: [buildRepository()],
        ...frontends,
        allowClientShm: true,
        logger: silentLogger,
      });
      transport = connect(server);
    });
    after(async () => {
      await transport.close();
      await server.close();
    });
    protocolCases(() => transport, simpleFacts);
  });
}
