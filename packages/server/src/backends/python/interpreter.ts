import { execFile } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ModelConfig } from '@nereid/protocol/generated/model_config_pb';
import { invalidArg } from '../../errors/server-error.js';

/** The interpreter when neither the model nor the server names one. */
export const DEFAULT_PYTHON = '/usr/bin/python3';
/** Server-wide default: `--backend-config=python,python-executable=<path>`, else this variable. */
export const PYTHON_ENV_VARIABLE = 'NEREID_PYTHON';

export interface Interpreter {
  readonly python: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Archives already unpacked, by path: models sharing one environment unpack it once. */
const unpacked = new Map<string, Promise<string>>();

/**
 * The Python a model's stubs run with, chosen as Triton's users choose it: the model's
 * `EXECUTION_ENV_PATH` parameter (a folder holding `bin/python3`, or a conda-pack `.tar.gz` that is
 * unpacked once into the temporary folder; `$$TRITON_MODEL_DIRECTORY` is the model's folder), else
 * the server's `python-executable` backend setting, else `$NEREID_PYTHON`, else /usr/bin/python3.
 */
export async function chooseInterpreter(
  config: ModelConfig,
  modelDir: string,
  backendConfig: ReadonlyMap<string, string>,
): Promise<Interpreter> {
  const envPath = config.parameters['EXECUTION_ENV_PATH']?.stringValue;
  if (envPath !== undefined && envPath !== '') {
    const resolved = envPath.replaceAll('$$TRITON_MODEL_DIRECTORY', modelDir);
    const info = await stat(resolved).catch(() => undefined);
    if (info === undefined) {
      throw invalidArg(`Path ${resolved} does not exist. The Python execution environment must be an existing folder or archive`);
    }
    const root = info.isDirectory() ? resolved : await unpack(resolved);
    const bin = join(root, 'bin');
    return { python: join(bin, 'python3'), env: { PATH: `${bin}:${process.env['PATH'] ?? ''}`, PYTHONNOUSERSITE: 'True' } };
  }
  const python = backendConfig.get('python-executable') ?? process.env[PYTHON_ENV_VARIABLE] ?? DEFAULT_PYTHON;
  return { python, env: {} };
}

function unpack(archive: string): Promise<string> {
  let folder = unpacked.get(archive);
  if (folder === undefined) {
    folder = (async () => {
      const target = await mkdtemp(join(tmpdir(), 'nereid-python-env-'));
      await promisify(execFile)('tar', ['-xzf', archive, '-C', target]);
      return target;
    })();
    unpacked.set(archive, folder);
    folder.catch(() => unpacked.delete(archive));
  }
  return folder;
}
