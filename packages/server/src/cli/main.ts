import { toServerError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { runGenerateModel } from './generate-model.js';
import { parseCommandLine } from './options.js';
import { startServer, type RunningServer } from './start-server.js';

/** How long models may take to unload once the exit timeout has passed. */
const UNLOAD_GRACE_MS = 10_000;

/** `nereid`: parse tritonserver-style flags, start the server, stop cleanly on SIGINT/SIGTERM. */
async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'generate-model') {
    return runGenerateModel(argv.slice(1), (text) => process.stdout.write(text), (text) => process.stderr.write(text));
  }
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
  let logger;
  try {
    logger = createLogger({ ...options.log }, { file: options.logFile });
  } catch (error) {
    process.stderr.write(`error: failed to open log file '${options.logFile}': ${(error as Error).message}\n`);
    return 1;
  }
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
      logger.info(`${signal} received, stopping: waiting up to ${options.exitTimeoutSecs} s (--exit-timeout-secs) for in-flight requests`);
      // Backstop: a model whose unload hangs after the deadline must not keep the process alive.
      setTimeout(() => {
        logger.error('models did not unload in time after the exit timeout. Exiting immediately.');
        resolve(1);
      }, options.exitTimeoutSecs * 1000 + UNLOAD_GRACE_MS).unref();
      server.close().then(
        (report) => {
          if (report.drained) {
            logger.info('All in-flight requests finished; exiting');
            resolve(0);
          } else {
            logger.error(`Exit timeout reached with ${report.inFlight} requests in flight. Exiting immediately.`);
            resolve(1);
          }
        },
        (error: unknown) => {
          logger.error(`failed to stop server: ${toServerError(error).message}`);
          resolve(1);
        },
      );
    };
    // Only the first signal drains; a second one gets the default action and ends the process.
    const onSigint = (): void => onSignal('SIGINT');
    const onSigterm = (): void => onSignal('SIGTERM');
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      shutdown(signal);
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
  });
}

process.exitCode = await main(process.argv.slice(2));
// Native handles (ONNX Runtime thread pools) must not keep a stopped server alive.
process.exit();
