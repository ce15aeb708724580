import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/paths.js';
import { ClientTestServer } from './client-server.js';

const README = join(REPO_ROOT, 'packages', 'client', 'README.md');

/** The fenced block of `language` that follows the `## Example` heading. */
function exampleBlock(language: string): string {
  const section = readFileSync(README, 'utf8').split('## Example')[1]!;
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(section);
  assert.ok(match, `no ${language} block under ## Example`);
  return match[1]!;
}

/**
 * The client README's example, run as written by node against a real server: only the addresses
 * (:8000 and :8001) are pointed at the test server's ephemeral ports. Its output must be what the
 * README says it prints.
 */
describe('the @nereid/client README example', () => {
  const server = new ClientTestServer();
  before(() => server.start());
  after(() => server.stop());

  it('runs and prints what the README shows', async () => {
    const code = exampleBlock('js');
    assert.ok(code.includes("'http://127.0.0.1:8000'") && code.includes("'127.0.0.1:8001'"));
    const pointed = code.replace("'http://127.0.0.1:8000'", `'${server.httpUrl}'`).replace("'127.0.0.1:8001'", `'${server.grpcAddress}'`);
    // Inside the repository, so '@nereid/client' resolves as it does for an installed package.
    const file = join(REPO_ROOT, 'packages', 'client', `readme-example-${process.pid}.mjs`);
    writeFileSync(file, pointed);
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 20_000 });
      assert.equal(stdout, exampleBlock('text'));
    } finally {
      rmSync(file, { force: true });
    }
  });
});
