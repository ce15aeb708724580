import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  ModelConfigSchema,
  ModelOptimizationPolicy_GraphSchema,
  ModelOptimizationPolicySchema,
  ModelParameterSchema,
  type ModelConfig,
} from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../../src/errors/server-error.js';
import type { Logger } from '../../../../src/observability/logger.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import {
  parseBoolParameter,
  parseIntParameter,
  sessionSettingsFromConfig,
} from '../../../../src/backends/onnxruntime/session-options.js';

function configWith(parameters: Record<string, string>, graphLevel?: number): ModelConfig {
  const config = create(ModelConfigSchema, { name: 'm' });
  for (const [key, value] of Object.entries(parameters)) {
    config.parameters[key] = create(ModelParameterSchema, { stringValue: value });
  }
  if (graphLevel !== undefined) {
    config.optimization = create(ModelOptimizationPolicySchema, {
      graph: create(ModelOptimizationPolicy_GraphSchema, { level: graphLevel }),
    });
  }
  return config;
}

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { logger: { ...silentLogger, warn: (message) => warnings.push(message) }, warnings };
}

function invalidArgAbout(name: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof ServerError && error.code === 'INVALID_ARG' && error.message.includes(name);
}

describe('onnxruntime session options', () => {
  it("defaults to Triton's: all graph optimizations, sequential, onnxruntime thread choice, shared", () => {
    const settings = sessionSettingsFromConfig(configWith({}), silentLogger);
    assert.equal(settings.graphOptimizationLevel, 99);
    assert.equal(settings.executionMode, 'sequential');
    assert.equal(settings.intraOpThreads, undefined);
    assert.equal(settings.interOpThreads, undefined);
    assert.equal(settings.memArena, undefined);
    assert.equal(settings.memPattern, undefined);
    assert.equal(settings.shareSession, true);
  });

  it('reads thread counts, execution mode and memory switches', () => {
    const settings = sessionSettingsFromConfig(
      configWith({
        intra_op_thread_count: '3',
        inter_op_thread_count: '2',
        execution_mode: '1',
        enable_mem_arena: 'false',
        enable_mem_pattern: 'ON',
      }),
      silentLogger,
    );
    assert.equal(settings.intraOpThreads, 3);
    assert.equal(settings.interOpThreads, 2);
    assert.equal(settings.executionMode, 'parallel');
    assert.equal(settings.memArena, false);
    assert.equal(settings.memPattern, true);
  });

  it('leaves thread counts of 0 to the thread plan', () => {
    const settings = sessionSettingsFromConfig(configWith({ intra_op_thread_count: '0' }), silentLogger);
    assert.equal(settings.intraOpThreads, undefined);
  });

  it('maps optimization.graph.level: -1 basic, 1 extended, 2 disabled, others all', () => {
    const level = (value: number): unknown =>
      sessionSettingsFromConfig(configWith({}, value), silentLogger).graphOptimizationLevel;
    // The C API's GraphOptimizationLevel values.
    assert.equal(level(-1), 1);
    assert.equal(level(1), 2);
    assert.equal(level(2), 0);
    assert.equal(level(0), 99);
    assert.equal(level(7), 99);
  });

  it('rejects an execution_mode other than 0 or 1, naming it', () => {
    assert.throws(
      () => sessionSettingsFromConfig(configWith({ execution_mode: '2' }), silentLogger),
      invalidArgAbout('execution_mode'),
    );
    assert.throws(
      () => sessionSettingsFromConfig(configWith({ execution_mode: 'fast' }), silentLogger),
      invalidArgAbout('execution_mode'),
    );
  });

  it('rejects values that are not numbers or booleans, naming the parameter', () => {
    assert.throws(
      () => sessionSettingsFromConfig(configWith({ intra_op_thread_count: 'many' }), silentLogger),
      invalidArgAbout('intra_op_thread_count'),
    );
    assert.throws(
      () => sessionSettingsFromConfig(configWith({ enable_mem_arena: 'yes' }), silentLogger),
      invalidArgAbout('enable_mem_arena'),
    );
  });

  it('parses integers like std::stoi and booleans like Triton', () => {
    assert.equal(parseIntParameter('p', ' 12'), 12);
    assert.equal(parseIntParameter('p', '-3'), -3);
    assert.equal(parseIntParameter('p', '4threads'), 4);
    assert.throws(() => parseIntParameter('p', ''), invalidArgAbout("'p'"));
    for (const text of ['true', 'On', '1']) assert.equal(parseBoolParameter('p', text), true);
    for (const text of ['FALSE', 'off', '0']) assert.equal(parseBoolParameter('p', text), false);
  });

  it('gives each instance its own session when sharing is off', () => {
    for (const text of ['false', '0', 'off']) {
      const settings = sessionSettingsFromConfig(
        configWith({ share_session_between_instances: text }),
        silentLogger,
      );
      assert.equal(settings.shareSession, false);
    }
    assert.throws(
      () => sessionSettingsFromConfig(configWith({ share_session_between_instances: 'maybe' }), silentLogger),
      invalidArgAbout('share_session_between_instances'),
    );
  });

  it('passes onnxruntime config entries through', () => {
    const settings = sessionSettingsFromConfig(
      configWith({
        'memory.enable_memory_arena_shrinkage': 'cpu:0',
        'session.use_device_allocator_for_initializers': '1',
      }),
      silentLogger,
    );
    assert.deepEqual([...settings.runConfig], [['memory.enable_memory_arena_shrinkage', 'cpu:0']]);
    assert.deepEqual([...settings.sessionConfig], [['session.use_device_allocator_for_initializers', '1']]);
  });

  it('logs and ignores parameters it does not know', () => {
    const { logger, warnings } = recordingLogger();
    const settings = sessionSettingsFromConfig(
      configWith({ frobnicate: '1', gpu_mem_limit: '1000', intra_op_thread_count: '1' }),
      logger,
    );
    assert.equal(settings.intraOpThreads, 1);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.some((w) => w.includes("'frobnicate'")));
    assert.ok(warnings.some((w) => w.includes("'gpu_mem_limit'") && w.includes('GPU')));
  });
});
