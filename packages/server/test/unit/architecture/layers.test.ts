import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';

/** The layers of docs/architecture.md: a module may import only from its own layer or below. */
const LAYER: Readonly<Record<string, number>> = {
  errors: 0,
  util: 0,
  tensor: 1,
  config: 1,
  metrics: 1,
  observability: 1,
  shm: 1,
  request: 2,
  backends: 3,
  cache: 3,
  scheduler: 4,
  model: 5,
  repository: 6,
  core: 7,
  frontends: 8,
  cli: 9,
};

/** Frontends talk to the core facade and to types; never to the layers behind it. */
const FRONTEND_MAY_IMPORT = new Set(['core', 'errors', 'request', 'tensor', 'observability', 'util', 'frontends']);

const SRC = join(REPO_ROOT, 'packages', 'server', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function area(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

test('every import goes down the layers (or stays level), and frontends only reach the facade', () => {
  const violations: string[] = [];
  for (const file of sources(SRC)) {
    const from = area(file);
    if (from === 'index.ts') continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = area(resolve(dirname(file), match[1]!));
      if (target === from || target === 'index.ts') continue;
      const tooHigh = (LAYER[target] ?? Infinity) > (LAYER[from] ?? -1);
      const frontendLeak = from === 'frontends' && !FRONTEND_MAY_IMPORT.has(target);
      if (tooHigh || frontendLeak) violations.push(`${relative(SRC, file)} imports ${target}/ (${match[1]})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('every source folder has a layer', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.deepEqual(folders.filter((name) => LAYER[name] === undefined), []);
});
