/**
 * gRPC status codes (google.rpc.Code) and the status a call ends with. `grpc-message` travels in
 * HTTP/2 trailers percent-encoded as the gRPC spec asks: every byte of its UTF-8 outside printable
 * ASCII, and '%' itself, becomes %XX.
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** How a call ends: the code and the text the client reads as the status details. */
export interface CallStatus {
  readonly code: number;
  readonly details: string;
}

export const OK_STATUS: CallStatus = Object.freeze({ code: Status.OK, details: '' });

/**
 * Printable ASCII but '%' passes unchanged; the common case allocates nothing. A space at either end
 * is encoded too: HTTP/2 forbids surrounding whitespace in a field value, and clients built on
 * nghttp2 drop such a field, losing the message (Triton's texts often end in ". ").
 */
function isPlain(text: string): boolean {
  if (text.startsWith(' ') || text.endsWith(' ')) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) return false;
  }
  return true;
}

export function encodeGrpcMessage(text: string): string {
  if (isPlain(text)) return text;
  const bytes = Buffer.from(text, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    const edgeSpace = byte === 0x20 && (i === 0 || i === bytes.length - 1);
    const plain = byte >= 0x20 && byte <= 0x7e && byte !== 0x25 && !edgeSpace;
    out += plain ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The trailer fields of a status (a trailers-only response adds them to its headers). */
export function statusFields(status: CallStatus): Record<string, string> {
  if (status.details === '') return { 'grpc-status': String(status.code) };
  return { 'grpc-status': String(status.code), 'grpc-message': encodeGrpcMessage(status.details) };
}
