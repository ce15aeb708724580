import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE_MODELS, FIXTURE_MODELS, REPO_ROOT } from './paths.js';
import { DATATYPE_MODELS, buildConformanceRepository } from './test-repository.js';

/** The Python models the tests use (`test/fixtures/python/<name>.py`). */
export const PYTHON_FIXTURES = join(REPO_ROOT, 'packages', 'server', 'test', 'fixtures', 'python');

/**
 * Writes `<repo>/<name>/1/model.py` from a fixture (`test/fixtures/python/<fixture>.py`, or a path to
 * a model.py), and config.pbtxt when one is given.
 */
export function addPythonModel(repo: string, name: string, fixture: string, config: string | undefined): string {
  const dir = join(repo, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '1'), { recursive: true });
  copyFileSync(fixture.endsWith('.py') ? fixture : join(PYTHON_FIXTURES, `${fixture}.py`), join(dir, '1', 'model.py'));
  if (config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), config);
  return dir;
}

/**
 * The conformance repository with its core models served by the Python backend: `simple` (add and
 * subtract in Python), an identity model per datatype (the ONNX fixtures' configs with
 * `backend: "python"`) and `runtime_error` (execute raises). The other models stay ONNX.
 */
export function buildPythonConformanceRepository(): string {
  const repo = buildConformanceRepository();
  const simple = readFileSync(join(EXAMPLE_MODELS, 'simple', 'config.pbtxt'), 'utf8');
  // The example add_sub model.py: sum and difference in the configured output datatypes.
  addPythonModel(repo, 'simple', join(EXAMPLE_MODELS, 'add_sub', '1', 'model.py'), toPython(simple));
  for (const name of Object.values(DATATYPE_MODELS)) {
    addPythonModel(repo, name, 'identity', toPython(readFileSync(join(FIXTURE_MODELS, name, 'config.pbtxt'), 'utf8')));
  }
  addPythonModel(
    repo,
    'runtime_error',
    'raise_error',
    'backend: "python"\nmax_batch_size: 8\ninput [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n' +
      'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n',
  );
  return repo;
}

/** An ONNX model's config served by the Python backend instead. */
function toPython(config: string): string {
  return config.replace(/platform:\s*"onnxruntime_onnx"/, 'backend: "python"');
}
