import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { profile, ROW_COLUMNS, type ProfileOptions, type ProfileOutputs, type ProfileResult } from '@nereid/analyzer';
import { HttpClient } from '@nereid/client';
import { startServer, type RunningServer } from '../../src/cli/start-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { EXAMPLE_MODELS, REPO_ROOT } from '../helpers/paths.js';

/** Runs a Node script to its end without blocking this process's event loop. */
function runNode(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * A two-config sweep of `simple` end to end: the analyzer starts Nereid's CLI itself (local launch),
 * loads the default config and one variant (2 instances, max_batch_size 4, dynamic batching) through
 * the load API, measures each at concurrency 1 and 2 with short windows, and writes the CSV, the HTML
 * report and the output repository, which a second Nereid then loads and the CLI profiles remotely.
 */
describe('nereid-analyzer profile: a two-config sweep end to end', () => {
  let dir = '';
  let result: ProfileResult;
  let outputs: ProfileOutputs;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nereid-analyzer-'));
    const options: ProfileOptions = {
      modelRepository: EXAMPLE_MODELS,
      profileModels: ['simple'],
      launchMode: 'local',
      clientProtocol: 'http',
      exportPath: join(dir, 'export'),
      outputModelRepositoryPath: join(dir, 'output'),
      space: { instanceCounts: [2], maxBatchSizes: [4], dynamicBatching: [true], queueDelaysUs: [100], concurrencies: [1, 2] },
      constraints: { latencyBudgetMs: 10_000 },
      perfWindowMs: 100,
      maxTrials: 3,
      stabilityPercentage: 50,
      numConfigsPerModel: 3,
      log: () => {},
    };
    ({ result, outputs } = await profile(options));
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('measures both configs with the settings the server reports', () => {
    assert.deepEqual(result.results.map((r) => r.variant.name), ['simple_config_default', 'simple_config_0']);
    const variant = result.results[1]!;
    assert.deepEqual(variant.settings, { instanceCount: 2, maxBatchSize: 4, dynamicBatching: true, queueDelayUs: 100 });
    assert.notDeepEqual(result.results[0]!.settings, variant.settings);
    for (const r of result.results) assert.deepEqual(r.rows.map((row) => row.concurrency), [1, 2]);
    assert.match(result.memorySource.name, /^\/proc\/\d+\/status VmRSS$/);
  });

  it('writes a CSV and a report holding the measured rows, numbers > 0', () => {
    const rows = result.results.flatMap((r) => r.rows);
    const csv = readFileSync(outputs.csvPath, 'utf8').trim().split('\n');
    assert.equal(csv[0], ROW_COLUMNS.join(','));
    assert.equal(csv.length, 1 + rows.length);
    const html = readFileSync(outputs.reportPath, 'utf8');
    const tableRows = [...html.matchAll(/<tr>((?:<td>[^<]*<\/td>)+)<\/tr>/g)]
      .map((m) => [...m[1]!.matchAll(/<td>([^<]*)<\/td>/g)].map((c) => c[1]!))
      .filter((cells) => cells.length === ROW_COLUMNS.length);
    assert.equal(tableRows.length, rows.length);
    csv.slice(1).forEach((line, i) => {
      const cells = line.split(',');
      assert.deepEqual(tableRows[i], cells, 'the report table shows the CSV row');
      const cell = (column: (typeof ROW_COLUMNS)[number]): number => Number(cells[ROW_COLUMNS.indexOf(column)]);
      const throughput = cell('Throughput (infer/sec)');
      assert.ok(throughput > 0 && cell('p99 Latency (ms)') > 0 && cell('RAM Usage (MB)') > 0, `row ${i}: ${line}`);
      assert.ok(Math.abs(throughput - rows[i]!.throughput) < 0.01);
      assert.equal(cell('Concurrency'), rows[i]!.concurrency);
    });
    assert.equal((html.match(/<svg /g) ?? []).length, 2, 'latency and memory charts');
  });

  it('recommends only configs within the constraints and writes them as config.pbtxt files', () => {
    const recommended = result.recommendations.get('simple') ?? [];
    assert.ok(recommended.length > 0);
    for (const rec of recommended) assert.ok(rec.row.p99LatencyMs <= 10_000);
    assert.deepEqual(outputs.outputFolders.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort(), ['simple_config_0', 'simple_config_default']);
    const text = readFileSync(join(dir, 'output', 'simple_config_0', 'config.pbtxt'), 'utf8');
    assert.match(text, /^name: "simple_config_0"$/m);
    assert.match(text, /max_queue_delay_microseconds: 100/);
  });

  describe('the written repository, served by a real Nereid', () => {
    let server: RunningServer | undefined;

    before(async () => {
      server = await startServer({
        modelRepositories: [join(dir, 'output')],
        modelControlMode: 'explicit',
        startupModels: ['*'],
        http: { port: 0, address: '127.0.0.1' },
        grpc: { port: 0, address: '127.0.0.1' },
        metrics: { port: 0, address: '127.0.0.1', allow: true },
        logger: silentLogger,
      });
    });

    after(async () => {
      await server?.close();
    });

    it('loads the configs as written and answers inferences', async () => {
      const client = new HttpClient(`http://127.0.0.1:${server!.http!.port}`);
      const config = await client.modelConfig('simple_config_0');
      assert.equal(config['max_batch_size'], 4);
      assert.deepEqual((config['dynamic_batching'] as Record<string, unknown>)['max_queue_delay_microseconds'], 100);
      assert.equal((config['instance_group'] as Array<Record<string, unknown>>)[0]?.['count'], 2);
      const reply = await client.infer('simple_config_0', {
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(5) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(2) },
        ],
      });
      assert.deepEqual([...(reply.outputs['OUTPUT0']?.data as Int32Array)], new Array(16).fill(7));
      assert.equal(await client.isModelReady('simple_config_default'), true);
    });

    it('is profiled remotely by the CLI, with memory from the metrics endpoint; a model that fails does not stop the others', async () => {
      const s = server!;
      // Not spawnSync: the server runs in this process and must keep answering.
      const run = await runNode([
        join(REPO_ROOT, 'packages', 'analyzer', 'bin', 'nereid-analyzer.js'), 'profile',
        '--triton-launch-mode', 'remote',
        '--triton-http-endpoint', `127.0.0.1:${s.http!.port}`,
        '--triton-grpc-endpoint', `127.0.0.1:${s.grpc!.port}`,
        '--triton-metrics-url', `http://127.0.0.1:${s.metrics!.port}/metrics`,
        '--profile-models', 'no_such_model,simple_config_0',
        '--run-config-search-disable', '--concurrency', '1',
        '--perf-window-ms', '100', '--perf-max-trials', '3',
        '-e', join(dir, 'remote'),
      ]);
      assert.equal(run.status, 1, run.stderr + run.stdout);
      assert.match(run.stdout, /^Model no_such_model:\nFailed: loading 'no_such_model' failed: .+$/m);
      assert.match(run.stdout, /^Model simple_config_0:$/m);
      assert.match(run.stdout, /^#1\s+simple_config_0_config_default\s+2 inst, mbs 4, DB 100 µs\s+1\s/m);
      assert.match(run.stdout, /Memory: nv_cpu_memory_used_bytes\./);
      const csv = readFileSync(join(dir, 'remote', 'results', 'metrics-model-inference.csv'), 'utf8').trim().split('\n');
      assert.equal(csv.length, 2);
      assert.ok(Number(csv[1]!.split(',').at(-1)) > 0, 'host RAM in use');
    });
  });

  it('renders in headless Chromium: the screenshot shows the charts and the DOM holds their SVGs', () => {
    const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-zygote', '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${join(dir, 'chromium')}`];
    const url = `file://${outputs.reportPath}`;
    const png = join(dir, 'report.png');
    // One launch writes the screenshot and prints the DOM.
    const shot = spawnSync('chromium', [...chromiumFlags, `--screenshot=${png}`, '--dump-dom', '--window-size=1200,1600', url], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(shot.error, undefined, 'chromium must be installed: scripts/ensure-packages.sh --tests');
    const image = PNG.sync.read(readFileSync(png));
    assert.deepEqual([image.width, image.height], [1200, 1600]);
    // @nereid/perf's palette: after the Pareto band, the configs' lines take its 2nd and 3rd colours;
    // the memory bars its 1st.
    const count = (rgb: number, top: number, bottom: number): number => {
      let n = 0;
      for (let y = top; y < bottom; y++) {
        for (let x = 0; x < image.width; x++) {
          const i = (y * image.width + x) * 4;
          const near = (shift: number, at: number): boolean => Math.abs(((rgb >> shift) & 0xff) - image.data[i + at]!) < 8;
          if (near(16, 0) && near(8, 1) && near(0, 2)) n++;
        }
      }
      return n;
    };
    // The latency chart sits below the header and recommendations: look at the band it occupies.
    const colours = new Set<number>();
    let nonWhite = 0;
    for (let y = 400; y < 1100; y++) {
      for (let x = 0; x < image.width; x++) {
        const i = (y * image.width + x) * 4;
        const [r, g, b] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
        colours.add((r << 16) | (g << 8) | b);
        if (r < 240 || g < 240 || b < 240) nonWhite++;
      }
    }
    assert.ok(colours.size > 50, `${colours.size} distinct colours`);
    assert.ok(nonWhite > 5000, `${nonWhite} non-white pixels`);
    assert.ok(count(0xe69f00, 400, 1100) > 20, 'the default config\'s line and markers');
    assert.ok(count(0x009e73, 400, 1100) > 20, 'the variant\'s line and markers');
    assert.ok(count(0x0072b2, 0, image.height) > 5000, 'the memory bars');

    const svgs = shot.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(svgs.length, 2);
    const rows = result.results.flatMap((r) => r.rows).length;
    assert.ok((svgs[0]!.match(/<circle /g) ?? []).length >= rows, 'a marker per measured row');
    const legendX = Number(/<g class="legend"><rect x="([\d.]+)"/.exec(svgs[0]!)?.[1]);
    const plotRight = Number(/<line class="axis" x1="[\d.]+" y1="[\d.]+" x2="([\d.]+)"/.exec(svgs[0]!)?.[1]);
    assert.ok(legendX > plotRight, `the legend beside the plot (legend at x=${legendX}, plot ends at x=${plotRight})`);
    // One row may dominate all others: then the front is a single point, drawn without a line.
    const pareto = /<g class="series" data-name="Pareto front">([\s\S]*?)<\/g>/.exec(svgs[0]!)?.[1] ?? '';
    assert.ok(/<circle [^>]*r="9" fill-opacity="0.3"/.test(pareto), 'the Pareto front as halos');
    if (pareto.includes('<polyline')) assert.match(pareto, /stroke-width="9"/, 'and a band');
    assert.equal((svgs[1]!.match(/<rect class="bar"/g) ?? []).length, result.results.length, 'a memory bar per config');
  });
});
