import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const manifest = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { dependencies?: Record<string, string> };

/** Logs every ESM module the loader resolves (runs on the hooks thread). */
const RESOLVE_HOOK = `export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  process.stderr.write('ESM ' + result.url + '\\n');
  return result;
}`;

describe('@nereid/client stays a client', () => {
  it('depends on the protocol, protobuf-es and grpc-js only (not the server, not ONNX Runtime)', () => {
    // dist/test/ → the package root is two levels up.
    assert.deepEqual(Object.keys(manifest('../../package.json').dependencies ?? {}).sort(), ['@bufbuild/protobuf', '@grpc/grpc-js', '@nereid/protocol']);
    assert.deepEqual(Object.keys(manifest('../../../protocol/package.json').dependencies ?? {}), ['@bufbuild/protobuf']);
  });

  it('importing it loads no module of the server or of onnxruntime (ESM and CommonJS)', () => {
    const script = `
      import { register, createRequire } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(RESOLVE_HOOK)}));
      await import('@nereid/client');
      for (const file of Object.keys(createRequire(import.meta.url).cache)) process.stderr.write('CJS ' + file + '\\n');
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../../', import.meta.url), encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const loaded = result.stderr.split('\n').filter((line) => line.startsWith('ESM ') || line.startsWith('CJS '));
    // A check that sees nothing proves nothing: the client's own modules and grpc-js must show.
    assert.ok(loaded.some((line) => line.startsWith('ESM ') && line.includes('client/dist/src/grpc-client.js')), result.stderr);
    assert.ok(loaded.some((line) => line.startsWith('CJS ') && line.includes('@grpc/grpc-js')), result.stderr);
    assert.deepEqual(loaded.filter((line) => /onnxruntime|packages\/server\//.test(line)), []);
  });
});
