import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FIXTURE_CONFIGS } from '../../helpers/paths.js';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { create, equals } from '@bufbuild/protobuf';
import { BytesValueSchema, DoubleValueSchema } from '@bufbuild/protobuf/wkt';
import { DataType, ModelConfigSchema, ModelInstanceGroup_Kind } from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../src/errors/index.js';
import {
  messageToTritonJson,
  modelConfigFromJson,
  modelConfigToJson,
  modelConfigToJsonString,
  stringifyTritonJson,
} from '../../../src/config/model-config-json.js';
import { parseModelConfig } from '../../../src/config/read-config.js';

const FIXTURES = pathToFileURL(FIXTURE_CONFIGS + '/');

// A configuration after Triton's normalisation for an ONNX model on a CPU-only host.
const NORMALIZED_ONNX = `
  name: "tiny_onnx"
  platform: "onnxruntime_onnx"
  backend: "onnxruntime"
  version_policy { latest { num_versions: 1 } }
  max_batch_size: 0
  input { name: "pixels" data_type: TYPE_FP32 dims: [ 1, 3, 64, 64 ] }
  output { name: "logits" data_type: TYPE_FP32 dims: [ 1, 10 ] }
  optimization { input_pinned_memory { enable: true } output_pinned_memory { enable: true } }
  instance_group { name: "tiny_onnx" kind: KIND_CPU count: 2 }
  default_model_filename: "model.onnx"`;

function jsonError(json: unknown): string {
  try {
    modelConfigFromJson(json, { fileName: 'load request' });
  } catch (error) {
    assert.ok(error instanceof ServerError);
    assert.equal(error.code, 'INVALID_ARG');
    return error.message;
  }
  assert.fail('expected modelConfigFromJson to fail');
}

describe('modelConfigToJson', () => {
  it('prints every field without presence, in declaration order, like Triton', () => {
    const config = parseModelConfig(NORMALIZED_ONNX, 'config.pbtxt');
    const expected =
      '{"name":"tiny_onnx","platform":"onnxruntime_onnx","backend":"onnxruntime","runtime":"",' +
      '"version_policy":{"latest":{"num_versions":1}},"max_batch_size":0,' +
      '"input":[{"name":"pixels","data_type":"TYPE_FP32","format":"FORMAT_NONE","dims":[1,3,64,64],' +
      '"is_shape_tensor":false,"allow_ragged_batch":false,"optional":false,"is_non_linear_format_io":false}],' +
      '"output":[{"name":"logits","data_type":"TYPE_FP32","dims":[1,10],"label_filename":"",' +
      '"is_shape_tensor":false,"is_non_linear_format_io":false}],"batch_input":[],"batch_output":[],' +
      '"optimization":{"priority":"PRIORITY_DEFAULT","input_pinned_memory":{"enable":true},' +
      '"output_pinned_memory":{"enable":true},"gather_kernel_buffer_threshold":0,"eager_batching":false},' +
      '"instance_group":[{"name":"tiny_onnx","kind":"KIND_CPU","count":2,"gpus":[],"secondary_devices":[],' +
      '"profile":[],"passive":false,"host_policy":""}],"default_model_filename":"model.onnx",' +
      '"cc_model_filenames":{},"metric_tags":{},"parameters":{},"model_warmup":[]}';
    assert.equal(modelConfigToJsonString(config), expected);
    assert.deepEqual(modelConfigToJson(config), JSON.parse(expected));
  });

  it('prints only the scheduling_choice member that is set, with its defaults', () => {
    const dynamic = modelConfigToJson(parseModelConfig('max_batch_size: 4 dynamic_batching { preferred_batch_size: 4 }', 'c'));
    assert.deepEqual(dynamic['dynamic_batching'], {
      preferred_batch_size: [4],
      max_queue_delay_microseconds: 0,
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      priority_queue_policy: {},
    });
    assert.equal('sequence_batching' in dynamic, false);
    assert.equal('ensemble_scheduling' in dynamic, false);
    assert.equal('optimization' in dynamic, false);
    const sequence = modelConfigToJson(parseModelConfig('sequence_batching { oldest { max_candidate_sequences: 2 max_queue_delay_microseconds: 7 } }', 'c'));
    const seq = sequence['sequence_batching'] as Record<string, unknown>;
    assert.deepEqual(seq['oldest'], { max_candidate_sequences: 2, preferred_batch_size: [], max_queue_delay_microseconds: 7, preserve_ordering: false });
    assert.equal('direct' in seq, false);
    assert.equal(seq['max_sequence_idle_microseconds'], 0);
  });

  it('prints 64-bit integers as numbers and keeps digits beyond 2^53 exactly', () => {
    const config = parseModelConfig(readFileSync(new URL('priority-max.pbtxt', FIXTURES), 'utf8'), 'priority-max.pbtxt');
    const json = modelConfigToJson(config);
    const db = json['dynamic_batching'] as Record<string, unknown>;
    assert.equal(db['priority_levels'], 18446744073709551615n);
    assert.equal(db['default_priority_level'], 4294967295);
    const text = modelConfigToJsonString(config);
    assert.match(text, /"priority_levels":18446744073709551615,/);
    assert.match(text, /"4294967296":\{"timeout_action":"REJECT","default_timeout_microseconds":18446744073709551615,"allow_timeout_override":true,"max_queue_size":7\}/);
    const steps = modelConfigToJson(parseModelConfig('ensemble_scheduling { step { model_version: -1 } step { model_version: 3 } }', 'e'));
    assert.match(stringifyTritonJson(steps), /"step":\[\{"model_name":"","model_version":-1,"input_map":\{\},"output_map":\{\},"model_namespace":""\},\{[^}]*"model_version":3/);
  });

  it('prints enums by name, unnamed enum numbers as numbers, floats by shortest digits', () => {
    const config = create(ModelConfigSchema, { input: [{ name: 'a', dataType: 99 as DataType }] });
    assert.equal((modelConfigToJson(config)['input'] as Array<Record<string, unknown>>)[0]?.['data_type'], 99);
    const controls = parseModelConfig('sequence_batching { control_input { control { fp32_false_true: [ 0, 0.1 ] } } direct { minimum_slot_utilization: 0.3 } }', 'c');
    const text = modelConfigToJsonString(controls);
    assert.match(text, /"fp32_false_true":\[0,0\.1\]/);
    assert.match(text, /"minimum_slot_utilization":0\.3/);
    assert.match(text, /"kind":"CONTROL_SEQUENCE_START"/);
    assert.deepEqual(messageToTritonJson(DoubleValueSchema, create(DoubleValueSchema, { value: NaN })), { value: 'NaN' });
    assert.deepEqual(messageToTritonJson(BytesValueSchema, create(BytesValueSchema, { value: new Uint8Array([0, 255]) })), { value: 'AP8=' });
  });

  it('sorts map keys and prints message-valued maps', () => {
    const config = parseModelConfig('parameters { key: "b" value { string_value: "2" } } parameters { key: "a" value { } } metric_tags { key: "z" value: "1" }', 'c');
    const text = modelConfigToJsonString(config);
    assert.match(text, /"metric_tags":\{"z":"1"\},"parameters":\{"a":\{"string_value":""\},"b":\{"string_value":"2"\}\}/);
  });
});

describe('modelConfigFromJson', () => {
  it('reads Triton JSON output back to the same configuration for every fixture', () => {
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.pbtxt'))) {
      if (file === 'priority-max.pbtxt') continue; // values beyond 2^53 do not survive JSON.parse
      const config = parseModelConfig(readFileSync(new URL(file, FIXTURES), 'utf8'), file);
      const back = modelConfigFromJson(JSON.parse(modelConfigToJsonString(config)));
      assert.ok(equals(ModelConfigSchema, config, back), file);
    }
  });

  it('accepts proto and lowerCamel names, enum names in any case, int64 as strings', () => {
    const config = modelConfigFromJson({
      name: 'm',
      max_batch_size: 2,
      input: [{ name: 'x', data_type: 'type_fp32', dims: ['4', -1] }],
      instanceGroup: [{ kind: 'Kind_Cpu', count: 1 }],
      dynamic_batching: { priority_queue_policy: { '2': { timeout_action: 'delay' } } },
    });
    assert.equal(config.maxBatchSize, 2);
    assert.equal(config.input[0]?.dataType, DataType.TYPE_FP32);
    assert.deepEqual(config.input[0]?.dims, [4n, -1n]);
    assert.equal(config.instanceGroup[0]?.kind, ModelInstanceGroup_Kind.CPU);
    assert.equal(config.schedulingChoice.case, 'dynamicBatching');
  });

  it('rejects unknown fields naming the field and suggesting the right one', () => {
    // The shape shown in Triton's model-repository extension doc is not a ModelConfig.
    assert.equal(
      jsonError({ name: 'm', inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }] }),
      "load request: unknown field 'inputs' in inference.ModelConfig (did you mean 'input'?)",
    );
    assert.equal(
      jsonError({ input: [{ name: 'a' }, { datatype: 'TYPE_FP32' }] }),
      "load request: unknown field 'input[1].datatype' in inference.ModelInput (did you mean 'data_type'?)",
    );
    assert.match(jsonError({ parameters: { k: { value: 'x' } } }), /unknown field 'parameters\["k"\]\.value' in inference\.ModelParameter/);
  });

  it('wraps type errors and rejects non-objects', () => {
    assert.match(jsonError({ max_batch_size: 'many' }), /^load request: .*max_batch_size/);
    assert.match(jsonError({ input: [{ data_type: 'TYPE_FP99' }] }), /^load request: .*TYPE_FP99/);
    assert.match(jsonError([1, 2]), /^load request: expected a JSON object/);
    assert.throws(() => modelConfigFromJson('{}'), /model configuration JSON: expected a JSON object/);
  });
});
