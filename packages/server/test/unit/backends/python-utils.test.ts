import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { stubFolder } from '../../../src/backends/python/stub-files.js';
import { PYTHON_FIXTURES } from '../../helpers/python-repository.js';

it('triton_python_backend_utils: BYTES, Tensor and DLPack, responses, errors, ModelConfig checks with Triton\'s texts', () => {
  const output = execFileSync('/usr/bin/python3', [join(PYTHON_FIXTURES, 'pb_utils_checks.py')], {
    env: { ...process.env, PYTHONPATH: stubFolder() },
    encoding: 'utf8',
  });
  assert.equal(output.trim(), 'ok');
});
