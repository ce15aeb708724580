import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync, gzipSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  compressBody,
  decompressBody,
  requestCompression,
  responseCompression,
} from '../../../../src/frontends/http/compression.js';

describe('requestCompression', () => {
  it('knows identity, gzip and deflate, and nothing else', () => {
    assert.equal(requestCompression(undefined), 'identity');
    assert.equal(requestCompression('identity'), 'identity');
    assert.equal(requestCompression('gzip'), 'gzip');
    assert.equal(requestCompression('deflate'), 'deflate');
    assert.equal(requestCompression('br'), undefined);
    assert.equal(requestCompression('compress'), undefined);
  });
});

describe('responseCompression', () => {
  it("picks the highest q-value among identity, gzip and deflate, the first on ties (Triton's rule)", () => {
    assert.equal(responseCompression(undefined), 'identity');
    assert.equal(responseCompression('gzip'), 'gzip');
    assert.equal(responseCompression('deflate, gzip'), 'deflate');
    assert.equal(responseCompression('gzip;q=0.5, deflate;q=0.8'), 'deflate');
    assert.equal(responseCompression('gzip;q=0'), 'identity');
    assert.equal(responseCompression('br, zstd'), 'identity');
    assert.equal(responseCompression('identity, gzip;q=0.9'), 'identity');
  });
});

describe('decompressBody / compressBody', () => {
  const payload = Buffer.from(JSON.stringify({ inputs: new Array(200).fill('data') }));

  it('inflates gzip and zlib bodies', async () => {
    assert.deepEqual(await decompressBody(gzipSync(payload), 1 << 20), payload);
    assert.deepEqual(await decompressBody(deflateSync(payload), 1 << 20), payload);
  });

  it('stops at the size limit with Triton wording', async () => {
    await assert.rejects(decompressBody(gzipSync(payload), 100), {
      message: 'Decompressed data size exceeds the maximum allowed value of 100 bytes. Use --http-max-input-size to increase the limit.',
    });
  });

  it('refuses empty and corrupt bodies as client errors', async () => {
    await assert.rejects(decompressBody(Buffer.alloc(0), 100), { code: 'INVALID_ARG', message: 'nothing to be decompressed' });
    await assert.rejects(decompressBody(Buffer.from('not gzip at all'), 100), { code: 'INVALID_ARG' });
  });

  it('compresses chunked bodies, small and large', async () => {
    const big = Buffer.alloc(200_000, 7);
    assert.deepEqual(gunzipSync(await compressBody([payload, big], payload.length + big.length, 'gzip')), Buffer.concat([payload, big]));
    assert.deepEqual(inflateSync(await compressBody([payload], payload.length, 'deflate')), payload);
  });
});
