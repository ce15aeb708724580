import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import type { InferenceSession } from 'onnxruntime-node';
import { invalidArg } from '../../errors/server-error.js';
import type { Logger } from '../../observability/logger.js';

/** Where a model's sessions run: on the event-loop thread, or each in its own worker thread. */
export type ExecutionThread = 'main' | 'worker';

/** Everything the model configuration decides about the sessions of a model. */
export interface SessionSettings {
  /** Options every session of the model is created with. */
  readonly sessionOptions: InferenceSession.SessionOptions;
  /** Options every `session.run` gets. */
  readonly runOptions: InferenceSession.RunOptions;
  /** One session for all instances (default) or one per instance. */
  readonly shareSession: boolean;
  readonly executionThread: ExecutionThread;
}

/**
 * Parameters Triton's onnxruntime backend reads that mean nothing on CPU-only onnxruntime-node; they
 * are accepted with a warning so configs written for Triton still load.
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
 * does, with its defaults: graph optimization ENABLE_ALL, sequential execution, thread counts and
 * memory arena/pattern left to onnxruntime (0 = onnxruntime's choice). Nereid adds
 * `share_session_between_instances` (default true) and `execution_thread` ("main"/"worker"; default
 * "main" for a shared session, "worker" otherwise, since only worker threads let separate sessions
 * run at the same time). Bad values are INVALID_ARG naming the parameter; unknown ones are logged.
 */
export function sessionSettingsFromConfig(config: ModelConfig, logger: Logger): SessionSettings {
  const params = new Map(
    Object.entries(config.parameters).map(([key, value]) => [key, value.stringValue]),
  );
  const options: InferenceSession.SessionOptions = {
    graphOptimizationLevel: graphOptimizationLevel(config),
    executionMode: executionMode(params.get('execution_mode')),
    // onnxruntime's own log lines would duplicate the errors this backend reports.
    logSeverityLevel: 3,
    ...threadCounts(params),
    ...memoryOptions(params),
  };
  const allocator = params.get('session.use_device_allocator_for_initializers');
  if (allocator !== undefined) {
    options.extra = { session: { use_device_allocator_for_initializers: allocator } };
  }
  const runOptions: InferenceSession.RunOptions = { logSeverityLevel: 4 };
  const shrinkage = params.get('memory.enable_memory_arena_shrinkage');
  if (shrinkage !== undefined) runOptions.extra = { memory: { enable_memory_arena_shrinkage: shrinkage } };

  const shareText = params.get('share_session_between_instances');
  const shareSession =
    shareText === undefined ? true : parseBoolParameter('share_session_between_instances', shareText);
  const executionThread = parseExecutionThread(params.get('execution_thread'), shareSession);
  warnUnknown(config.name, params, logger);
  return { sessionOptions: options, runOptions, shareSession, executionThread };
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
  'execution_thread',
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
function graphOptimizationLevel(
  config: ModelConfig,
): NonNullable<InferenceSession.SessionOptions['graphOptimizationLevel']> {
  switch (config.optimization?.graph?.level) {
    case -1:
      return 'basic';
    case 1:
      return 'extended';
    case 2:
      return 'disabled';
    default:
      return 'all';
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

function threadCounts(params: ReadonlyMap<string, string>): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {};
  const intra = params.get('intra_op_thread_count');
  const inter = params.get('inter_op_thread_count');
  // 0 (and negatives, as in Triton) leave the choice to onnxruntime.
  if (intra !== undefined) {
    const count = parseIntParameter('intra_op_thread_count', intra);
    if (count > 0) options.intraOpNumThreads = count;
  }
  if (inter !== undefined) {
    const count = parseIntParameter('inter_op_thread_count', inter);
    if (count > 0) options.interOpNumThreads = count;
  }
  return options;
}

function memoryOptions(params: ReadonlyMap<string, string>): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {};
  const arena = params.get('enable_mem_arena');
  const pattern = params.get('enable_mem_pattern');
  if (arena !== undefined) options.enableCpuMemArena = parseBoolParameter('enable_mem_arena', arena);
  if (pattern !== undefined) {
    options.enableMemPattern = parseBoolParameter('enable_mem_pattern', pattern);
  }
  return options;
}

function parseExecutionThread(text: string | undefined, shareSession: boolean): ExecutionThread {
  if (text === undefined) return shareSession ? 'main' : 'worker';
  const value = text.trim().toLowerCase();
  if (value === 'main' || value === 'worker') return value;
  throw invalidArg(
    `invalid value '${text}' for parameter 'execution_thread': expected "main" or "worker"`,
  );
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
