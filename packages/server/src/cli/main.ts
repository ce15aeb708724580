import { toServerError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { parseCommandLine } from './options.js';
import { startServer, type RunningServer } from './start-server.js';

/** `nereid`: parse tritonserver-style flags, start the server, stop cleanly on SIGINT/SIGTERM. */
async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`error: ${parsed.message}\nUsage: nereid --model-repository=<path> [options]; see --help\n`);
    return 1;
  }
  const { options } = parsed;
  const logger = createLogger({ ...options.log });
  for (const warning of parsed.warnings) logger.warn(warning);
  for (const flag of parsed.ignoredFlags) logger.warn(`flag ${flag} is accepted but not implemented yet; ignored`);
  let server: RunningServer;
  try {
    server = await startServer({ ...options, logger });
  } catch (error) {
    logger.error(toServerError(error).message);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      logger.info(`${signal} received, stopping (waiting up to ${options.exitTimeoutSecs} s for in-flight requests)`);
      const timer = setTimeout(() => {
        logger.warn('exit timeout expired with requests still in flight');
        resolve(1);
      }, options.exitTimeoutSecs * 1000);
      timer.unref();
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error(toServerError(error).message);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}

process.exitCode = await main(process.argv.slice(2));
// Native handles (ONNX Runtime thread pools) must not keep a stopped server alive.
process.exit();
