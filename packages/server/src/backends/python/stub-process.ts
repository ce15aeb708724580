import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { internal } from '../../errors/server-error.js';
import type { Tensor } from '../../tensor/tensor.js';
import { FrameKind, FrameReader, encodeFrame, type Frame } from './frames.js';
import { stubScript } from './stub-files.js';

export interface StubLaunch {
  /** The interpreter to run the stub with. */
  readonly python: string;
  /** Extra environment (an execution environment's PATH), over the server's. */
  readonly env: Readonly<Record<string, string>>;
  /** `<model>/<version>/model.py` */
  readonly modelFile: string;
  /** The name the stub uses in its messages until INITIALIZE names the instance. */
  readonly name: string;
  /** Stopped this long while a call is outstanding: the stub is taken as hung and killed. */
  readonly hangTimeoutMs: number;
}

/** What the stub said once model.py was imported. */
export interface StubHello {
  readonly autoComplete: boolean;
}

/** Handles frames the stub sends of its own accord (BLS calls, logs). */
export type StubFrameHandler = (frame: Frame, stub: StubProcess) => void;

/** The shortest time a stub is given to import model.py. */
const STARTUP_FLOOR_MS = 30_000;

/** How often the state of a stub with calls outstanding is looked at. */
const WATCHDOG_INTERVAL_MS = 1_000;

/** Whether the process is stopped (`T`) or traced (`t`), from /proc/<pid>/stat. */
function isStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

/**
 * One `python3` stub process and its socket: calls (a frame out, the REPLY with the same id back),
 * frames the stub starts (handed to `onFrame`), and the end of the process. When the process
 * exits or is killed, every outstanding call fails with the error `deathError` gives. Nothing runs
 * while the stub is idle: no timer, no poll (the watchdog ticks only while calls are outstanding).
 * PING/PONG frames exist in the protocol but the watchdog does not need them.
 */
export class StubProcess {
  readonly #child: ChildProcess;
  readonly #socket: Socket;
  readonly #pending = new Map<number, { resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
  readonly #launch: StubLaunch;
  #nextId = 0;
  #exited = false;
  #watchdog: NodeJS.Timeout | undefined;
  #deathReason: string | undefined;
  /** The name in its messages: the model's while it auto-completes, then the instance's. */
  #name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  onFrame: StubFrameHandler = () => {};
  /** The error outstanding calls fail with when the process ends. */
  deathError: (reason: string) => Error = (reason) => internal(reason);

  private constructor(launch: StubLaunch, child: ChildProcess, socket: Socket) {
    this.#launch = launch;
    this.#name = launch.name;
    this.#child = child;
    this.#socket = socket;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exited = true;
        this.#stopWatchdog();
        socket.destroy();
        const reason = this.#deathReason ?? `Stub process '${this.#name}' is not healthy.`;
        for (const call of this.#pending.values()) call.reject(this.deathError(reason));
        this.#pending.clear();
        resolve({ code, signal });
      });
    });
  }

  /** Starts the stub and waits until model.py is imported (or failed to import). */
  static async start(launch: StubLaunch, onFrame: StubFrameHandler): Promise<{ stub: StubProcess; hello: StubHello }> {
    const child = spawn(launch.python, [stubScript(), launch.modelFile, launch.name], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      env: { ...process.env, ...launch.env },
    });
    const socket = child.stdio[3] as Socket;
    const stub = new StubProcess(launch, child, socket);
    stub.onFrame = onFrame;
    const hello = new Promise<Frame>((resolve, reject) => {
      stub.#pending.set(0, { resolve, reject });
      child.once('error', (error) => {
        stub.#deathReason = `failed to start the Python stub with '${launch.python}': ${error.message}`;
        reject(internal(stub.#deathReason));
      });
    });
    const reader = new FrameReader((frame) => stub.#receive(frame));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => stub.kill());
    stub.deathError = (reason) => internal(`failed to load Python model '${launch.name}': ${reason}`);
    // A stub that cannot even import model.py in time (a hang at import) is given up. Imports of
    // large libraries are slow, so never sooner than STARTUP_FLOOR_MS.
    const startupMs = Math.max(launch.hangTimeoutMs, STARTUP_FLOOR_MS);
    const startup = setTimeout(
      () => stub.kill(`the stub did not import '${launch.modelFile}' within ${startupMs} ms (stub-timeout-seconds)`),
      startupMs,
    );
    const frame = await hello.finally(() => clearTimeout(startup));
    if (frame.header['ok'] !== true) {
      stub.kill();
      throw internal(`failed to load Python model '${launch.name}': ${String(frame.header['error'])}`);
    }
    stub.deathError = (reason) => internal(reason);
    return { stub, hello: { autoComplete: frame.header['auto_complete'] === true } };
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  set name(name: string) {
    this.#name = name;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Sends a frame and resolves with the stub's REPLY to it. */
  call(kind: number, header: Record<string, unknown>, tensors: readonly Tensor[] = []): Promise<Frame> {
    if (this.#exited) {
      return Promise.reject(this.deathError(this.#deathReason ?? `Stub process '${this.#name}' is not healthy.`));
    }
    const id = ++this.#nextId;
    return new Promise<Frame>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.send(kind, { ...header, id }, tensors);
      if (this.#watchdog === undefined) this.#startWatchdog();
    });
  }

  /** Sends a frame that expects no reply. */
  send(kind: number, header: Record<string, unknown>, tensors: readonly Tensor[] = []): void {
    if (this.#exited) return;
    const parts = encodeFrame(kind, header, tensors);
    this.#socket.cork();
    for (const part of parts) this.#socket.write(part);
    this.#socket.uncork();
  }

  /** Ends the process at once (SIGKILL); outstanding calls fail with `reason`. */
  kill(reason?: string): void {
    if (this.#exited) return;
    if (reason !== undefined) this.#deathReason ??= reason;
    this.#child.kill('SIGKILL');
  }

  /**
   * Asks the stub to run `finalize()` and exit; kills it if it has not exited within `graceMs`.
   * Resolves once the process is gone (and reaped).
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#exited) return;
    const timer = setTimeout(() => this.kill('the stub was stopped'), graceMs);
    this.call(FrameKind.FINALIZE, {}).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }

  #receive(frame: Frame): void {
    if (frame.kind === FrameKind.HELLO) {
      this.#settle(0, frame);
    } else if (frame.kind === FrameKind.REPLY) {
      this.#settle(frame.header['id'] as number, frame);
    } else if (frame.kind !== FrameKind.PONG) {
      this.onFrame(frame, this);
    }
  }

  #settle(id: number, frame: Frame): void {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    this.#pending.delete(id);
    call.resolve(frame);
    // The watchdog stops itself at its next tick with nothing outstanding: no timer churn per call.
  }

  /**
   * While calls are outstanding, the process's state is read from /proc about once a second: a
   * stub that stays stopped (SIGSTOP, a debugger) longer than the hang timeout is killed. A stub
   * that is running or waiting is left alone however long its `execute` takes, as Triton does.
   */
  #startWatchdog(): void {
    let stoppedSince: number | undefined;
    this.#watchdog = setInterval(() => {
      if (this.#pending.size === 0) return this.#stopWatchdog();
      const now = performance.now();
      if (!isStopped(this.#child.pid)) {
        stoppedSince = undefined;
      } else if (stoppedSince === undefined) {
        stoppedSince = now;
      } else if (now - stoppedSince >= this.#launch.hangTimeoutMs) {
        this.kill(`Stub process '${this.#name}' is not healthy: stopped for ${this.#launch.hangTimeoutMs} ms`);
      }
    }, Math.min(WATCHDOG_INTERVAL_MS, Math.max(50, this.#launch.hangTimeoutMs / 4)));
    this.#watchdog.unref();
  }

  #stopWatchdog(): void {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }
}
