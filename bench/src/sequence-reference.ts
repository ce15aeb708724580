/**
 * What every step of every benchmark sequence must answer: the model run by onnxruntime-node in this
 * process, all sequences as one batch, feeding the controls and carrying the state by hand, the way
 * the server's implicit state should. The driver checks each served answer against it, so a state
 * mixed up between slots or lost between steps shows up as mismatches.
 */
import * as ort from 'onnxruntime-node';
import { sequenceInput, type SequenceModel } from './sequence-models.js';

const elementCount = (dims: readonly number[]): number => dims.reduce((product, d) => product * d, 1);

/** outputs[sequence][step]: the model's output for that step. */
export async function referenceOutputs(model: SequenceModel, sequences: number, steps: number): Promise<Float32Array[][]> {
  const session = await ort.InferenceSession.create(model.file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const width = elementCount(model.input.dims);
    const data = new Float32Array(sequences * width);
    for (let s = 0; s < sequences; s++) data.set(sequenceInput(model, s), s * width);
    const input = new ort.Tensor('float32', data, [sequences, ...model.input.dims]);
    const column = (value: number): ort.Tensor => new ort.Tensor('int32', new Int32Array(sequences).fill(value), [sequences, 1]);
    let state: Float32Array = new Float32Array(sequences * elementCount(model.state.dims));
    const outputs: Float32Array[][] = Array.from({ length: sequences }, () => []);
    for (let step = 0; step < steps; step++) {
      const feeds: Record<string, ort.Tensor> = {
        [model.input.name]: input,
        [model.state.input]: new ort.Tensor('float32', state, [sequences, ...model.state.dims]),
      };
      if (model.controls.start) feeds[model.controls.start] = column(step === 0 ? 1 : 0);
      if (model.controls.ready) feeds[model.controls.ready] = column(1);
      const result = await session.run(feeds);
      state = result[model.state.output]!.data as Float32Array;
      const out = result[model.output]!.data as Float32Array;
      const per = out.length / sequences;
      for (let s = 0; s < sequences; s++) outputs[s]!.push(out.slice(s * per, (s + 1) * per));
    }
    return outputs;
  } finally {
    await session.release();
  }
}
