import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOL,
  FlagValueError,
  INT_OR_BOOL,
  PORT,
  RATE_LIMIT_RESOURCE,
  choice,
  float,
  groupSetting,
  int,
  pair,
  restricted,
  type ValueSpec,
} from '../../../src/cli/flag-values.js';

function rejects<T>(spec: ValueSpec<T>, raw: string, expected: RegExp): void {
  assert.throws(
    () => spec.parse(raw),
    (error: unknown) => error instanceof FlagValueError && expected.test(error.expected),
    `${raw} should be rejected`,
  );
}

test('BOOL: Triton spellings only', () => {
  assert.deepEqual(['true', 'On', '1', 'false', 'OFF', '0'].map((s) => BOOL.parse(s)), [true, true, true, false, false, false]);
  for (const bad of ['yes', 'no', '2', '', ' true', 't']) rejects(BOOL, bad, /a boolean/);
});

test('int: whole decimal numbers in range, nothing trailing', () => {
  assert.equal(int().parse('-42'), -42);
  assert.equal(int().parse('+7'), 7);
  assert.equal(PORT.parse('65535'), 65535);
  for (const bad of ['', '1.5', '1e3', '0x10', '12abc', ' 1', '65536', '-1']) rejects(PORT, bad, /^an integer 0-65535$/);
  rejects(int(), '2147483648', /^an integer$/);
  rejects(int(1), '0', /^an integer >= 1$/);
  assert.equal(int(0, Number.MAX_SAFE_INTEGER).parse('68719476736'), 68719476736);
});

test('INT_OR_BOOL: integers, or true/false as 1/0', () => {
  assert.deepEqual(['5', 'TRUE', 'False'].map((s) => INT_OR_BOOL.parse(s)), [5, 1, 0]);
  rejects(INT_OR_BOOL, 'on', /an integer/);
});

test('float: decimal numbers at or above the minimum', () => {
  assert.deepEqual(['2000', '0.5', '.5', '6.0', '1e3'].map((s) => float(0).parse(s)), [2000, 0.5, 0.5, 6, 1000]);
  for (const bad of ['', 'abc', '-1', 'Infinity', '1.2.3']) rejects(float(0), bad, /a number >= 0/);
});

test('choice: canonical spelling back, case folded only when asked', () => {
  const mode = choice(['none', 'poll', 'explicit'], { caseInsensitive: true });
  assert.equal(mode.arg, '<none|poll|explicit>');
  assert.equal(mode.parse('EXPLICIT'), 'explicit');
  rejects(mode, 'auto', /^one of none, poll, explicit$/);
  const format = choice(['default', 'ISO8601'], { caseInsensitive: false });
  assert.equal(format.parse('ISO8601'), 'ISO8601');
  rejects(format, 'iso8601', /one of default, ISO8601/);
});

test('groupSetting: splits at the first = and then the first comma before it', () => {
  const backend = groupSetting('backend', 'optional');
  assert.deepEqual(backend.parse('onnxruntime,a=1'), { group: 'onnxruntime', setting: 'a', value: '1' });
  assert.deepEqual(backend.parse('a=1'), { group: '', setting: 'a', value: '1' });
  assert.deepEqual(backend.parse('b,x,y=1,2=3'), { group: 'b', setting: 'x,y', value: '1,2=3' });
  for (const bad of ['a', ',a=1', 'b,=1', 'b,a=', '']) rejects(backend, bad, /<backend>,<setting>=<value> or <setting>=<value>/);
  const cache = groupSetting('cache', 'required');
  assert.deepEqual(cache.parse('local,size=1'), { group: 'local', setting: 'size', value: '1' });
  rejects(cache, 'size=1', /^<cache>,<setting>=<value>$/);
  const metrics = groupSetting('', 'forbidden');
  assert.deepEqual(metrics.parse('summary_latencies=true'), { group: '', setting: 'summary_latencies', value: 'true' });
  rejects(metrics, 'x,summary_latencies=true', /^<setting>=<value>$/);
});

test('pair, rate-limit resources and restricted API lists check their shape', () => {
  const devBytes = pair(int(0), ':', int(0), '<integer>:<integer>');
  assert.deepEqual(devBytes.parse('1:1024'), [1, 1024]);
  for (const bad of ['1024', 'a:1', '1:b', '1:']) rejects(devBytes, bad, /^<integer>:<integer>/);
  assert.deepEqual(RATE_LIMIT_RESOURCE.parse('R1:4'), { name: 'R1', count: 4, device: undefined });
  assert.deepEqual(RATE_LIMIT_RESOURCE.parse('R1:4:0'), { name: 'R1', count: 4, device: 0 });
  for (const bad of ['R1', 'R1:x', 'R1:1:2:3']) rejects(RATE_LIMIT_RESOURCE, bad, /<name>:<count>/);
  const api = restricted('apis');
  assert.equal(api.parse('health,inference:k=v'), 'health,inference:k=v');
  for (const bad of ['health', 'health:k', 'health:=v', 'health:k=', ':k=v']) rejects(api, bad, /^<apis>:<key>=<value>$/);
  rejects(api, 'admin:k=v', /apis among health/);
});
