import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barChart, createProgress, formatTick, niceTicks, parsePerfArgs, PerfError, xyChart } from '@nereid/perf';
import { checkWellFormed } from './xml.js';

/** The parts of @nereid/perf that need no server: flags, number formatting, charts. */
describe('parsePerfArgs', () => {
  it("takes perf_analyzer's flags with its defaults", () => {
    const parsed = parsePerfArgs(['-m', 'simple', '-i', 'grpc', '-b', '4', '--shape', 'IN:3,224', '--concurrency-range', '2:8:2', '-p', '250', '-s', '5', '--percentile=95', '--streaming', '-f', 'x.csv', '-H', 'a: b']);
    const o = parsed.options;
    assert.equal(o.model, 'simple');
    assert.equal(o.protocol, 'grpc');
    assert.equal(o.batchSize, 4);
    assert.deepEqual(o.shapes, { IN: [3, 224] });
    assert.deepEqual(o.concurrencyRange, { start: 2, end: 8, step: 2 });
    assert.equal(o.measurementIntervalMs, 250);
    assert.equal(o.stabilityPercentage, 5);
    assert.equal(o.percentile, 95);
    assert.equal(o.streaming, true);
    assert.equal(o.maxTrials, 10);
    assert.equal(o.inputData, 'random');
    assert.deepEqual(o.headers, { a: 'b' });
    assert.equal(parsed.csvFile, 'x.csv');
    // A single value is one level; a rate range takes fractions.
    assert.deepEqual(parsePerfArgs(['-m', 'm', '--concurrency-range', '3']).options.concurrencyRange, { start: 3, end: 3, step: 1 });
    assert.deepEqual(parsePerfArgs(['-m', 'm', '--request-rate-range', '0.5:2:0.5']).options.requestRateRange, { start: 0.5, end: 2, step: 0.5 });
    const defaults = parsePerfArgs(['-m', 'm']).options;
    assert.equal(defaults.protocol, 'http');
    assert.equal(defaults.measurementIntervalMs, 5000);
    assert.equal(defaults.stabilityPercentage, 10);
    assert.equal(defaults.sharedMemory, 'none');
  });

  it('refuses bad values with exit code 3', () => {
    for (const argv of [['-m', 'm', '--concurrency-range', '1.5'], ['-m', 'm', '-b', '0'], ['-m', 'm', '--shape', 'IN'], ['-m', 'm', '-i', 'udp'], ['-p', '5'], ['-m', 'm', '--concurrency-range', '1', '--request-rate-range', '1'], ['-m', 'm', '-a', '--sync']]) {
      assert.throws(() => parsePerfArgs(argv), (e: unknown) => e instanceof PerfError && e.exitCode === 3, argv.join(' '));
    }
  });
});

describe('charts', () => {
  it('picks nice ticks covering the data', () => {
    assert.deepEqual(niceTicks(0, 937), [0, 200, 400, 600, 800, 1000]);
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    const ticks = niceTicks(13, 13);
    assert.ok(ticks[0]! <= 13 && ticks[ticks.length - 1]! >= 13);
    assert.equal(formatTick(25000), '25k');
    assert.equal(formatTick(0.30000000000000004), '0.3');
  });

  it('draws well-formed self-contained SVG with escaped labels', () => {
    const svg = xyChart({ title: 'a < b & "c"', xLabel: 'x', yLabel: 'y', series: [{ name: 's1', points: [{ x: 1, y: 2, label: '<1>' }, { x: 3, y: 5 }], showLabels: true }, { name: 's2', kind: 'scatter', points: [{ x: 2, y: Number.NaN }, { x: 2, y: 1 }] }] });
    checkWellFormed(svg);
    assert.match(svg, /a &lt; b &amp; &quot;c&quot;/);
    assert.equal((svg.match(/<circle /g) ?? []).length, 3, 'NaN points are skipped');
    assert.equal((svg.match(/<polyline /g) ?? []).length, 1, 'scatter series have no line');
    assert.match(svg, />&lt;1&gt;</);
    const bars = barChart({ title: 'memory', yLabel: 'MB', seriesNames: ['rss', 'heap'], bars: [{ label: 'cfg1', values: [10, 4] }, { label: 'cfg2', values: [12, 5] }] });
    checkWellFormed(bars);
    assert.equal((bars.match(/<rect class="bar"/g) ?? []).length, 4);
    assert.match(bars, /class="legend"/);
  });

  it('places the legend right of the plot and draws a band series under the others when asked', () => {
    const series = [
      { name: 'front', emphasis: 'band' as const, points: [{ x: 1, y: 9 }, { x: 2, y: 10 }] },
      { name: 'cfg', points: [{ x: 1, y: 9 }, { x: 3, y: 4 }] },
    ];
    const inside = xyChart({ series, width: 600 });
    const right = xyChart({ series, width: 600, legend: 'right', legendWidth: 250 });
    checkWellFormed(right);
    assert.match(inside, /width="600"/);
    assert.match(right, /width="850"/, 'the legend gets its own room');
    const legendX = (svg: string) => Number(/<g class="legend"><rect x="([\d.]+)"/.exec(svg)?.[1]);
    assert.ok(legendX(inside) < 200 && legendX(right) > 600 - 20, `legend at ${legendX(inside)} inside, ${legendX(right)} right`);
    const band = right.slice(right.indexOf('data-name="front"'), right.indexOf('data-name="cfg"'));
    assert.match(band, /stroke-width="9" stroke-opacity="0.25"/);
    assert.match(band, /r="9" fill-opacity="0.3"/);
    assert.doesNotMatch(right.slice(right.indexOf('data-name="cfg"'), right.indexOf('class="legend"')), /stroke-opacity/);
    const swatches = right.slice(right.indexOf('class="legend"')).match(/<rect [^>]*width="12"[^>]*>/g) ?? [];
    assert.equal(swatches.length, 2);
    assert.match(swatches[0]!, /fill-opacity="0.3"/, 'the band series fades in the legend too');
    assert.doesNotMatch(swatches[1]!, /fill-opacity/);
  });
});

describe('progress', () => {
  /** A stderr stand-in that records writes (the display only writes to it). */
  function sink(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
    const chunks: string[] = [];
    const stream = { isTTY, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream;
    return { stream, text: () => chunks.join('') };
  }

  it('animates one line on a terminal and writes plain lines otherwise', () => {
    const window = { load: 4, trial: 1, maxTrials: 10, requestCount: 120, throughput: 600, avgLatencyUs: 6600, stabilizingLatencyUs: 6600 };
    const tty = sink(true);
    const p = createProgress(tty.stream, 'concurrency');
    p.onLevelStart!(4, 0, 2);
    p.onTick!(4, 1, 0.5, 60);
    p.onWindow!(window);
    p.onTick!(4, 2, 0.25, 30);
    p.clear();
    const text = tty.text();
    assert.match(text, /^\r\x1b\[2K. concurrency 4 \[1\/2\] window 1 █{12}░{12} {2}50% {2}60 requests\r\x1b\[2K. concurrency 4 \[1\/2\] window 2 █{6}░{18} {2}25% {2}30 requests {2}\(last: 600 infer\/sec, 6600 usec\)\r\x1b\[2K$/u);
    assert.doesNotMatch(text, /\n/);
    // A narrow terminal: the line is cut to its width.
    const narrow = sink(true);
    (narrow.stream as { columns: number }).columns = 40;
    const r = createProgress(narrow.stream, 'concurrency');
    r.onTick!(16, 3, 0.5, 60);
    assert.equal(narrow.text(), `\r\x1b[2K${'⠋ concurrency 16 window 3 ████████████░░░░░░░░░░░░'.slice(0, 39)}`);
    const plain = sink(false);
    const q = createProgress(plain.stream, 'request_rate');
    q.onLevelStart!(50, 0, 1);
    q.onTick!(50, 1, 0.5, 10);
    q.onWindow!({ ...window, load: 50 });
    q.clear();
    assert.equal(plain.text(), 'nereid-perf: measuring request rate 50 (level 1 of 1)\nnereid-perf: request rate 50 window 1/10: 120 requests, 600 infer/sec, latency 6600 usec\n');
  });
});
