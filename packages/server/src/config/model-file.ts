import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { internal, invalidArg, notFound } from '../errors/index.js';

/**
 * Reads a file that a model's configuration names (config.pbtxt itself, an output's
 * label_filename) and refuses anything that is not inside the model's folder once links are
 * resolved: a '..' path or a symlink to a file elsewhere would let whoever writes the repository
 * make the server read, and serve back, any file it can open.
 *
 * The model folder itself may be a link (repositories often link models in); what counts is that
 * the file's real path lies under the folder's real path.
 *
 * Errors name the file as `<what> '<modelDir>/<name>'`: NOT_FOUND when it does not exist,
 * INVALID_ARG when it escapes the folder, INTERNAL when it cannot be read or is not a regular file.
 */
export async function readModelFile(modelDir: string, name: string, what: string): Promise<string> {
  return (await readModelFileBytes(modelDir, name, what)).toString('utf8');
}

/** {@link readModelFile}, for a file read as raw bytes (warm-up inputs): the same checks and errors. */
export async function readModelFileBytes(modelDir: string, name: string, what: string): Promise<Buffer> {
  const shown = `${modelDir.replace(/\/+$/, '')}${sep}${name}`;
  const fail = (error: unknown): never => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`${what} '${shown}' does not exist`);
    const reason = error instanceof Error ? error.message : String(error);
    throw internal(`failed to read ${what} '${shown}': ${reason}`, error);
  };
  const realDir = await realpath(modelDir).catch(fail);
  const realFile = await realpath(join(modelDir, name)).catch(fail);
  const inside = relative(realDir, realFile);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw invalidArg(
      `${what} '${shown}' is outside the model folder: links and '..' in it must stay inside '${modelDir}'`,
    );
  }
  // O_NOFOLLOW: the path was checked with links resolved; a link swapped in since is not followed.
  // O_NONBLOCK: a FIFO must not stall the load; it is refused below as not a regular file.
  const file = await open(realFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(fail);
  try {
    if (!(await file.stat()).isFile()) throw internal(`failed to read ${what} '${shown}': not a regular file`);
    return await file.readFile();
  } finally {
    await file.close();
  }
}
