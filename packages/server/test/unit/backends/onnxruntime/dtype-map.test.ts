import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATATYPES } from '@nereid/protocol';
import { DataType } from '@nereid/protocol/generated/model_config_pb';
import {
  configTypeName,
  configTypeNameOfOnnx,
  configTypeOf,
  datatypeOfConfig,
  datatypeOfOnnx,
  onnxTypeOf,
} from '../../../../src/backends/onnxruntime/dtype-map.js';

describe('onnxruntime dtype map', () => {
  it('maps every protocol datatype to an ONNX type and back', () => {
    const seen = new Set<string>();
    for (const datatype of DATATYPES) {
      const onnx = onnxTypeOf(datatype);
      assert.ok(!seen.has(onnx), `${onnx} used twice`);
      seen.add(onnx);
      assert.equal(datatypeOfOnnx(onnx), datatype);
      assert.equal(datatypeOfConfig(configTypeOf(datatype)), datatype);
    }
  });

  it('uses the names Triton and onnxruntime-node use', () => {
    assert.equal(onnxTypeOf('FP16'), 'float16');
    assert.equal(onnxTypeOf('BF16'), 'bfloat16');
    assert.equal(onnxTypeOf('BOOL'), 'bool');
    assert.equal(onnxTypeOf('BYTES'), 'string');
    assert.equal(configTypeOf('BYTES'), DataType.TYPE_STRING);
    assert.equal(configTypeName(DataType.TYPE_FP32), 'TYPE_FP32');
    assert.equal(configTypeNameOfOnnx('string'), 'TYPE_STRING');
    assert.equal(configTypeNameOfOnnx('bfloat16'), 'TYPE_BF16');
  });

  it('has no datatype for types Triton cannot name', () => {
    assert.equal(datatypeOfOnnx('int4'), undefined);
    assert.equal(datatypeOfOnnx(''), undefined);
    assert.equal(datatypeOfConfig(DataType.TYPE_INVALID), undefined);
    assert.equal(configTypeNameOfOnnx('uint4'), 'TYPE_INVALID');
  });
});
