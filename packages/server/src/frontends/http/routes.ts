import { requestedVersion } from '../../request/model-version.js';
import type { RouteHandler } from './context.js';
import { handleModelReady, handleServerLive, handleServerReady } from './handlers/health.js';
import { handleGenerate, handleGenerateStream } from './handlers/generate.js';
import { handleInfer } from './handlers/infer.js';
import { handleLogging } from './handlers/logging.js';
import { handleModelConfig, handleModelMetadata, handleServerMetadata } from './handlers/metadata.js';
import {
  handleModelLoad,
  handleModelUnload,
  handleNamedRepositoryControl,
  handleRepositoryIndex,
} from './handlers/repository.js';
import {
  handleCudaShmRegister,
  handleCudaShmStatus,
  handleCudaShmUnregister,
  handleSystemShmRegister,
  handleSystemShmStatus,
  handleSystemShmUnregister,
} from './handlers/shared-memory.js';
import { handleAllStatistics, handleModelStatistics } from './handlers/statistics.js';
import { handleModelTraceSetting, handleTraceSetting } from './handlers/trace.js';

/**
 * The whole /v2 surface in one table, with path patterns following Triton's http_server.cc regexes.
 * A version segment may be any text: it is read by the request's version parser (parseRoute), so
 * 'wrong_specification' gets Triton's "failed to get model version ..." error as it does over
 * gRPC, rather than a bare 404. Order matters: the first matching pattern wins, and a path
 * that matches but lacks the request's method is a 405. Adding an endpoint is one line.
 */

/** `--http-restricted-api` categories, so restrictions can be enforced per route later. */
export type ApiCategory =
  | 'health'
  | 'metadata'
  | 'inference'
  | 'shared-memory'
  | 'model-config'
  | 'model-repository'
  | 'statistics'
  | 'trace'
  | 'logging';

export interface Route {
  readonly pattern: RegExp;
  readonly category: ApiCategory;
  /** Handlers by HTTP method (null-prototype, so any method string can be looked up). */
  readonly methods: Readonly<Record<string, RouteHandler | undefined>>;
  /** The second captured segment is a model version, checked before the handler runs. */
  readonly versioned: boolean;
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: readonly string[];
}

function route(
  pattern: RegExp,
  category: ApiCategory,
  methods: { readonly GET?: RouteHandler; readonly POST?: RouteHandler },
  versioned = false,
): Route {
  const table = Object.assign(Object.create(null) as Record<string, RouteHandler>, methods);
  return { pattern, category, methods: table, versioned };
}

/** A `/v2/models/{model}[/versions/{version}]<suffix>` route. */
function modelRoute(
  suffix: string,
  category: ApiCategory,
  methods: { readonly GET?: RouteHandler; readonly POST?: RouteHandler },
): Route {
  return route(new RegExp(`${MODEL}${suffix}$`), category, methods, true);
}

/** `/v2/models/{model}[/versions/{version}]` */
const MODEL = String.raw`^/v2/models/([^/]+)(?:/versions/([^/]+))?`;
/** `/v2/{system,cuda}sharedmemory[/region/{region}]/<action>` */
const shm = (kind: 'system' | 'cuda', action: string): RegExp =>
  new RegExp(String.raw`^/v2/${kind}sharedmemory(?:/region/([^/]+))?/${action}$`);

export const ROUTES: readonly Route[] = [
  // Inference first: it is the hot path and costs one pattern test.
  modelRoute('/infer', 'inference', { POST: handleInfer }),
  route(/^\/v2\/models\/stats$/, 'statistics', { GET: handleAllStatistics }),
  modelRoute('/ready', 'health', { GET: handleModelReady }),
  modelRoute('', 'metadata', { GET: handleModelMetadata }),
  modelRoute('/config', 'model-config', { GET: handleModelConfig }),
  modelRoute('/stats', 'statistics', { GET: handleModelStatistics }),
  route(/^\/v2$/, 'metadata', { GET: handleServerMetadata }),
  route(/^\/v2\/health\/live$/, 'health', { GET: handleServerLive }),
  route(/^\/v2\/health\/ready$/, 'health', { GET: handleServerReady }),
  route(/^\/v2\/repository(?:\/[^/]+)?\/index$/, 'model-repository', { POST: handleRepositoryIndex }),
  route(/^\/v2\/repository\/models\/([^/]+)\/load$/, 'model-repository', { POST: handleModelLoad }),
  route(/^\/v2\/repository\/models\/([^/]+)\/unload$/, 'model-repository', { POST: handleModelUnload }),
  route(/^\/v2\/repository\/[^/]+\/models\/[^/]+\/(?:load|unload)$/, 'model-repository', {
    POST: handleNamedRepositoryControl,
  }),
  route(shm('system', 'status'), 'shared-memory', { GET: handleSystemShmStatus }),
  route(shm('system', 'register'), 'shared-memory', { POST: handleSystemShmRegister }),
  route(shm('system', 'unregister'), 'shared-memory', { POST: handleSystemShmUnregister }),
  route(shm('cuda', 'status'), 'shared-memory', { GET: handleCudaShmStatus }),
  route(shm('cuda', 'register'), 'shared-memory', { POST: handleCudaShmRegister }),
  route(shm('cuda', 'unregister'), 'shared-memory', { POST: handleCudaShmUnregister }),
  route(/^\/v2\/logging$/, 'logging', { GET: handleLogging, POST: handleLogging }),
  // Triton serves per-model trace settings only without a version segment.
  route(/^\/v2\/trace\/setting$/, 'trace', { GET: handleTraceSetting, POST: handleTraceSetting }),
  route(/^\/v2\/models\/([^/]+)\/trace\/setting$/, 'trace', {
    GET: handleModelTraceSetting,
    POST: handleModelTraceSetting,
  }),
  modelRoute('/generate', 'inference', { POST: handleGenerate }),
  modelRoute('/generate_stream', 'inference', { POST: handleGenerateStream }),
];

/** The first route whose pattern matches `path` (no query string), with its decoded segments. */
export function matchRoute(path: string, routes: readonly Route[] = ROUTES): RouteMatch | undefined {
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (match === null) continue;
    const params: string[] = new Array(match.length - 1);
    for (let i = 1; i < match.length; i++) params[i - 1] = decodeSegment(match[i]);
    return { route: candidate, params };
  }
  return undefined;
}

/**
 * The segments a handler gets: a versioned route's version string becomes the canonical decimal
 * the core takes ('' when absent). Throws INVALID_ARG, with Triton's text, for a malformed version.
 */
export function routeParams(match: RouteMatch): readonly string[] {
  if (!match.route.versioned) return match.params;
  const [model = '', version = '', ...rest] = match.params;
  return [model, requestedVersion(version), ...rest];
}

/** Clients percent-encode model names (tritonclient quotes them); an undecodable one stays as sent. */
function decodeSegment(segment: string | undefined): string {
  if (segment === undefined) return '';
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
