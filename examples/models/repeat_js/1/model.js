// Triton's repeat example in JavaScript: each element of IN becomes one response (OUT, IDX), sent
// through the request's response sender after `execute` returned, then a final flag alone.
// Plain JavaScript, typed through JSDoc from `nereid/model`.
/** @typedef {import('nereid/model').Request} Request */

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {readonly Request[]} requests */
export function execute(requests) {
  for (const request of requests) void repeat(request);
}

/** @param {Request} request */
async function repeat(request) {
  const sender = request.responseSender();
  const values = /** @type {Int32Array} */ (request.input('IN')?.data);
  const delay = /** @type {Uint32Array | undefined} */ (request.input('DELAY')?.data)?.[0] ?? 0;
  for (let i = 0; i < values.length; i++) {
    if (request.isCancelled()) break;
    if (delay > 0) await sleep(delay);
    sender.send({ outputs: [{ name: 'OUT', shape: [1], data: Int32Array.of(values[i] ?? 0) }, { name: 'IDX', shape: [1], data: Uint32Array.of(i) }] });
  }
  sender.send(undefined, { final: true });
}
