import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ServerError, internal, type ErrorCode } from '../../errors/index.js';
import { ERROR_CODES } from '../../errors/codes.js';
import type { ControlFromWorker, FromWorker, ToWorker, WireError, WorkerSetup } from './wire.js';

const WORKER_URL = new URL('./worker-main.js', import.meta.url);
/** Requests in flight per instance that can be told they were cancelled. */
export const CANCEL_SLOTS = 1024;
/** How long finalize may take when a model unloads before its worker is terminated. */
const FINALIZE_TIMEOUT_MS = 10_000;

export interface WorkerStart {
  readonly moduleUrl: string;
  readonly modelName: string;
  readonly mode: WorkerSetup['mode'];
  readonly configJson: string;
  readonly args: Readonly<Record<string, string>>;
  /** Heap limit of the worker in MiB (0: Node's default). */
  readonly maxHeapMb: number;
}

/**
 * One model worker thread: started, answering over its two MessagePorts, and gone (finalized,
 * terminated, or died). `onMessage` gets everything the worker sends on the fast channel;
 * `onExit` is called once, when it ends for any reason not asked for by `stop`.
 */
export class ModelWorker {
  readonly #worker: Worker;
  readonly #requests: MessagePort;
  readonly cancelFlags: Int32Array;
  #stopping = false;
  readonly exited: Promise<void>;

  private constructor(worker: Worker, requests: MessagePort, cancelFlags: Int32Array, exited: Promise<void>) {
    this.#worker = worker;
    this.#requests = requests;
    this.cancelFlags = cancelFlags;
    this.exited = exited;
  }

  /**
   * Starts a worker and waits for it to be ready (its module imported, and `initialize` or
   * `autoCompleteConfig` run). Rejects with the model's error when that fails.
   */
  static start(
    start: WorkerStart,
    onMessage: (message: FromWorker) => void,
    onExit: (reason: string) => void,
  ): Promise<{ worker: ModelWorker; completedConfig: string | undefined }> {
    const cancelFlags = new SharedArrayBuffer(4 * CANCEL_SLOTS);
    const requests = new MessageChannel();
    const replies = new MessageChannel();
    const setup: WorkerSetup = {
      moduleUrl: start.moduleUrl,
      modelName: start.modelName,
      mode: start.mode,
      configJson: start.configJson,
      args: start.args,
      cancelFlags,
      requests: requests.port2,
      replies: replies.port1,
    };
    const worker = new Worker(WORKER_URL, {
      workerData: setup,
      transferList: [requests.port2, replies.port1],
      ...(start.maxHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: start.maxHeapMb } } : {}),
      stdout: false,
      stderr: false,
    });
    let self: ModelWorker | undefined;
    // Plain 'message' events: one wake-up per message (docs/design/0017). The port does not keep
    // the process alive; the worker decides that.
    replies.port2.on('message', (message: FromWorker) => onMessage(message));
    replies.port2.unref();
    let lastError = '';
    worker.on('error', (error: Error) => {
      lastError = `${error.name}: ${error.message}`;
    });
    let settle: ((reason: string) => void) | undefined;
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        requests.port1.close();
        replies.port2.close();
        const reason = lastError || `exit code ${code}`;
        settle?.(reason);
        if (self !== undefined && !self.stopping) onExit(reason);
        resolve();
      });
    });
    return new Promise((resolve, reject) => {
      settle = (reason) => reject(internal(`the worker of model '${start.modelName}' ended while starting: ${reason}`));
      const onControl = (message: ControlFromWorker): void => {
        if (message.t === 'ready') {
          worker.off('message', onControl);
          settle = undefined;
          self = new ModelWorker(worker, requests.port1, new Int32Array(cancelFlags), exited);
          resolve({ worker: self, completedConfig: message.completedConfig });
        } else if (message.t === 'failed') {
          worker.off('message', onControl);
          settle = undefined;
          void worker.terminate();
          reject(internal(`Failed to initialize model '${start.modelName}': ${message.message}`));
        }
      };
      worker.on('message', onControl);
    });
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  send(message: ToWorker, transfer?: readonly ArrayBuffer[]): void {
    this.#requests.postMessage(message, transfer as ArrayBuffer[] | undefined);
  }

  /** Runs `finalize` (bounded in time), then ends the thread. */
  async stop(): Promise<void> {
    if (this.#stopping) return this.exited;
    this.#stopping = true;
    const finalized = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FINALIZE_TIMEOUT_MS);
      this.#worker.on('message', (message: ControlFromWorker) => {
        if (message.t === 'finalized') {
          clearTimeout(timer);
          resolve();
        }
      });
      this.exited.then(() => {
        clearTimeout(timer);
        resolve();
      }, resolve);
    });
    this.#worker.postMessage({ t: 'finalize' });
    await finalized;
    await this.#worker.terminate();
    await this.exited;
  }

  /** Ends the thread at once (an auto-complete probe, a failed start). */
  async terminate(): Promise<void> {
    this.#stopping = true;
    await this.#worker.terminate();
  }
}

/** A worker's error as the server's. */
export function serverErrorOf(error: WireError): ServerError {
  const code = (ERROR_CODES as readonly string[]).includes(error.code) ? (error.code as ErrorCode) : 'INTERNAL';
  return new ServerError(code, error.message);
}

