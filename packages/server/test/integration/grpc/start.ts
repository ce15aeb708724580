import { DEFAULT_SERVER_OPTIONS, type GrpcOptions } from '../../../src/core/server-options.js';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/frontends/grpc/grpc-server.js';
import type { Logger } from '../../../src/observability/logger.js';
import { InferenceGrpcClient } from '../../helpers/grpc-client.js';
import { GrpcEchoCore } from './grpc-echo-core.js';

/** A gRPC server on an ephemeral port over a fresh echo core, a client for it, and its log lines. */
export interface GrpcFixture {
  readonly core: GrpcEchoCore;
  readonly server: GrpcServerHandle;
  readonly client: InferenceGrpcClient;
  readonly address: string;
  readonly logLines: string[];
  close(): Promise<void>;
}

export async function startFixture(options: Partial<GrpcOptions> = {}): Promise<GrpcFixture> {
  const core = new GrpcEchoCore();
  const logLines: string[] = [];
  const server = await startGrpcServer(
    core,
    { ...DEFAULT_SERVER_OPTIONS.grpc, address: '127.0.0.1', port: 0, ...options },
    recordingLogger(logLines),
  );
  const address = `127.0.0.1:${server.port}`;
  const client = new InferenceGrpcClient(address);
  return {
    core,
    server,
    client,
    address,
    logLines,
    close: async () => {
      client.close();
      await server.close();
    },
  };
}

export function recordingLogger(lines: string[]): Logger {
  return {
    settings: { info: true, warning: true, error: true, verboseLevel: 0, format: 'default' },
    file: '',
    close: () => {},
    info: (message) => lines.push(`I ${message}`),
    warn: (message) => lines.push(`W ${message}`),
    error: (message) => lines.push(`E ${message}`),
    verbose: () => {},
  };
}
