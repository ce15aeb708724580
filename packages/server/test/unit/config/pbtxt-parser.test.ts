import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DescMessage } from '@bufbuild/protobuf';
import {
  BoolValueSchema,
  BytesValueSchema,
  DoubleValueSchema,
  FieldDescriptorProtoSchema,
  FieldDescriptorProto_Type,
  FloatValueSchema,
  Int32ValueSchema,
  Int64ValueSchema,
  StringValueSchema,
  UInt32ValueSchema,
  UInt64ValueSchema,
} from '@bufbuild/protobuf/wkt';
import { DataType, ModelConfigSchema, ModelInstanceGroup_Kind, ModelQueuePolicy_TimeoutAction } from '@nereid/protocol/generated/model_config_pb';
import { ServerError } from '../../../src/errors/index.js';
import { parseTextProto } from '../../../src/config/pbtxt/parser.js';

const parse = (text: string) => parseTextProto(ModelConfigSchema, text, { fileName: 'config.pbtxt' });

function parseError(text: string, schema: DescMessage = ModelConfigSchema): string {
  try {
    parseTextProto(schema, text, { fileName: 'config.pbtxt' });
  } catch (error) {
    assert.ok(error instanceof ServerError, `not a ServerError: ${String(error)}`);
    assert.equal(error.code, 'INVALID_ARG');
    return error.message;
  }
  assert.fail(`expected a parse error for: ${text}`);
}

function scalar<T>(schema: DescMessage, text: string): T {
  return (parseTextProto(schema, `value: ${text}`) as unknown as { value: T }).value;
}

describe('pbtxt parser: structure', () => {
  it('reads repeated fields written several times and in list form', () => {
    const c = parse(`
      input { name: "a" dims: 1 dims: [ 2, -3 ] dims: 0x10 }
      input [ { name: "b" }, { name: "c" dims: [] } ]
      input: [ < name: "d" > ]`);
    assert.deepEqual(c.input.map((i) => i.name), ['a', 'b', 'c', 'd']);
    assert.deepEqual(c.input[0]?.dims, [1n, 2n, -3n, 16n]);
    assert.deepEqual(c.input[2]?.dims, []);
  });

  it('accepts an optional colon and either brace style before messages', () => {
    const c = parse('version_policy: { latest < num_versions: 2 > } response_cache { enable: true }');
    assert.equal(c.versionPolicy?.policyChoice.case, 'latest');
    assert.equal(c.versionPolicy?.policyChoice.value?.numVersions, 2);
    assert.equal(c.responseCache?.enable, true);
  });

  it('accepts , and ; after fields', () => {
    const c = parse('name: "m"; max_batch_size: 3, input { name: "x", dims: 1; }');
    assert.equal(c.name, 'm');
    assert.equal(c.maxBatchSize, 3);
    assert.deepEqual(c.input[0]?.dims, [1n]);
  });

  it('reads map fields in block and list form, last duplicate key winning', () => {
    const c = parse(`
      parameters { key: "threads" value: { string_value: "4" } }
      parameters: [ { key: "mode" value { string_value: "fast" } }, { value < string_value: "x" > key: "k" } ]
      parameters { key: "threads" value: { string_value: "8" } }
      parameters { key: "empty" }
      metric_tags { key: "team" value: "vision" }
      cc_model_filenames [ { key: "8.6", value: "a.plan" } ]`);
    assert.deepEqual(Object.keys(c.parameters).sort(), ['empty', 'k', 'mode', 'threads']);
    assert.equal(c.parameters['threads']?.stringValue, '8');
    assert.equal(c.parameters['k']?.stringValue, 'x');
    assert.equal(c.parameters['empty']?.stringValue, '');
    assert.deepEqual(c.metricTags, { team: 'vision' });
    assert.deepEqual(c.ccModelFilenames, { '8.6': 'a.plan' });
  });

  it('reads integer map keys up to uint64 max and ensemble input/output maps', () => {
    const c = parse(`
      dynamic_batching { priority_queue_policy { key: 18446744073709551615 value { max_queue_size: 2 } }
                         priority_queue_policy { key: 2 value { timeout_action: DELAY } } }`);
    assert.equal(c.schedulingChoice.case, 'dynamicBatching');
    const policies = c.schedulingChoice.value?.priorityQueuePolicy ?? {};
    assert.equal(policies['18446744073709551615']?.maxQueueSize, 2);
    assert.equal(policies['2']?.timeoutAction, ModelQueuePolicy_TimeoutAction.DELAY);
    const e = parse('ensemble_scheduling { step { model_name: "m" input_map { key: "IN" value: "x" } output_map [{ key: "OUT", value: "y" }] } }');
    assert.equal(e.schedulingChoice.case, 'ensembleScheduling');
    const step = e.schedulingChoice.value?.step[0];
    assert.deepEqual(step?.inputMap, { IN: 'x' });
    assert.deepEqual(step?.outputMap, { OUT: 'y' });
  });

  it('sets one oneof member and rejects a second member naming both', () => {
    const c = parse('sequence_batching { oldest { max_candidate_sequences: 3 } }');
    assert.equal(c.schedulingChoice.case, 'sequenceBatching');
    assert.equal(c.schedulingChoice.value?.strategyChoice.case, 'oldest');
    assert.equal(
      parseError('dynamic_batching { }\nsequence_batching { }'),
      "config.pbtxt:2:1: fields 'dynamic_batching' and 'sequence_batching' are both set, but only one member of oneof 'scheduling_choice' may be set",
    );
    assert.match(
      parseError('sequence_batching { direct { } oldest { } }'),
      /config\.pbtxt:1:32: fields 'sequence_batching\.direct' and 'sequence_batching\.oldest' are both set/,
    );
    assert.match(
      parseError('model_warmup { inputs { key: "a" value { zero_data: true random_data: true } } }'),
      /'model_warmup\[0\]\.inputs\["a"\]\.value\.zero_data' and '.*\.random_data'.*oneof 'input_data_type'/,
    );
  });

  it('keeps a oneof member set to its default value', () => {
    const c = parse('model_warmup { inputs { key: "a" value { zero_data: false } } }');
    assert.equal(c.modelWarmup[0]?.inputs['a']?.inputDataType.case, 'zeroData');
  });
});

describe('pbtxt parser: values', () => {
  it('reads enums by name and by number', () => {
    const c = parse('input { data_type: TYPE_FP32 } input { data_type: 8 } instance_group { kind: KIND_CPU }');
    assert.equal(c.input[0]?.dataType, DataType.TYPE_FP32);
    assert.equal(c.input[1]?.dataType, DataType.TYPE_INT32);
    assert.equal(c.instanceGroup[0]?.kind, ModelInstanceGroup_Kind.CPU);
    // proto3 enums are open: an unnamed number is kept.
    assert.equal(parse('input { data_type: 99 }').input[0]?.dataType, 99);
    const closed = parseTextProto(FieldDescriptorProtoSchema, 'type: 9');
    assert.equal(closed.type, FieldDescriptorProto_Type.STRING);
    assert.match(parseError('type: 99', FieldDescriptorProtoSchema), /unknown value 99 for enum google\.protobuf\.FieldDescriptorProto\.Type/);
  });

  it('reads strings in either quote style with concatenation', () => {
    const c = parse(`name: 'sin' "gle" 'quoted' default_model_filename: "a\\"b\\x41\\101\\u00e9"`);
    assert.equal(c.name, 'singlequoted');
    assert.equal(c.defaultModelFilename, 'a"bAAé');
    assert.deepEqual(
      [...parseTextProto(BytesValueSchema, String.raw`value: "\000\377" "ab" '\x80'`).value],
      [0, 255, 97, 98, 128],
    );
    assert.match(parseError(String.raw`value: "\xff"`, StringValueSchema), /field 'value' has a string value that is not valid UTF-8/);
  });

  it('reads integers in decimal, hex and octal within each type range', () => {
    assert.equal(scalar(Int32ValueSchema, '-2147483648'), -2147483648);
    assert.equal(scalar(Int32ValueSchema, '0x7fffffff'), 2147483647);
    assert.equal(scalar(Int32ValueSchema, '017'), 15);
    assert.equal(scalar(Int32ValueSchema, '- 5'), -5);
    assert.equal(scalar(UInt32ValueSchema, '4294967295'), 4294967295);
    assert.equal(scalar(Int64ValueSchema, '-9223372036854775808'), -(2n ** 63n));
    assert.equal(scalar(UInt64ValueSchema, '0xFFFFFFFFFFFFFFFF'), 2n ** 64n - 1n);
    assert.match(parseError('value: 2147483648', Int32ValueSchema), /'value' is out of range for int32, got '2147483648'/);
    assert.match(parseError('value: -1', UInt32ValueSchema), /out of range for uint32, got '-1'/);
    assert.match(parseError('value: 18446744073709551616', UInt64ValueSchema), /out of range for uint64/);
    assert.match(parseError('value: 9223372036854775808', Int64ValueSchema), /out of range for int64/);
    assert.match(parseError('value: 1.5', Int32ValueSchema), /field 'value' expects an integer, got '1\.5'/);
    assert.match(parseError('value: inf', Int64ValueSchema), /expects an integer, got 'inf'/);
  });

  it('reads floats: exponents, leading dot, f suffix, inf and nan, integers', () => {
    assert.equal(scalar(DoubleValueSchema, '1e-3'), 0.001);
    assert.equal(scalar(DoubleValueSchema, '.5'), 0.5);
    assert.equal(scalar(DoubleValueSchema, '-2.5E2'), -250);
    assert.equal(scalar(DoubleValueSchema, '1.0f'), 1);
    assert.equal(scalar(DoubleValueSchema, '7'), 7);
    assert.equal(scalar(DoubleValueSchema, 'inf'), Infinity);
    assert.equal(scalar(DoubleValueSchema, '-Infinity'), -Infinity);
    assert.ok(Number.isNaN(scalar(DoubleValueSchema, 'NaN')));
    // float fields hold float32 values.
    assert.equal(scalar(FloatValueSchema, '0.1'), Math.fround(0.1));
    assert.match(parseError('value: 1e39', FloatValueSchema), /out of range for float/);
    assert.match(parseError('value: "1"', DoubleValueSchema), /expects a number, got '"1"'/);
    const c = parse('sequence_batching { control_input { control { fp32_false_true: [ -0.5, 1e0 ] } } }');
    const controls = c.schedulingChoice.case === 'sequenceBatching' ? c.schedulingChoice.value.controlInput : [];
    assert.deepEqual(controls[0]?.control[0]?.fp32FalseTrue, [-0.5, 1]);
  });

  it('reads bools in every spelling protobuf accepts', () => {
    for (const [text, value] of [['true', true], ['True', true], ['t', true], ['1', true], ['false', false], ['False', false], ['f', false], ['0', false]] as const) {
      assert.equal(scalar(BoolValueSchema, text), value, text);
    }
    assert.match(parseError('value: 2', BoolValueSchema), /expects true or false, got '2'/);
    assert.match(parseError('value: yes', BoolValueSchema), /expects true or false, got 'yes'/);
    assert.match(parseError('value: TRUE', BoolValueSchema), /expects true or false/);
  });
});

describe('pbtxt parser: errors', () => {
  it('names unknown fields with a suggestion, position and path', () => {
    assert.equal(
      parseError('name: "m"\n  max_batch_sizes: 4'),
      "config.pbtxt:2:3: unknown field 'max_batch_sizes' in inference.ModelConfig (did you mean 'max_batch_size'?)",
    );
    assert.equal(
      parseError('input { name: "a" }\ninput { dimz: 3 }'),
      "config.pbtxt:2:9: unknown field 'input[1].dimz' in inference.ModelInput (did you mean 'dims'?)",
    );
    assert.match(parseError('zzzzzz: 1'), /unknown field 'zzzzzz' in inference\.ModelConfig$/);
    assert.match(parseError('parameters { key: "a" valeu: { } }'), /unknown field 'parameters\["a"\]\.valeu' in map entry/);
  });

  it('names the field path and the offending value', () => {
    assert.equal(
      parseError('input {\n  name: "in"\n  dims: [ 1, "x" ]\n}'),
      `config.pbtxt:3:14: field 'input[0].dims' expects an integer, got '"x"'`,
    );
    assert.equal(
      parseError('output [ {}, { data_type: TYPE_FP33 } ]'),
      "config.pbtxt:1:27: field 'output[1].data_type' has unknown value 'TYPE_FP33' for enum inference.DataType (did you mean 'TYPE_FP32'?)",
    );
  });

  it('rejects a singular field given twice', () => {
    assert.equal(parseError('max_batch_size: 1\nmax_batch_size: 2'), "config.pbtxt:2:1: field 'max_batch_size' is specified more than once");
    assert.match(parseError('response_cache { } response_cache { }'), /'response_cache' is specified more than once/);
    assert.match(parseError('parameters { key: "a" key: "b" }'), /'parameters\["a"\]\.key' is specified more than once/);
  });

  it('reports syntax errors', () => {
    assert.match(parseError('name "x"'), /1:6: expected ':' after field 'name', got '"x"'/);
    assert.match(parseError('input { name: "a"'), /expected '}', got end of input/);
    assert.match(parseError('input { name: "a" >'), /expected a field name, got '>'/);
    assert.match(parseError('version_policy: 3'), /field 'version_policy' expects a message \('\{'\), got '3'/);
    assert.match(parseError('name { }'), /expected ':' after field 'name', got '\{'/);
    assert.match(parseError('input { dims: [ 1, 2, ] }'), /field 'input\[0\]\.dims' expects an integer, got '\]'/);
    assert.match(parseError('input { dims: [ 1 2 ] }'), /expected ',' between list elements, got '2'/);
    assert.match(parseError('max_batch_size:'), /expects an integer, got 'end of input'/);
    assert.match(parseError('"name": 1'), /expected a field name, got '"name"'/);
    assert.match(parseError('name: "a\\q"'), /^config\.pbtxt:1:9: invalid escape sequence/);
  });

  it('limits nesting depth', () => {
    const deep = 'model_repository_agents { '.repeat(3) + '} '.repeat(3);
    assert.match(parseError(deep), /unknown field 'model_repository_agents\.model_repository_agents'/);
    const nested = 'input { reshape { } }';
    assert.doesNotThrow(() => parseTextProto(ModelConfigSchema, nested, { maxDepth: 2 }));
    assert.throws(() => parseTextProto(ModelConfigSchema, nested, { maxDepth: 1 }), /nested more than 1 levels deep/);
  });

  it('uses <text> when no file name is given', () => {
    assert.throws(() => parseTextProto(ModelConfigSchema, 'nope: 1'), /^ServerError: <text>:1:1: unknown field 'nope'/);
  });

  it('parses an empty or comment-only text to an empty message', () => {
    assert.equal(parse('').name, '');
    assert.equal(parse('# nothing here\n\n').input.length, 0);
  });
});
