import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_MODELS, FIXTURE_MODELS, REPO_ROOT } from './paths.js';
import { DATATYPE_MODELS, buildConformanceRepository } from './test-repository.js';

/** The JavaScript models the tests use (`test/fixtures/javascript/<name>.js|ts`). */
export const JAVASCRIPT_FIXTURES = join(REPO_ROOT, 'packages', 'server', 'test', 'fixtures', 'javascript');

/**
 * Writes `<repo>/<name>/1/model.<ext>` from a fixture file (a name in test/fixtures/javascript, or a
 * path), the extra files beside it, and config.pbtxt when one is given.
 */
export function addJavaScriptModel(repo: string, name: string, fixture: string, config: string | undefined, extras: readonly string[] = []): string {
  const dir = join(repo, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '1'), { recursive: true });
  const source = fixture.includes('/') ? fixture : join(JAVASCRIPT_FIXTURES, fixture);
  copyFileSync(source, join(dir, '1', `model${source.slice(source.lastIndexOf('.'))}`));
  for (const extra of extras) copyFileSync(join(JAVASCRIPT_FIXTURES, extra), join(dir, '1', extra));
  if (config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), config);
  return dir;
}

/**
 * The conformance repository with its core models served by the JavaScript backend: `simple` (the
 * add_sub_js example's model.ts with simple's config), an identity model per datatype (the ONNX
 * fixtures' configs with `backend: "javascript"`) and `runtime_error` (execute throws).
 */
export function buildJavaScriptConformanceRepository(): string {
  const repo = buildConformanceRepository();
  const simple = readFileSync(join(EXAMPLE_MODELS, 'simple', 'config.pbtxt'), 'utf8');
  addJavaScriptModel(repo, 'simple', join(EXAMPLE_MODELS, 'add_sub_js', '1', 'model.ts'), toJavaScript(simple));
  for (const name of Object.values(DATATYPE_MODELS)) {
    addJavaScriptModel(repo, name, 'identity.js', toJavaScript(readFileSync(join(FIXTURE_MODELS, name, 'config.pbtxt'), 'utf8')));
  }
  addJavaScriptModel(
    repo,
    'runtime_error',
    'raise_error.js',
    'backend: "javascript"\nmax_batch_size: 8\ninput [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n' +
      'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n',
  );
  return repo;
}

/** An ONNX model's config served by the JavaScript backend instead. */
export function toJavaScript(config: string): string {
  return config.replace(/platform:\s*"onnxruntime_onnx"/, 'backend: "javascript"');
}
