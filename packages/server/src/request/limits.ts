import { invalidArg, type ServerError } from '../errors/index.js';

/**
 * How many BYTES elements one inference request may carry, over all its inputs. Each element costs
 * the server and the runtime about 64 bytes of bookkeeping beyond its own bytes (offsets, pointers,
 * the runtime's string objects), so this bounds that overhead near 256 MiB per request, and the
 * per-element work that follows it. Checked from the shapes, before anything is allocated per element.
 */
export const MAX_REQUEST_STRING_ELEMENTS = 4 * 1024 * 1024;

/** The error for a request whose BYTES inputs hold more than MAX_REQUEST_STRING_ELEMENTS elements. */
export function tooManyStringElements(count: number, model: string, prefix = ''): ServerError {
  return invalidArg(
    `${prefix}inference request for model '${model}' holds ${count} BYTES elements, more than the ` +
      `${MAX_REQUEST_STRING_ELEMENTS} a request may hold`,
  );
}
