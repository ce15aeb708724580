/**
 * Bounds on what an error echoes back. Error messages quote client-sent strings (model, tensor and
 * parameter names, request ids, version strings), and a client may send megabytes of them. Over
 * gRPC the message travels in the HTTP/2 trailers, which the peer refuses beyond its header-list
 * limit (often 16–64 KiB): the status never arrives and the connection's other calls hang. So each
 * quoted string is clipped where it is quoted, and the whole message is clipped where it leaves.
 */

/** Longest client-sent string quoted in full; longer ones keep this many characters plus the marker. */
export const MAX_QUOTED_LENGTH = 256;
/** Most UTF-8 bytes of an error message on the wire (percent-encoded in gRPC, at most 3× that). */
export const MAX_MESSAGE_BYTES = 4096;

const ELLIPSIS = '...';

/**
 * A client-sent string as an error message quotes it: unchanged up to MAX_QUOTED_LENGTH characters,
 * else its start and `...[N chars]` so the reader sees it was cut and by how much.
 */
export function quoted(text: string): string {
  if (text.length <= MAX_QUOTED_LENGTH) return text;
  return `${wholeCodePoints(text, MAX_QUOTED_LENGTH)}${ELLIPSIS}[${text.length} chars]`;
}

/** A message as sent on the wire: at most MAX_MESSAGE_BYTES of UTF-8, ending in `...` when cut. */
export function wireMessage(message: string): string {
  // Most messages are short ASCII: no need to measure bytes.
  if (message.length * 3 <= MAX_MESSAGE_BYTES) return message;
  if (Buffer.byteLength(message, 'utf8') <= MAX_MESSAGE_BYTES) return message;
  const budget = MAX_MESSAGE_BYTES - ELLIPSIS.length;
  let bytes = 0;
  let end = 0;
  for (const char of message) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return message.slice(0, end) + ELLIPSIS;
}

/** The first `length` UTF-16 units of `text`, one fewer if that would split a surrogate pair. */
function wholeCodePoints(text: string, length: number): string {
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}
