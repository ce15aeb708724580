import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  ModelVersionPolicySchema,
  ModelVersionPolicy_AllSchema,
  ModelVersionPolicy_LatestSchema,
  ModelVersionPolicy_SpecificSchema,
} from '@nereid/protocol/generated/model_config_pb';
import { listVersions, scanRepositories } from '../../../src/repository/model-dir.js';
import { selectVersions } from '../../../src/repository/version-policy.js';

test('only folders named by a number without a leading zero are versions', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nereid-versions-'));
  for (const name of ['1', '2', '10', '007', '0', 'abc', 'v3']) await mkdir(join(dir, name));
  await writeFile(join(dir, '5'), 'a file, not a version');
  assert.deepEqual(await listVersions(dir), [1n, 2n, 10n]);
});

test('version policies pick latest N, all, or specific versions', () => {
  const available = [1n, 2n, 3n, 7n];
  const latest = (n: number) =>
    create(ModelVersionPolicySchema, { policyChoice: { case: 'latest', value: create(ModelVersionPolicy_LatestSchema, { numVersions: n }) } });
  assert.deepEqual(selectVersions(undefined, available), [7n]);
  assert.deepEqual(selectVersions(latest(2), available), [3n, 7n]);
  assert.deepEqual(
    selectVersions(create(ModelVersionPolicySchema, { policyChoice: { case: 'all', value: create(ModelVersionPolicy_AllSchema) } }), available),
    available,
  );
  const specific = create(ModelVersionPolicySchema, {
    policyChoice: { case: 'specific', value: create(ModelVersionPolicy_SpecificSchema, { versions: [2n, 9n] }) },
  });
  assert.deepEqual(selectVersions(specific, available), [2n]);
});

test('a model name present in two repositories is reported as a duplicate, not served', async () => {
  const a = await mkdtemp(join(tmpdir(), 'nereid-repo-a-'));
  const b = await mkdtemp(join(tmpdir(), 'nereid-repo-b-'));
  await mkdir(join(a, 'shared'));
  await mkdir(join(b, 'shared'));
  await mkdir(join(a, 'only_a'));
  await mkdir(join(b, '.hidden'));
  const scan = await scanRepositories([a, b]);
  assert.deepEqual([...scan.models.keys()], ['only_a']);
  assert.deepEqual(scan.duplicates.get('shared'), [join(a, 'shared'), join(b, 'shared')]);
});
