import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_ROOT, functionFiles, mainGlob } from '../../local/functionFiles';
import { MINIMAL_SETTINGS } from '../support/settings';

const DIST = join(APP_ROOT, 'dist');
const names = (files: string[]) => files.map((f) => basename(f).replace(/\.(js|ts)$/, ''));

beforeAll(() => {
  if (!existsSync(join(DIST, 'local', 'functionFiles.js'))) throw new Error('dist/ is missing: `npm test` builds first (npm run build)');
});

/**
 * Loads the compiled function files in a fresh process as the Functions worker does (one after another,
 * the first failure stopping the rest), under the local host's stand-in for @azure/functions-core.
 */
function loadLikeTheWorker(env: Record<string, string>, order: 'sorted' | 'reversed'): { registrations: string[]; loaded: string[]; sdks: string[]; error?: { name: string; message: string; file: string } } {
  const script = `
const { basename } = require('node:path');
const registrations = require(${JSON.stringify(join(DIST, 'local', 'functionsCore.js'))}).installFunctionsCore();
const files = require(${JSON.stringify(join(DIST, 'local', 'functionFiles.js'))}).functionFiles();
if (${JSON.stringify(order)} === 'reversed') files.reverse();
const loaded = [];
let error;
for (const file of files) {
  try {
    require(file);
    loaded.push(basename(file));
  } catch (e) {
    error = { name: e.name, message: e.message, file: basename(file) };
    break;
  }
}
const sdks = [...new Set(Object.keys(require.cache).map((k) => /node_modules[\\\\/](@azure[\\\\/][^\\\\/]+)/.exec(k)?.[1]).filter(Boolean))].sort();
process.stdout.write(JSON.stringify({ registrations: registrations.map((r) => r.name).sort(), loaded, sdks, error }));
`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: APP_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' })) as never;
}

describe('function discovery: package.json main is a glob of the compiled function files', () => {
  it('main names dist/functions/*.js, and there is no hand-kept list of function files', () => {
    expect(mainGlob()).toBe('dist/functions/*.js');
    expect(existsSync(join(APP_ROOT, 'functions', 'index.ts'))).toBe(false);
  });

  it('the glob names every function file: the compiled ones, and under vitest the same files as sources', () => {
    const sources = readdirSync(join(APP_ROOT, 'functions')).filter((f) => f.endsWith('.ts')).sort();
    expect(names(functionFiles({ source: true }))).toEqual(names(sources));
    // What the worker would load from the build: the same files, none left over from an earlier build.
    expect(names(functionFiles({ source: false }))).toEqual(names(sources));
  });

  it('every function file imports the settings check first, so it runs before anything registers whatever the load order', () => {
    for (const file of functionFiles({ source: true }).filter((f) => !f.endsWith('startupCheck.ts'))) {
      const firstStatement = readFileSync(file, 'utf8').split('\n').find((line) => line.trim() !== '' && !line.startsWith('//') && !line.startsWith(' *') && !line.startsWith('/*'));
      expect(firstStatement, basename(file)).toBe("import './startupCheck';");
    }
  });
});

describe('the settings check under a glob, whichever file the worker loads first', () => {
  it('with valid settings, the files register the same functions in either order', () => {
    const sorted = loadLikeTheWorker(MINIMAL_SETTINGS, 'sorted');
    const reversed = loadLikeTheWorker(MINIMAL_SETTINGS, 'reversed');
    expect(sorted.error).toBeUndefined();
    expect(sorted.registrations.length).toBeGreaterThanOrEqual(20);
    expect(reversed).toEqual({ ...sorted, loaded: [...sorted.loaded].reverse() });
    // Loading the app stays cheap: the SDKs only some calls need are loaded on first use (docs/proof.md, cold start).
    expect(sorted.sdks.filter((sdk) => ['@azure/service-bus', '@azure/identity', '@azure/keyvault-secrets'].includes(sdk))).toEqual([]);
  });

  it('with an invalid setting, the first file loaded fails naming it and nothing is registered, in either order', () => {
    for (const order of ['sorted', 'reversed'] as const) {
      const result = loadLikeTheWorker({ ...MINIMAL_SETTINGS, RETENTION_SCHEDULE: '0 99 * * * *' }, order);
      expect(result.registrations, order).toEqual([]);
      expect(result.loaded, order).toEqual([]);
      expect(result.error?.name).toBe('SettingsError');
      expect(result.error?.message).toContain('RETENTION_SCHEDULE must be a valid NCRONTAB expression');
    }
  });
});
