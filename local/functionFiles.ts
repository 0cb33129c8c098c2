import { globSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The function files, found as the Functions worker finds them. package.json `main` is a glob of the
 * compiled function files (`dist/functions/*.js`): the Azure Functions Node.js developer guide
 * ("Registering a function", programming model v4) lets `main` be a single file or a glob such as
 * `src/functions/*.js`, and the worker resolves it with globby relative to the app root and loads each
 * match in turn (azure-functions-nodejs-worker, src/startApp.ts). Adding a function is adding a file.
 *
 * The worker's order is globby's, which nothing promises: so no function file may rely on another being
 * loaded first. The one thing that must come first, the settings check, is therefore the first import
 * of every function file (functions/startupCheck.ts), and a file that fails to load stops the worker
 * from loading the rest (on Node 20 and later the error blocks the app).
 */

/** Where package.json is: one level up from local/ (sources, under vitest), two from dist/local/ (built). */
export const APP_ROOT = resolve(__dirname, __filename.endsWith('.ts') ? '..' : join('..', '..'));

/** The TypeScript compiler's outDir (tsconfig.json), which `main` names and the sources do not. */
const OUT_DIR = 'dist/';

export interface FunctionFilesOptions {
  root?: string;
  /**
   * Map the glob onto the TypeScript sources (`dist/functions/*.js` → `functions/*.ts`): the same files
   * before compilation, for hosts run from sources (vitest). Default: when this module is itself a source.
   */
  source?: boolean;
}

/** package.json `main`, which must be the glob of the compiled function files. */
export function mainGlob(root = APP_ROOT): string {
  const main = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: unknown }).main;
  if (typeof main !== 'string' || !main.startsWith(OUT_DIR) || !main.endsWith('.js')) {
    throw new Error(`package.json "main" must be a glob of the compiled function files under ${OUT_DIR} (such as dist/functions/*.js), not ${JSON.stringify(main)}`);
  }
  return main;
}

/** The absolute paths of the files `main` names, sorted (the worker promises no order; sorting makes local runs repeatable). */
export function functionFiles(options: FunctionFilesOptions = {}): string[] {
  const root = options.root ?? APP_ROOT;
  const source = options.source ?? __filename.endsWith('.ts');
  const glob = mainGlob(root);
  const pattern = source ? `${glob.slice(OUT_DIR.length, -'.js'.length)}.ts` : glob;
  const files = globSync(pattern, { cwd: root }).sort();
  if (files.length === 0) throw new Error(`no function files match ${pattern}${source ? '' : ' (npm run build compiles them)'}`);
  return files.map((file) => join(root, file));
}

/** Loads the function files one after another, as the worker does: each registers its own triggers. */
export async function loadFunctionFiles(files: readonly string[] = functionFiles()): Promise<void> {
  for (const file of files) await import(pathToFileURL(file).href);
}
