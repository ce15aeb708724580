// OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1 (the `simple` model, in TypeScript).
// The types come from `nereid/model`; the server compiles this file when it loads the model.
import type { InitializeArgs, Nereid, Request, Response } from 'nereid/model';

let outputNames: string[] = [];

export function initialize(args: InitializeArgs, nereid: Nereid): void {
  outputNames = args.model_config.output.map((output) => output.name);
  nereid.log.verbose(`${args.model_instance_name} ready, outputs ${outputNames.join(', ')}`);
}

export function execute(requests: readonly Request[]): Response[] {
  return requests.map((request) => {
    const a = request.input('INPUT0')!.data as Int32Array;
    const b = request.input('INPUT1')!.data as Int32Array;
    const sum = new Int32Array(a.length);
    const difference = new Int32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      sum[i] = a[i]! + b[i]!;
      difference[i] = a[i]! - b[i]!;
    }
    const shape = request.input('INPUT0')!.shape;
    return {
      outputs: [
        { name: 'OUTPUT0', shape, data: sum },
        { name: 'OUTPUT1', shape, data: difference },
      ],
    };
  });
}

export function finalize(): void {
  outputNames = [];
}
