/**
 * A load generator run as a child process (forked by drivers.ts), so that a benchmark can host the
 * server in its own process and measure that process's event loop without the client's work in it.
 *
 * Modes (the DriverConfig arrives as the first IPC message, {type:'config'}: a request body is too big for argv):
 *   - load: closed loop, `concurrency` keep-alive callers replaying one request;
 *   - probe: one GET every `intervalMs` (the next waits for the previous answer, then for its slot).
 * IPC: the driver warms up (load mode), sends {type:'ready'}; on {type:'go'} it starts recording; on
 * {type:'stop'} it lets the requests in flight finish and sends {type:'result'} with one sample per
 * completed request: its completion time (epoch ms, performance.timeOrigin + now) and latency (µs).
 */
import { Agent, request } from 'node:http';
import type { DriverConfig, DriverMessage, DriverSamples } from './drivers.js';

// The benchmark died (or is done with us): leave rather than load a server forever.
process.on('disconnect', () => process.exit(0));

const config = await new Promise<DriverConfig>((resolve) =>
  process.once('message', (message: DriverMessage) => {
    if (message.type === 'config') resolve(message.config);
  }),
);
const body = Buffer.from(config.bodyBase64 ?? '', 'base64');
const agent = new Agent({ keepAlive: true, maxSockets: config.mode === 'load' ? config.concurrency : 1 });

const epochMs = (): number => performance.timeOrigin + performance.now();

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const headers = config.mode === 'load' ? { ...config.headers, 'Content-Length': String(body.length) } : {};
    const req = request({ host: '127.0.0.1', port: config.port, method: config.mode === 'load' ? 'POST' : 'GET', path: config.path, agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - start) / 1000) : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end(config.mode === 'load' ? body : undefined);
  });
}

let recording = false;
let stopping = false;
const samples: DriverSamples = { ends: [], latencies: [], errors: 0 };

/** Sends one request and records it (when recording). */
async function recorded(): Promise<void> {
  try {
    const us = await once();
    if (recording) {
      samples.ends.push(epochMs());
      samples.latencies.push(us);
    }
  } catch {
    if (recording) samples.errors += 1;
  }
}

async function caller(): Promise<void> {
  while (!stopping) await recorded();
}

async function prober(): Promise<void> {
  const interval = config.intervalMs ?? 10;
  let next = performance.now();
  while (!stopping) {
    await recorded();
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else next = performance.now();
  }
}

async function main(): Promise<void> {
  const send = (message: DriverMessage): void => void process.send?.(message);
  let callers: Promise<void>[];
  if (config.mode === 'load') {
    callers = Array.from({ length: config.concurrency }, () => caller());
    await new Promise((resolve) => setTimeout(resolve, config.warmupMs ?? 1000));
  } else {
    callers = [prober()];
  }
  await new Promise<void>((resolve) => {
    process.on('message', (message: DriverMessage) => {
      if (message.type === 'go') recording = true;
      if (message.type === 'stop') {
        recording = false;
        stopping = true;
        resolve();
      }
    });
    send({ type: 'ready' });
  });
  await Promise.all(callers);
  agent.destroy();
  // Large results: leave only once the message is out.
  process.send?.({ type: 'result', samples } satisfies DriverMessage, () => process.disconnect());
}

await main();
