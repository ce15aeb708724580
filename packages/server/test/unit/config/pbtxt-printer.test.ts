import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import {
  BytesValueSchema,
  DoubleValueSchema,
  FloatValueSchema,
  Int64ValueSchema,
  StringValueSchema,
  UInt64ValueSchema,
} from '@bufbuild/protobuf/wkt';
import { DataType, ModelConfigSchema } from '@nereid/protocol/generated/model_config_pb';
import { parseTextProto } from '../../../src/config/pbtxt/parser.js';
import { printTextProto, quoteBytes, quoteString } from '@nereid/protocol';

function roundTrip<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): MessageShape<Desc> {
  const text = printTextProto(schema, message);
  const again = parseTextProto(schema, text, { fileName: 'printed.pbtxt' });
  assert.ok(equals(schema, message, again), `round trip changed the message:\n${text}`);
  assert.equal(printTextProto(schema, again), text);
  return again;
}

describe('pbtxt printer', () => {
  it('prints in field-number order with two-space indent like protoc', () => {
    const config = parseTextProto(ModelConfigSchema, `
      backend: "onnxruntime"
      name: "clf"
      max_batch_size: 8
      input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 3 ] reshape: { shape: [] } } ]
      instance_group [ { kind: KIND_CPU count: 2 } ]
      parameters { key: "b" value { string_value: "2" } }
      parameters { key: "a" value { string_value: "1" } }
      dynamic_batching { }
      version_policy { all { } }`);
    assert.equal(
      printTextProto(ModelConfigSchema, config),
      [
        'name: "clf"',
        'version_policy {',
        '  all {',
        '  }',
        '}',
        'max_batch_size: 8',
        'input {',
        '  name: "x"',
        '  data_type: TYPE_FP32',
        '  dims: -1',
        '  dims: 3',
        '  reshape {',
        '  }',
        '}',
        'instance_group {',
        '  count: 2',
        '  kind: KIND_CPU',
        '}',
        'dynamic_batching {',
        '}',
        'parameters {',
        '  key: "a"',
        '  value {',
        '    string_value: "1"',
        '  }',
        '}',
        'parameters {',
        '  key: "b"',
        '  value {',
        '    string_value: "2"',
        '  }',
        '}',
        'backend: "onnxruntime"',
        '',
      ].join('\n'),
    );
    roundTrip(ModelConfigSchema, config);
  });

  it('prints only set fields, but a oneof member even at its default', () => {
    assert.equal(printTextProto(ModelConfigSchema, create(ModelConfigSchema)), '');
    const config = parseTextProto(ModelConfigSchema, 'max_batch_size: 0 model_warmup { inputs { key: "i" value { zero_data: false } } }');
    assert.equal(
      printTextProto(ModelConfigSchema, config),
      'model_warmup {\n  inputs {\n    key: "i"\n    value {\n      zero_data: false\n    }\n  }\n}\n',
    );
    roundTrip(ModelConfigSchema, config);
  });

  it('sorts integer map keys numerically', () => {
    const config = parseTextProto(ModelConfigSchema, `dynamic_batching {
      priority_queue_policy { key: 10 value { max_queue_size: 1 } }
      priority_queue_policy { key: 18446744073709551615 value { } }
      priority_queue_policy { key: 9 value { } } }`);
    const keys = [...printTextProto(ModelConfigSchema, config).matchAll(/key: (\d+)/g)].map((m) => m[1]);
    assert.deepEqual(keys, ['9', '10', '18446744073709551615']);
    roundTrip(ModelConfigSchema, config);
  });

  it('prints an enum number it cannot name and reads it back', () => {
    const config = create(ModelConfigSchema, { input: [{ name: 'x', dataType: 99 as DataType }] });
    assert.match(printTextProto(ModelConfigSchema, config), /data_type: 99/);
    roundTrip(ModelConfigSchema, config);
  });

  it('escapes strings so they read back exactly', () => {
    const value = `a"b'c\\d\n\t\r\u0001\u007fé😀`;
    assert.equal(quoteString(value), String.raw`"a\"b\'c\\d\n\t\r\001\177é😀"`);
    roundTrip(StringValueSchema, create(StringValueSchema, { value }));
    const config = create(ModelConfigSchema, { name: 'q"uote', parameters: { 'k\n"': { stringValue: '\\x00' } } });
    roundTrip(ModelConfigSchema, config);
  });

  it('escapes bytes including NUL and invalid UTF-8', () => {
    const bytes = new Uint8Array([0, 255, 10, 34, 65, 0x80, 0xc3, 0xa9, 0x31]);
    assert.equal(quoteBytes(bytes), String.raw`"\000\377\n\"A\200\303\2511"`);
    const again = roundTrip(BytesValueSchema, create(BytesValueSchema, { value: bytes }));
    assert.deepEqual([...again.value], [...bytes]);
  });

  it('prints floats with the shortest digits that read back', () => {
    const float = (v: number) => printTextProto(FloatValueSchema, create(FloatValueSchema, { value: v }));
    assert.equal(float(Math.fround(0.1)), 'value: 0.1\n');
    assert.equal(float(Math.fround(3.4028234e38)), 'value: 3.4028235e+38\n');
    assert.equal(float(Infinity), 'value: inf\n');
    assert.equal(float(-Infinity), 'value: -inf\n');
    assert.equal(float(NaN), 'value: nan\n');
    assert.equal(float(-0), 'value: -0\n');
    // A value set from code that is not a float32 keeps all its digits.
    assert.equal(float(0.1), 'value: 0.1\n');
    assert.equal(float(1 / 3), `value: ${1 / 3}\n`);
    for (const v of [0.1, 1e-7, -2.5, -0, 16777217, 3.4028234e38, Infinity, -Infinity]) {
      roundTrip(FloatValueSchema, create(FloatValueSchema, { value: Math.fround(v) }));
    }
    for (const v of [0.1, 1e-7, 1e21, -0, 5e-324, Number.MAX_VALUE, -Infinity]) {
      const again = roundTrip(DoubleValueSchema, create(DoubleValueSchema, { value: v }));
      assert.ok(Object.is(again.value, v), `double ${v}`);
    }
    const nan = parseTextProto(DoubleValueSchema, printTextProto(DoubleValueSchema, create(DoubleValueSchema, { value: NaN })));
    assert.ok(Number.isNaN(nan.value));
  });

  it('round-trips 64-bit extremes', () => {
    roundTrip(UInt64ValueSchema, create(UInt64ValueSchema, { value: 2n ** 64n - 1n }));
    roundTrip(Int64ValueSchema, create(Int64ValueSchema, { value: -(2n ** 63n) }));
    assert.equal(printTextProto(Int64ValueSchema, create(Int64ValueSchema, { value: -(2n ** 63n) })), 'value: -9223372036854775808\n');
  });
});
