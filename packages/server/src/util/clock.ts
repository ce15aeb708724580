/** Monotonic nanoseconds as a number (safe for ~104 days of uptime differences). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
