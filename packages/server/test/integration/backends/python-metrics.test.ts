import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpCall, keepAliveAgent, postInfer } from '../../helpers/http-client.js';
import { Harness } from '../../helpers/model-control-harness.js';

/** pb_utils.MetricFamily from Python models, served on the metrics endpoint. */
describe('custom metrics from Python models', () => {
  const harness = new Harness();
  let repo: string;
  before(async () => {
    repo = mkdtempSync(join(tmpdir(), 'nereid-py-metrics-'));
    mkdirSync(join(repo, 'counted', '1'), { recursive: true });
    writeFileSync(
      join(repo, 'counted', 'config.pbtxt'),
      'name: "counted"\nbackend: "python"\nmax_batch_size: 0\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]\n' +
        'output [ { name: "TOTAL" data_type: TYPE_FP64 dims: [ 1 ] } ]\ninstance_group [ { count: 2 kind: KIND_CPU } ]\n',
    );
    writeFileSync(
      join(repo, 'counted', '1', 'model.py'),
      [
        'import numpy as np',
        'import triton_python_backend_utils as pb_utils',
        '',
        'class TritonPythonModel:',
        '    def initialize(self, args):',
        '        # Both instances register the same families and labels: they share the series.',
        '        labels = {"model": args["model_name"]}',
        '        self.counter = pb_utils.MetricFamily("py_requests", "Requests seen", pb_utils.MetricFamily.COUNTER).Metric(labels)',
        '        self.gauge = pb_utils.MetricFamily("py_last_value", "Last X", pb_utils.MetricFamily.GAUGE).Metric(labels)',
        '        self.histogram = pb_utils.MetricFamily("py_x", "X values", pb_utils.MetricFamily.HISTOGRAM).Metric(labels, buckets=[1.0, 10.0])',
        '',
        '    def execute(self, requests):',
        '        out = []',
        '        for r in requests:',
        '            x = float(pb_utils.get_input_tensor_by_name(r, "X").as_numpy()[0])',
        '            self.counter.increment(1)',
        '            self.gauge.set(x)',
        '            self.histogram.observe(x)',
        '            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("TOTAL", np.array([self.counter.value()], dtype=np.float64))]))',
        '        return out',
        '',
      ].join('\n'),
    );
    await harness.start({ modelRepositories: [repo], metrics: { port: 0, address: '127.0.0.1' } });
  });
  after(async () => {
    keepAliveAgent.destroy();
    await harness.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it('counters, gauges and histograms are shared across instances and served with their labels', async () => {
    const totals: number[] = [];
    for (const x of [0.5, 5, 50]) {
      const reply = await postInfer(harness.base, 'counted', { inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [x] }] });
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      totals.push((reply.outputs.get('TOTAL')?.data as number[])[0]!);
    }
    assert.deepEqual(totals, [1, 2, 3], 'value() reads the shared series');
    const text = (await httpCall(`http://127.0.0.1:${harness.server.metrics!.port}`, 'GET', '/metrics')).body.toString();
    assert.match(text, /# HELP py_requests Requests seen\n# TYPE py_requests counter\npy_requests\{model="counted"\} 3\n/);
    assert.match(text, /py_last_value\{model="counted"\} 50\n/);
    assert.match(text, /py_x_bucket\{model="counted",le="1"\} 1\npy_x_bucket\{model="counted",le="10"\} 2\npy_x_bucket\{model="counted",le="\+Inf"\} 3\npy_x_sum\{model="counted"\} 55\.5\npy_x_count\{model="counted"\} 3\n/);
  });
});
