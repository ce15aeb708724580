#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/test/**/*.test.js) with Node's test runner.
// Node 20 takes no globs, so the files are listed here. Extra arguments are passed to `node --test`.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';

/** packages/<pkg>/dist/test/a/b.test.js → packages/<pkg>/test/a/b.test.ts */
function sourceOf(pkg, file) {
  const inDist = file.slice(join('packages', pkg, 'dist').length + 1);
  return join('packages', pkg, inDist.replace(/\.js$/, '.ts'));
}

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, out);
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = [];
for (const pkg of readdirSync('packages')) {
  const testDir = join('packages', pkg, 'dist', 'test');
  if (!existsSync(testDir)) continue;
  // tsc never deletes outputs: a compiled test whose source is gone is stale, not a test.
  const compiled = collect(testDir, []);
  files.push(...compiled.filter((file) => existsSync(sourceOf(pkg, file))));
}
files.sort();
if (files.length === 0) {
  console.error('run-tests: no compiled test files found; run `npm run build` first');
  process.exit(1);
}
const concurrency = Math.max(2, availableParallelism());
const result = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...process.argv.slice(2), ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
