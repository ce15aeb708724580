import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBackends, resolveOptions, type StartOptions } from '../../src/cli/start-server.js';
import { InferenceServer } from '../../src/core/inference-server.js';
import { startGrpcServer, type GrpcServerHandle } from '../../src/frontends/grpc/grpc-server.js';
import { startHttpServer, type HttpServerHandle } from '../../src/frontends/http/http-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { addModel, simpleConfig } from '../helpers/model-control-harness.js';
import { FIXTURE_MODELS } from '../helpers/paths.js';
import { REPEAT_CONFIG, repeatBackend } from '../helpers/repeat-backend.js';
import { DATATYPE_MODELS } from '../helpers/test-repository.js';

/**
 * A real Nereid (HTTP and gRPC on ephemeral ports) for the client tests: `simple`, every identity_*
 * datatype model, slow_identity, and the decoupled `repeat` model of the test backend. Explicit model
 * control with every model loaded at start-up, so load/unload can be exercised.
 */
export class ClientTestServer {
  repo = '';
  core!: InferenceServer;
  http!: HttpServerHandle;
  grpc!: GrpcServerHandle;

  get httpUrl(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.grpc.port}`;
  }

  async start(extra: StartOptions = {}): Promise<void> {
    this.repo = mkdtempSync(join(tmpdir(), 'nereid-client-'));
    addModel(this.repo, 'simple', simpleConfig('simple'));
    for (const model of [...Object.values(DATATYPE_MODELS), 'slow_identity']) {
      cpSync(join(FIXTURE_MODELS, model), join(this.repo, model), { recursive: true });
    }
    mkdirSync(join(this.repo, 'repeat', '1'), { recursive: true });
    writeFileSync(join(this.repo, 'repeat', '1', 'model.repeat'), '');
    writeFileSync(join(this.repo, 'repeat', 'config.pbtxt'), REPEAT_CONFIG);
    const options = resolveOptions({
      modelRepositories: [this.repo],
      modelControlMode: 'explicit',
      startupModels: ['*'],
      allowClientShm: true,
      http: { port: 0, address: '127.0.0.1' },
      grpc: { port: 0, address: '127.0.0.1' },
      exitOnError: false,
      ...extra,
    });
    this.core = await InferenceServer.create(options, defaultBackends().register(repeatBackend), silentLogger);
    this.http = await startHttpServer(this.core, options.http, silentLogger);
    this.grpc = await startGrpcServer(this.core, options.grpc, silentLogger);
  }

  async stop(): Promise<void> {
    await this.http?.close();
    await this.grpc?.close();
    await this.core?.stop();
    if (this.repo !== '') rmSync(this.repo, { recursive: true, force: true });
  }
}
