import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

/**
 * koffi unloads a library when its handle is garbage-collected; every OrtApi function pointer then
 * dangles and the next call crashes the process. In a fresh process (no run thread holding a handle
 * of its own), the C API must still answer after a full collection.
 */
describe('ONNX Runtime library lifetime', () => {
  it('keeps the runtime loaded through a full garbage collection', () => {
    const api = new URL('../../../../src/backends/onnxruntime/native/ort-api.js', import.meta.url).href;
    const script = [
      `const { ortApi } = await import(${JSON.stringify(api)});`,
      'const api = ortApi();',
      'const before = api.GetBuildInfoString();',
      'for (let i = 0; i < 3; i++) globalThis.gc();',
      'const out = new BigUint64Array(new ArrayBuffer(8));',
      'if (api.CreateSessionOptions(out) !== null || out[0] === 0n) throw new Error("CreateSessionOptions failed");',
      'api.ReleaseSessionOptions(out[0]);',
      'if (api.GetBuildInfoString() !== before) throw new Error("build info changed");',
      'console.log("alive");',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, null, `the process died of ${child.signal}: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /alive/);
  });
});
