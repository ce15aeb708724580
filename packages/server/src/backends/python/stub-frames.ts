import { toServerError, unavailable } from '../../errors/server-error.js';
import type { BackendLoadContext } from '../backend.js';
import { FrameKind, type Frame } from './frames.js';
import type { StubProcess } from './stub-process.js';
import { blsRequest, errorCodeNumber } from './wire-requests.js';

/** Frames a stub sends of its own accord: BLS calls (run through the core) and log lines. */
export function handleStubFrame(frame: Frame, stub: StubProcess, context: BackendLoadContext): void {
  if (frame.kind === FrameKind.BLS_CALL) {
    void runBls(frame, stub, context);
  } else if (frame.kind === FrameKind.LOG) {
    const message = String(frame.header['message']);
    switch (frame.header['level']) {
      case 1:
        context.logger.warn(message);
        break;
      case 2:
        context.logger.error(message);
        break;
      case 3:
        context.logger.verbose(1, message);
        break;
      default:
        context.logger.info(message);
    }
  }
}

/** One BLS call: the request through the core, its response or error back to the stub. */
async function runBls(frame: Frame, stub: StubProcess, context: BackendLoadContext): Promise<void> {
  const call = frame.header['call'];
  try {
    const run = context.runRequest;
    if (run === undefined) throw unavailable(`model '${context.modelName}' cannot make BLS requests without a server core`);
    const response = await run(blsRequest(frame), undefined);
    const params: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(response.parameters)) params[key] = typeof value === 'bigint' ? Number(value) : value;
    stub.send(FrameKind.BLS_RESULT, { call, params }, response.outputs);
  } catch (error) {
    const failure = toServerError(error);
    stub.send(FrameKind.BLS_RESULT, { call, error: [errorCodeNumber(failure.code), failure.message] });
  }
}
