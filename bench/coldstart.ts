import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

/**
 * `npm run bench:coldstart`: what loading Flowkeeper's function entry points costs at start-up, beside
 * loading `@azure/functions` alone, each in fresh Node processes (N runs each, alternating, median):
 *
 * - `library`: `require('@azure/functions')` and nothing else: the floor every v4 app pays;
 * - `app`: the local host's stand-in for `@azure/functions-core` installed (dist/local/functionsCore.js,
 *   as the worker supplies the real one), then `require` of every file package.json `main` names
 *   (`dist/functions/*.js`, found as the worker finds them) with the settings present, so the settings are
 *   validated and every `app.*` registration really happens (the count of registrations is checked in each run).
 *
 * - `eager`: the same, plus the SDKs the entry point loaded at import before they were made lazy
 *   (Service Bus, Key Vault, identity): the "before" of that change, in the same run.
 *
 * Also reported: which Azure SDK packages the entry point loads (a package loaded at import is paid by
 * every cold start, used or not). Each child prints one JSON line; the result is the last line here.
 *
 *   npm run bench:coldstart -- [--runs 15]
 */
const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : NaN;
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Settings as an app would have them (nothing is contacted at import: the endpoints need not answer). */
const SETTINGS: Record<string, string> = {
  WHATSAPP_APP_SECRET: 'coldstart-app-secret',
  WHATSAPP_VERIFY_TOKEN: 'coldstart-verify-token',
  SUBJECT_HASH_KEY: 'coldstart-subject-hash-key-0123456789abcdef',
  DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  COSMOS_CONNECTION: 'AccountEndpoint=http://127.0.0.1:9/;AccountKey=a2V5;',
  MEDIA_STORAGE: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;',
};

const SDKS = ['@azure/cosmos', '@azure/storage-blob', '@azure/service-bus', '@azure/identity', '@azure/keyvault-secrets', '@azure/functions'];

/** The child's program: time one require (after the stand-in for the app), list what got loaded. */
type Kind = 'library' | 'app' | 'eager';

/**
 * `eager`: the entry point plus the SDKs it used to load at import (Service Bus, Key Vault, identity)
 * before they were made lazy: the "before" of that change, measured in the same run.
 */
const EAGER_SDKS = ['@azure/service-bus', '@azure/keyvault-secrets', '@azure/identity'];

function childScript(kind: Kind): string {
  return `
const { performance } = require('node:perf_hooks');
const started = performance.now();
let registrations = 0;
if (${JSON.stringify(kind)} !== 'library') {
  const core = require(${JSON.stringify(join(DIST, 'local', 'functionsCore.js'))});
  const list = core.installFunctionsCore();
  const { functionFiles } = require(${JSON.stringify(join(DIST, 'local', 'functionFiles.js'))});
  const t0 = performance.now();
  for (const file of functionFiles()) require(file);
  if (${JSON.stringify(kind)} === 'eager') for (const sdk of ${JSON.stringify(EAGER_SDKS)}) require(sdk);
  const ms = performance.now() - t0;
  registrations = list.length;
  report(ms);
} else {
  const t0 = performance.now();
  require('@azure/functions');
  report(performance.now() - t0);
}
function report(ms) {
  const loaded = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules[\\\\/](@azure[\\\\/][^\\\\/]+)/.exec(file);
    if (m) loaded.add(m[1].replace('\\\\', '/'));
  }
  const modules = Object.keys(require.cache).length;
  process.stdout.write(JSON.stringify({ ms, total: performance.now() - started, registrations, modules, packages: ${JSON.stringify(SDKS)}.filter((p) => loaded.has(p)) }) + '\\n');
}
`;
}

interface ChildResult {
  ms: number;
  total: number;
  registrations: number;
  modules: number;
  packages: string[];
}

function run(kind: Kind): ChildResult {
  const out = execFileSync(process.execPath, ['-e', childScript(kind)], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...SETTINGS }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function main(): void {
  const runs = argument('runs', 15);
  console.log(`cold start: ${runs} fresh processes each, alternating; require time of the entry point (ms)`);
  run('library'); // the first runs warm the OS file cache: not counted
  run('app');
  run('eager');
  const library: ChildResult[] = [];
  const app: ChildResult[] = [];
  const eager: ChildResult[] = [];
  for (let i = 0; i < runs; i++) {
    library.push(run('library'));
    app.push(run('app'));
    eager.push(run('eager'));
  }
  const registrations = new Set(app.map((r) => r.registrations));
  if (registrations.size !== 1 || app[0]!.registrations < 10) throw new Error(`registrations differ between runs or are missing: ${[...registrations].join(', ')}`);
  const libraryMs = median(library.map((r) => r.ms));
  const appMs = median(app.map((r) => r.ms));
  const eagerMs = median(eager.map((r) => r.ms));
  console.log(`@azure/functions alone      median ${libraryMs.toFixed(1)} ms  (${library[0]!.modules} modules)`);
  console.log(`dist/functions/*.js         median ${appMs.toFixed(1)} ms  (${app[0]!.modules} modules, ${app[0]!.registrations} registrations)`);
  console.log(`with the SDKs once loaded at import  median ${eagerMs.toFixed(1)} ms  (${eager[0]!.modules} modules: ${EAGER_SDKS.join(', ')} on top)`);
  console.log(`Azure SDK packages loaded by the entry point: ${app[0]!.packages.join(', ')}`);
  console.log(
    JSON.stringify({
      bench: 'coldstart',
      appMs: Number(appMs.toFixed(1)),
      baselineMs: Number(libraryMs.toFixed(1)),
      ratio: Number((appMs / libraryMs).toFixed(2)),
      eagerSdksMs: Number(eagerMs.toFixed(1)),
      eagerSdksRatio: Number((eagerMs / libraryMs).toFixed(2)),
      appP90Ms: Number([...app.map((r) => r.ms)].sort((a, b) => a - b)[Math.floor(runs * 0.9)]!.toFixed(1)),
      registrations: app[0]!.registrations,
      modules: app[0]!.modules,
      baselineModules: library[0]!.modules,
      sdkPackagesLoaded: app[0]!.packages,
      runs,
    }),
  );
}

main();
