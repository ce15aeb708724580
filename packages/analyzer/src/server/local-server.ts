/**
 * `--triton-launch-mode local`: starts Nereid's CLI (`nereid`, or `--triton-server-path`) on the
 * model repository with explicit model control and ephemeral ports, reads the ports it bound from
 * its start-up log, and stops it with SIGTERM (SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A server the analyzer started. */
export interface LocalServer {
  readonly pid: number;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** The server's last output lines, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Where the `nereid` package's bin is (the analyzer's dependency), e.g. packages/server/bin/nereid.js. */
export function defaultServerPath(): string {
  const entry = fileURLToPath(import.meta.resolve('nereid'));
  // <package>/dist/src/index.js → <package>/bin/nereid.js
  return join(dirname(dirname(dirname(entry))), 'bin', 'nereid.js');
}

export interface LocalServerOptions {
  readonly modelRepository: string;
  /** A `.js` file runs under this Node; anything else is executed directly. */
  readonly serverPath: string;
  /** Extra server flags (`--triton-server-flags`). */
  readonly extraFlags: readonly string[];
  readonly startTimeoutMs: number;
}

const STARTED = /Started (HTTPService|GRPCInferenceService) at ([^\s:]+):(\d+)/;

/** Starts the server and resolves once both endpoints are listening. */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const flags = [
    `--model-repository=${options.modelRepository}`,
    '--model-control-mode=explicit',
    '--http-port=0',
    '--grpc-port=0',
    '--allow-metrics=false',
    '--http-address=127.0.0.1',
    '--grpc-address=127.0.0.1',
    ...options.extraFlags,
  ];
  const js = options.serverPath.endsWith('.js') || options.serverPath.endsWith('.mjs');
  const child = js
    ? spawn(process.execPath, [options.serverPath, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(options.serverPath, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const endpoints = new Map<string, string>();
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${options.startTimeoutMs} ms`)), options.startTimeoutMs);
    const onData = (chunk: Buffer): void => {
      log = (log + chunk.toString('utf8')).slice(-8192);
      for (const line of chunk.toString('utf8').split('\n')) {
        const match = STARTED.exec(line);
        if (match?.[1] !== undefined) endpoints.set(match[1], `${match[2]}:${match[3]}`);
      }
      if (endpoints.size === 2) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${signal ?? code}) before it was ready:\n${log}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    pid: child.pid ?? 0,
    httpUrl: `http://${endpoints.get('HTTPService')}`,
    grpcAddress: endpoints.get('GRPCInferenceService') ?? '',
    output: () => log,
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
