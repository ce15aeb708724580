/**
 * The entries of one trace as UTF-8 bytes, written without making strings: a traced request must
 * not leave garbage for the collector beyond what serving it makes anyway. Buffers are pooled.
 */
const SCRATCH_BYTES = 2048;
const POOL_LIMIT = 256;
const pool: Buffer[] = [];
const EMPTY = Buffer.alloc(0);

const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const ID = ascii('{"id":');
const TIMESTAMP_END = ascii('}]}');
/** Per event name, everything between the id and the ns: `,"timestamps":[{"name":"<name>","ns":`, made once. */
const segments = new Map<string, Uint8Array>();

export class TraceText {
  /** Taken from the pool at the first entry (an OpenTelemetry trace writes none). */
  #buf: Buffer = EMPTY;
  #len = 0;

  get byteLength(): number {
    return this.#len;
  }

  /** `{"id":<id>,"timestamps":[{"name":"<name>","ns":<ns>}]}`, after a comma if not the first entry. */
  timestamp(id: number, name: string, ns: number): void {
    let segment = segments.get(name);
    if (segment === undefined) segments.set(name, (segment = ascii(`,"timestamps":[{"name":"${name}","ns":`)));
    this.#reserve(ID.length + segment.length + 40);
    this.#separate();
    this.#bytes(ID);
    this.#int(id);
    this.#bytes(segment);
    this.#int(ns);
    this.#bytes(TIMESTAMP_END);
  }

  /** Any other entry, given as text (headers, tensors: rarer, or costly anyway). */
  entry(text: string): void {
    this.#reserve(Buffer.byteLength(text) + 1);
    this.#separate();
    this.#len += this.#buf.write(text, this.#len);
  }

  /** Copies the entries into `target` at `offset`; returns the bytes copied. */
  copyTo(target: Buffer, offset: number): number {
    return this.#buf.copy(target, offset, 0, this.#len);
  }

  /** Done with: the buffer goes back to the pool. */
  release(): void {
    if (this.#buf.length === SCRATCH_BYTES && pool.length < POOL_LIMIT) pool.push(this.#buf);
    this.#buf = EMPTY;
    this.#len = 0;
  }

  #separate(): void {
    if (this.#len > 0) this.#buf[this.#len++] = 0x2c;
  }

  #reserve(bytes: number): void {
    if (this.#len + bytes <= this.#buf.length) return;
    if (this.#buf === EMPTY && bytes <= SCRATCH_BYTES) {
      this.#buf = pool.pop() ?? Buffer.allocUnsafeSlow(SCRATCH_BYTES);
      return;
    }
    const next = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#len + bytes));
    this.#buf.copy(next, 0, 0, this.#len);
    if (this.#buf.length === SCRATCH_BYTES && pool.length < POOL_LIMIT) pool.push(this.#buf);
    this.#buf = next;
  }

  #bytes(bytes: Uint8Array): void {
    const buf = this.#buf;
    let at = this.#len;
    for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i]!;
    this.#len = at;
  }

  /** A non-negative integer (below 2^53) in decimal: the high part above 10^9, then the low 9 digits, in int32 arithmetic. */
  #int(value: number): void {
    if (value < 1e9) {
      this.#small(value | 0, 0);
      return;
    }
    const high = Math.floor(value / 1e9);
    this.#int(high);
    this.#small((value - high * 1e9) | 0, 9);
  }

  /** `value` (< 10^9) in decimal, left-padded with zeros to `width` digits. */
  #small(value: number, width: number): void {
    let digits = 1;
    for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
    if (digits < width) digits = width;
    const buf = this.#buf;
    let at = this.#len + digits;
    this.#len = at;
    for (let i = 0; i < digits; i++) {
      const next = (value / 10) | 0;
      buf[--at] = 0x30 + (value - next * 10);
      value = next;
    }
  }
}
