import { fileURLToPath, pathToFileURL } from 'node:url';
import { invalidArg } from '../../errors/index.js';

/** Where `nereid/model` lives, so a model.ts that imports it bundles it wherever the model is. */
const MODEL_API = fileURLToPath(new URL('./model-api.js', import.meta.url));

/**
 * The URL a model worker imports: a model.js (or .mjs) as it is, with Node's own resolution; a
 * model.ts (or .mts) bundled once per load by esbuild, relative imports and packages included and
 * types stripped, as a `data:` URL (~100 ms, shared by every instance and restart).
 */
export async function modelModuleUrl(modelPath: string, modelName: string): Promise<string> {
  if (/\.m?js$/.test(modelPath)) return pathToFileURL(modelPath).href;
  if (!/\.m?ts$/.test(modelPath)) {
    throw invalidArg(`model file '${modelPath}' of model '${modelName}' must be a .js, .mjs, .ts or .mts file`);
  }
  const esbuild = await import('esbuild');
  let output: string;
  try {
    const result = await esbuild.build({
      entryPoints: [modelPath],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      alias: { 'nereid/model': MODEL_API },
      // Bundled CommonJS packages may call require(): give the ES module one.
      banner: { js: "import { createRequire as __nereidRequire } from 'node:module'; const require = __nereidRequire(" + JSON.stringify(pathToFileURL(modelPath).href) + ');' },
    });
    output = result.outputFiles[0]!.text;
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }).errors;
    const detail =
      errors?.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text)).join('; ') ??
      (error as Error).message;
    throw invalidArg(`failed to compile '${modelPath}' of model '${modelName}': ${detail}`);
  }
  return `data:text/javascript;base64,${Buffer.from(output).toString('base64')}`;
}
