import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelVersion, requestedVersion } from '../../../src/request/model-version.js';

const UNPARSABLE = (text: string): RegExp =>
  new RegExp(`^failed to get model version from specified version string '${text}' \\(details: stol\\), version should be an integral value > 0$`);

test('versions read as std::stol reads them, exactly, as int64', () => {
  assert.equal(parseModelVersion(''), undefined, "'' leaves the choice to the version policy");
  assert.equal(parseModelVersion('1'), 1n);
  assert.equal(parseModelVersion('007'), 7n);
  assert.equal(parseModelVersion(' \t+3'), 3n, 'leading whitespace and a plus sign');
  assert.equal(parseModelVersion('2abc'), 2n, 'what follows the digits is ignored, as stol ignores it');
  assert.equal(parseModelVersion('9223372036854775807'), 9223372036854775807n, 'int64 max, not rounded');
  assert.equal(parseModelVersion('9007199254740993'), 9007199254740993n, 'beyond 2^53, not rounded');
  assert.equal(requestedVersion('0012'), '12');
  assert.equal(requestedVersion(''), '');
});

test("malformed versions get Triton's INVALID_ARG texts", () => {
  for (const text of ['wrong_specification', 'abc', ' ', '+', '-', 'x1']) {
    assert.throws(() => parseModelVersion(text), { code: 'INVALID_ARG', message: UNPARSABLE(text.replace('+', '\\+')) });
  }
  assert.throws(() => parseModelVersion('9223372036854775808'), { code: 'INVALID_ARG', message: UNPARSABLE('9223372036854775808') });
  assert.throws(() => parseModelVersion('-1'), {
    code: 'INVALID_ARG',
    message: "invalid model version specified '-1' , version should be an integral value > 0",
  });
  assert.throws(() => parseModelVersion('-9223372036854775808'), { code: 'INVALID_ARG', message: /^invalid model version specified/ });
});

test('a huge version string is quoted clipped', () => {
  const text = 'v'.repeat(100_000);
  assert.throws(
    () => parseModelVersion(text),
    (error: Error) => error.message.length < 400 && error.message.includes(`${'v'.repeat(256)}...[100000 chars]'`),
  );
});
