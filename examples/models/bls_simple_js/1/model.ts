// Calls the `simple` model through the server (BLS) and answers with its sum doubled.
import { ModelError, type Nereid, type Request, type Response } from 'nereid/model';

export async function execute(requests: readonly Request[], nereid: Nereid): Promise<Response[]> {
  return Promise.all(
    requests.map(async (request) => {
      const result = await nereid.infer({
        model: 'simple',
        inputs: [request.input('INPUT0')!, request.input('INPUT1')!],
        outputs: ['OUTPUT0'],
      });
      const sum = result.output('OUTPUT0');
      if (sum === undefined) throw new ModelError('simple answered without OUTPUT0');
      const doubled = (sum.data as Int32Array).map((value) => value * 2);
      return { outputs: [{ name: 'OUTPUT0', shape: sum.shape, data: doubled }] };
    }),
  );
}
