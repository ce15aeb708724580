import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerError } from '../../../src/errors/index.js';
import { isS3Url, localPathOf, objectUrl, parseS3Url } from '../../../src/repository/s3-url.js';

const parsed = (url: string): unknown => {
  const { endpoint, bucket, prefix } = parseS3Url(url);
  return { endpoint, bucket, prefix };
};

test('s3:// paths parse as Triton parses them: AWS form, host:port endpoint, explicit scheme', () => {
  assert.equal(isS3Url('s3://bucket'), true);
  assert.equal(isS3Url('/models'), false);
  assert.equal(isS3Url('S3://bucket'), false, 'the prefix is case-sensitive, as in Triton');
  assert.deepEqual(parsed('s3://bucket/path/to/repo'), { endpoint: undefined, bucket: 'bucket', prefix: 'path/to/repo/' });
  assert.deepEqual(parsed('s3://bucket'), { endpoint: undefined, bucket: 'bucket', prefix: '' });
  assert.deepEqual(parsed('s3://bucket/'), { endpoint: undefined, bucket: 'bucket', prefix: '' });
  assert.deepEqual(parsed('s3://localhost:9000/bucket/path'), { endpoint: 'http://localhost:9000', bucket: 'bucket', prefix: 'path/' });
  assert.deepEqual(parsed('s3://10.0.0.7:4572/demo-bucket1.0'), { endpoint: 'http://10.0.0.7:4572', bucket: 'demo-bucket1.0', prefix: '' });
  assert.deepEqual(parsed('s3://https://minio.internal:443/models/a/b'), { endpoint: 'https://minio.internal:443', bucket: 'models', prefix: 'a/b/' });
  assert.deepEqual(parsed('s3://http://host:80/b'), { endpoint: 'http://host:80', bucket: 'b', prefix: '' });
  // CleanPath: leading, trailing and repeated slashes go.
  assert.deepEqual(parsed('s3:////bucket//a///b//'), { endpoint: undefined, bucket: 'bucket', prefix: 'a/b/' });
  assert.deepEqual(parsed('s3://host:1//bucket/a/'), { endpoint: 'http://host:1', bucket: 'bucket', prefix: 'a/' });
  // Keys may hold what Triton's endpoint regex would not (spaces, '+'): they are kept as they are.
  assert.deepEqual(parsed('s3://host:1/bucket/my models+v2'), { endpoint: 'http://host:1', bucket: 'bucket', prefix: 'my models+v2/' });
});

test('what cannot name a bucket is refused with Triton\'s texts', () => {
  const refused = (url: string, code: string, message: string | RegExp): void => {
    assert.throws(
      () => parseS3Url(url),
      (error: unknown) => error instanceof ServerError && error.code === code && (typeof message === 'string' ? error.message === message : message.test(error.message)),
      url,
    );
  };
  refused('s3://', 'INVALID_ARG', "Invalid bucket name: ''");
  refused('s3:///', 'INVALID_ARG', "Invalid bucket name: '/'");
  refused('s3://https://', 'INVALID_ARG', "Invalid bucket name: ''");
  refused('s3://host:9000', 'INTERNAL', 'No bucket name found in path: s3://host:9000');
  refused('s3://host:9000/', 'INTERNAL', 'No bucket name found in path: s3://host:9000/');
  refused('s3://host:9000/Upper/x', 'INVALID_ARG', "Invalid bucket name: 'Upper' in s3://host:9000/Upper/x");
  refused('s3://Bad Bucket/x', 'INVALID_ARG', /^Invalid bucket name: 'Bad Bucket'/);
  refused('s3://https://bucket/path', 'INVALID_ARG', 'the https:// in s3://https://bucket/path must be followed by host:port, then the bucket');
});

test('object keys map to paths inside the local copy, or to nothing', () => {
  const location = parseS3Url('s3://bucket/repo');
  assert.deepEqual(localPathOf(location, 'repo/simple/1/model.onnx'), { segments: ['simple', '1', 'model.onnx'], directory: false });
  assert.deepEqual(localPathOf(location, 'repo/simple/2/'), { segments: ['simple', '2'], directory: true });
  for (const key of ['repo/', 'other/simple/config.pbtxt', 'repo/../escape', 'repo/a/../../b', 'repo/a/./b', 'repo/a//b', 'repo/nul\0', 'repo//']) {
    assert.equal(localPathOf(location, key), undefined, key);
  }
  // The prefix ends at a folder: 'repository/x' is not inside 'repo/'.
  assert.equal(localPathOf(location, 'repository/x'), undefined);
  const root = parseS3Url('s3://bucket');
  assert.deepEqual(localPathOf(root, 'simple/config.pbtxt'), { segments: ['simple', 'config.pbtxt'], directory: false });
  assert.equal(objectUrl(parseS3Url('s3://h:1/bucket/repo'), 'repo/a'), 's3://bucket/repo/a');
});
