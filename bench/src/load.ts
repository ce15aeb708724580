import { Agent, request } from 'node:http';

/** One HTTP request shape to replay: method, path, headers and body are fixed for the whole run. */
export interface HttpCall {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly errors: number;
}

/**
 * Closed-loop load: `concurrency` callers each send the next request as soon as the previous answer
 * arrives, for `seconds` after a short warm-up. Keep-alive sockets, one per caller. With a list of
 * calls, caller i replays `calls[i % calls.length]` (e.g. its own shared-memory regions).
 */
export async function runHttpLoad(
  port: number,
  calls: HttpCall | readonly HttpCall[],
  concurrency: number,
  seconds: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const list: readonly HttpCall[] = Array.isArray(calls) ? calls : [calls as HttpCall];
  const once = (caller: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const call = list[caller % list.length]!;
      const start = process.hrtime.bigint();
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: call.path, agent, headers: { ...call.headers, 'Content-Length': String(call.body.length) } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - start) / 1000) : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(call.body);
    });
  return closedLoop(once, concurrency, seconds, () => agent.destroy());
}

/** Runs `once` in `concurrency` loops (`caller` = 0..concurrency-1); each resolves with a latency in µs. */
export async function closedLoop(
  once: (caller: number) => Promise<number>,
  concurrency: number,
  seconds: number,
  done: () => void = () => {},
): Promise<LoadResult> {
  const warmupEnd = Date.now() + Math.min(1000, seconds * 200);
  const callers = Array.from({ length: concurrency }, (_, caller) => caller);
  while (Date.now() < warmupEnd) await Promise.all(callers.map(once));
  const latencies: number[] = [];
  let errors = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    callers.map(async (caller) => {
      while (Date.now() < end) {
        try {
          latencies.push(await once(caller));
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  done();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const meanUs = latencies.reduce((sum, us) => sum + us, 0) / latencies.length;
  return { requests: latencies.length, seconds: elapsed, throughput: latencies.length / elapsed, p50Us: at(0.5), p99Us: at(0.99), meanUs, errors };
}
