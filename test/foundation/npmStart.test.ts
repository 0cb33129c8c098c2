import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators';

const root = join(__dirname, '..', '..');
const startScript = join(root, 'dist', 'local', 'start.js');
let child: ChildProcess | undefined;

beforeAll(() => {
  if (!existsSync(startScript)) throw new Error('dist/local/start.js is missing: `npm test` builds first (npm run build)');
});
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
});

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  child = spawn(process.execPath, [startScript], {
    cwd: root,
    env: { ...process.env, ...env, COSMOS_CONNECTION: '', MEDIA_STORAGE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start (the local host as a developer runs it)', () => {
  it('starts its own emulators, answers GET /api/health with every dependency up within 60 s, and Ctrl-C stops everything', async () => {
    const port = await freePort();
    // A schedule with day names, as Azure reads it, arms the retention timer like any other.
    const run = start({ PORT: String(port), RETENTION_SCHEDULE: '0 30 2 * * MON-FRI' });
    const started = Date.now();
    let health: Response | undefined;
    while (Date.now() - started < 60_000) {
      health = await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => undefined);
      if (health?.status === 200) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(health?.status, run.output()).toBe(200);
    const body = (await health!.json()) as { dependencies: Record<string, { status: string }> };
    expect(Object.values(body.dependencies).map((d) => d.status)).toEqual(['up', 'up', 'up', 'up']);

    const emulatorPorts = [...run.output().matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])).filter((p) => p !== port);
    expect(emulatorPorts.length).toBeGreaterThanOrEqual(2);
    run.child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => run.child.once('exit', resolve));
    expect(code).toBe(0);
    for (const p of [port, ...emulatorPorts]) expect(await portOpen(p)).toBe(false);
  }, 90_000);

  it('a missing or invalid setting stops start-up with a message naming it, and leaves no emulator running', async () => {
    const run = start({ PORT: String(await freePort()), WHATSAPP_APP_SECRET: '', DATA_ENCRYPTION_KEY: 'too-short', RETENTION_SCHEDULE: '0 99 * * * *' });
    const code = await new Promise<number | null>((resolve) => run.child.once('exit', resolve));
    expect(code).toBe(78);
    expect(run.output()).toMatch(/WHATSAPP_APP_SECRET is required/);
    expect(run.output()).toMatch(/DATA_ENCRYPTION_KEY must be 32 random bytes/);
    expect(run.output()).toMatch(/RETENTION_SCHEDULE must be a valid NCRONTAB expression: its minute field is not/);
    const emulatorPorts = [...run.output().matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    for (const p of emulatorPorts) expect(await portOpen(p)).toBe(false);
  }, 60_000);
});
