import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/server-error.js';
import type { Logger } from '../../observability/logger.js';

/** GraphOptimizationLevel of the C API: ORT_DISABLE_ALL, ORT_ENABLE_BASIC, _EXTENDED, _ALL. */
export type GraphOptimizationLevel = 0 | 1 | 2 | 99;

/** Everything the model configuration decides about the sessions of a model. */
export interface SessionSettings {
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  readonly executionMode: 'sequential' | 'parallel';
  /** `intra_op_thread_count` when the config sets one above 0; otherwise the thread plan decides. */
  readonly intraOpThreads: number | undefined;
  /** `inter_op_thread_count` when the config sets one above 0; otherwise the thread plan decides. */
  readonly interOpThreads: number | undefined;
  /** `enable_mem_arena` / `enable_mem_pattern`; undefined leaves onnxruntime's default. */
  readonly memArena: boolean | undefined;
  readonly memPattern: boolean | undefined;
  /** Session configuration entries (AddSessionConfigEntry). */
  readonly sessionConfig: ReadonlyMap<string, string>;
  /** Run configuration entries (AddRunConfigEntry), for every run. */
  readonly runConfig: ReadonlyMap<string, string>;
  /** One session for all instances (default) or one per instance. */
  readonly shareSession: boolean;
}

/**
 * Parameters Triton's onnxruntime backend reads that mean nothing on CPU; they are accepted with a
 * warning so configs written for Triton still load.
 */
const GPU_ONLY_PARAMETERS: ReadonlySet<string> = new Set([
  'cudnn_conv_algo_search',
  'gpu_mem_limit',
  'arena_extend_strategy',
  'do_copy_in_default_stream',
  'cudnn_conv_use_max_workspace',
  'use_ep_level_unified_stream',
]);

/**
 * Reads the model's `parameters` and `optimization.graph.level` the way Triton's onnxruntime backend
 * does, with its defaults: graph optimization ENABLE_ALL, sequential execution, memory arena and
 * pattern left to onnxruntime. Thread counts left unset (or 0) are planned by Nereid
 * (thread-plan.ts). Nereid adds `share_session_between_instances` (default true). Bad values are
 * INVALID_ARG naming the parameter; unknown ones are logged.
 */
export function sessionSettingsFromConfig(config: ModelConfig, logger: Logger): SessionSettings {
  const params = new Map(
    Object.entries(config.parameters).map(([key, value]) => [key, value.stringValue]),
  );
  const sessionConfig = new Map<string, string>();
  const allocator = params.get('session.use_device_allocator_for_initializers');
  if (allocator !== undefined) sessionConfig.set('session.use_device_allocator_for_initializers', allocator);
  const runConfig = new Map<string, string>();
  const shrinkage = params.get('memory.enable_memory_arena_shrinkage');
  if (shrinkage !== undefined) runConfig.set('memory.enable_memory_arena_shrinkage', shrinkage);
  const shareText = params.get('share_session_between_instances');
  const settings: SessionSettings = {
    graphOptimizationLevel: graphOptimizationLevel(config),
    executionMode: executionMode(params.get('execution_mode')),
    intraOpThreads: threadCount(params, 'intra_op_thread_count'),
    interOpThreads: threadCount(params, 'inter_op_thread_count'),
    memArena: optionalBool(params, 'enable_mem_arena'),
    memPattern: optionalBool(params, 'enable_mem_pattern'),
    sessionConfig,
    runConfig,
    shareSession:
      shareText === undefined ? true : parseBoolParameter('share_session_between_instances', shareText),
  };
  warnUnknown(config.name, params, logger);
  return settings;
}

const KNOWN_PARAMETERS: ReadonlySet<string> = new Set([
  'intra_op_thread_count',
  'inter_op_thread_count',
  'execution_mode',
  'enable_mem_arena',
  'enable_mem_pattern',
  'session.use_device_allocator_for_initializers',
  'memory.enable_memory_arena_shrinkage',
  'share_session_between_instances',
]);

function warnUnknown(model: string, params: ReadonlyMap<string, string>, logger: Logger): void {
  for (const key of params.keys()) {
    if (KNOWN_PARAMETERS.has(key)) continue;
    const why = GPU_ONLY_PARAMETERS.has(key)
      ? 'it only applies to GPU execution providers'
      : 'the onnxruntime backend does not know it';
    logger.warn(`model '${model}': ignoring parameter '${key}': ${why}`);
  }
}

/** `optimization { graph { level } }`: -1 basic, 1 extended, 2 disabled, anything else all. */
function graphOptimizationLevel(config: ModelConfig): GraphOptimizationLevel {
  switch (config.optimization?.graph?.level) {
    case -1:
      return 1;
    case 1:
      return 2;
    case 2:
      return 0;
    default:
      return 99;
  }
}

function executionMode(text: string | undefined): 'sequential' | 'parallel' {
  const mode = text === undefined ? 0 : parseIntParameter('execution_mode', text);
  if (mode !== 0 && mode !== 1) {
    throw invalidArg(
      `Invalid configuration value provided. Expected values for execution_mode are 0 or 1 but got ${mode} .`,
    );
  }
  return mode === 0 ? 'sequential' : 'parallel';
}

/** A thread count parameter; 0 and negatives (as in Triton) leave the choice open. */
function threadCount(params: ReadonlyMap<string, string>, name: string): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const count = parseIntParameter(name, text);
  return count > 0 ? count : undefined;
}

function optionalBool(params: ReadonlyMap<string, string>, name: string): boolean | undefined {
  const text = params.get(name);
  return text === undefined ? undefined : parseBoolParameter(name, text);
}

/**
 * Integer parameter as Triton reads it (std::stoi: optional leading spaces and sign, then digits;
 * anything after the digits is ignored).
 */
export function parseIntParameter(name: string, text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  const value = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(value) || Math.abs(value) > 0x7fffffff) {
    throw invalidArg(`failed to convert '${text}' to integral number for parameter '${name}'`);
  }
  return value;
}

/** Boolean parameter as Triton reads it: true/on/1 or false/off/0, any case. */
export function parseBoolParameter(name: string, text: string): boolean {
  const value = text.toLowerCase();
  if (value === 'true' || value === 'on' || value === '1') return true;
  if (value === 'false' || value === 'off' || value === '0') return false;
  throw invalidArg(`failed to convert '${text}' to boolean for parameter '${name}'`);
}
