import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpOptions } from '../../core/server-options.js';
import type { InferenceCore } from '../../core/types.js';
import type { Logger } from '../../observability/logger.js';

/** What every HTTP handler works with; built once per server. */
export interface HttpContext {
  readonly core: InferenceCore;
  readonly options: HttpOptions;
  readonly logger: Logger;
}

/**
 * One endpoint. `params` are the route's captured path segments, percent-decoded; an absent optional
 * segment (the model version) is ''. A thrown or rejected error becomes the error reply.
 */
export type RouteHandler = (
  http: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: readonly string[],
) => void | Promise<void>;
