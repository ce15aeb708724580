/**
 * `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n). Returns milliseconds, or undefined
 * when the header is absent or malformed (a malformed one is ignored, as grpc-js does).
 */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

export function parseGrpcTimeout(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(header);
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
