import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/main';
import type { TenantId } from '../../shared/domain';
import { computePrivacyMetrics, privacyMetricsSchema } from '../../shared/metrics';
import { messages, newPhoneNumberId, single } from '../fixtures/whatsapp/payloads';
import { AS_OF, PLANTED, recordsOf, scriptedHistory, writeHistory, type ScriptedHistory } from '../metrics/support/history';
import { startPrivacyWorld, type PrivacyWorld } from '../privacy/support';
import { eventually, uniqueTenantId } from '../support/testServices';
import { postWebhook } from '../whatsapp/support';
import { cli, printed } from './support';

const ROOT = path.resolve(__dirname, '../..');
const SUBJECT = { waId: '447700900555', name: 'Morwenna Trevithick', text: 'call me about flat 4B' };

let world: PrivacyWorld;
let url: string;
let dir: string;
let history: ScriptedHistory;

beforeAll(async () => {
  world = await startPrivacyWorld();
  url = world.t.url;
  dir = await mkdtemp(path.join(tmpdir(), 'flowkeeper-cli-'));
  history = scriptedHistory(uniqueTenantId('cm') as TenantId);
  await writeHistory(world.t.services, history);
});
afterAll(async () => {
  await world?.close();
});

async function tenantFile(config: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, `tenant-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(config));
  return file;
}

const tenantConfig = () => ({ name: 'Acme Lettings', phoneNumberIds: [newPhoneNumberId()], messageStorage: 'none', hubspot: { enabled: false } });

describe('flowkeeper tenants', () => {
  it('set creates then updates a tenant from a file; list and show print it; --json gives the API answer', async () => {
    const id = uniqueTenantId('cli');
    const config = tenantConfig();
    const file = await tenantFile(config);
    expect(await cli(url, ['tenants', 'set', id, '--file', file])).toMatchObject({ code: EXIT.ok, stdout: `tenant ${id} created\n` });
    expect(await cli(url, ['tenants', 'set', id, '--file', file])).toMatchObject({ code: EXIT.ok, stdout: `tenant ${id} updated\n` });

    const list = await cli(url, ['tenants', 'list']);
    expect(list.code).toBe(EXIT.ok);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STORAGE\s+JURISDICTION\s+NUMBERS\s+STATE$/m);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+Acme Lettings\\s+none\\s+gdpr\\s+1\\s+active$`, 'm'));

    const show = await cli(url, ['tenants', 'show', id]);
    expect(show.stdout).toMatch(/^name:\s+Acme Lettings$/m);
    expect(show.stdout).toMatch(/^messageStorage:\s+none$/m);

    const json = await cli(url, ['tenants', 'show', id, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, name: 'Acme Lettings', phoneNumberIds: config.phoneNumberIds, retention: { contactDays: 365 } });
  });

  it('a refused configuration prints the API message naming the field (exit 1); an unknown tenant exits 3; a bad file exits 2', async () => {
    const bad = await cli(url, ['tenants', 'set', uniqueTenantId('cli'), '--file', await tenantFile({ ...tenantConfig(), messageStorage: 'plaintext' })]);
    expect(bad).toMatchObject({ code: EXIT.api, stdout: '' });
    expect(bad.stderr).toBe('error: messageStorage must be one of none, hubspot, encrypted\n');
    const badJson = await cli(url, ['tenants', 'set', uniqueTenantId('cli'), '--json', '--file', await tenantFile({ ...tenantConfig(), messageStorage: 'plaintext' })]);
    expect(JSON.parse(badJson.stderr)).toEqual({ error: { message: 'messageStorage must be one of none, hubspot, encrypted', field: 'messageStorage', status: 400, exitCode: 1 } });

    const missing = await cli(url, ['tenants', 'show', 'no-such-tenant']);
    expect(missing).toMatchObject({ code: EXIT.notFound, stderr: 'error: tenant not found\n' });

    const notJson = path.join(dir, 'broken.json');
    await writeFile(notJson, '{"name": ');
    expect(await cli(url, ['tenants', 'set', 'x', '--file', notJson])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('not valid JSON') });
    expect(await cli(url, ['tenants', 'set', 'x'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--file is required for tenants set') });
  });

  it('purge needs --yes, then follows the cancellation to its end (a progress indicator on a terminal, none with --json)', async () => {
    const id = uniqueTenantId('cli');
    const config = tenantConfig();
    await cli(url, ['tenants', 'set', id, '--file', await tenantFile(config)]);
    const delivered = await postWebhook(url, single(config.phoneNumberIds[0]!, SUBJECT.waId, messages.text(SUBJECT.waId, SUBJECT.text), SUBJECT.name));
    expect(delivered.status).toBe(200);

    const refused = await cli(url, ['tenants', 'purge', id]);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toMatch(/cannot be undone: add --yes/);

    let progress = '';
    const purge = await cli(url, ['tenants', 'purge', id, '--yes', '--interval', '1', '--timeout', '60'], {
      stderrIsTTY: true,
      stderr: (text) => {
        progress += text;
      },
    });
    expect(purge.code).toBe(EXIT.ok);
    expect(purge.stdout).toMatch(new RegExp(`^tenant ${id}: completed: 1 erasures requested, 1 completed, 0 running, 0 failed, 0 subjects left; configuration deleted at `));
    // Drawn in place: carriage return, erase line (ESC [K), a spinner frame, the state.
    expect(progress.replaceAll('\x1b', '<ESC>')).toMatch(/\r<ESC>\[K\S erasing: 1 erasures requested/);
    expect(progress.endsWith('\r\x1b[K')).toBe(true);
    expect((await cli(url, ['tenants', 'show', id])).code).toBe(EXIT.notFound);

    // Asked again, the finished purge is reported at once; with --json, no progress is drawn.
    let quiet = '';
    const again = await cli(url, ['tenants', 'purge', id, '--yes', '--json'], { stderrIsTTY: true, stderr: (text) => (quiet += text) });
    expect(again.code).toBe(EXIT.ok);
    expect(JSON.parse(again.stdout)).toMatchObject({ tenantId: id, status: 'completed', subjectsRemaining: 0 });
    expect(quiet).toBe('');
    expect((await cli(url, ['tenants', 'purge', 'no-such-tenant', '--yes'])).code).toBe(EXIT.notFound);
  }, 60_000);
});

describe('flowkeeper requests', () => {
  let tenantId: string;
  beforeAll(async () => {
    tenantId = uniqueTenantId('cli');
    await cli(url, ['tenants', 'set', tenantId, '--file', await tenantFile(tenantConfig())]);
  });

  it('create takes a phone number without ever printing it; status follows the request to completed with its tasks', async () => {
    const created = await cli(url, ['requests', 'create', '--tenant', tenantId, '--type', 'erasure', '--wa-id', '+44 7700 900555', '--scope', 'all']);
    expect(created.code).toBe(EXIT.ok);
    const id = /request created: ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(created.stdout).toMatch(/erasure \(all\) for tenant .*, status (received|in_progress|verifying|completed), due 20\d\d-/);

    const done = await eventually(async () => {
      const run = await cli(url, ['requests', 'status', id!]);
      return /^status:\s+completed$/m.test(run.stdout) ? run : undefined;
    }, 20_000, 'the erasure');
    expect(done.stdout).toMatch(/^STORE\s+STATUS\s+ATTEMPTS\s+FOUND\s+DELETED\s+TIME\s+NOTE$/m);
    expect(done.stdout).toMatch(/^cosmos\s+done\s+/m);
    expect(done.stdout).toMatch(/^hubspot\s+done\s+0\s+0\s+0\s+.*not (applicable|enabled)/m);

    const json = await cli(url, ['requests', 'status', id!, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, tenantId, type: 'erasure', status: 'completed' });

    // A retry of a request that did not fail is refused by the API: its message, exit 1.
    expect(await cli(url, ['requests', 'retry', id!])).toMatchObject({ code: EXIT.api, stderr: 'error: only a failed request can be retried (status completed)\n' });
    expect(await cli(url, ['requests', 'status', '00000000-0000-4000-8000-000000000000'])).toMatchObject({ code: EXIT.notFound });
    expect(await cli(url, ['requests', 'status', 'not-a-uuid'])).toMatchObject({ code: EXIT.api, stderr: expect.stringMatching(/^error: id must be a privacy request id/) });
    expect(await cli(url, ['requests', 'create', '--tenant', tenantId, '--type', 'erasure'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--wa-id is required') });
    const badNumber = await cli(url, ['requests', 'create', '--tenant', tenantId, '--type', 'erasure', '--wa-id', '+44 77']);
    expect(badNumber.code).toBe(EXIT.api);
    expect(badNumber.stderr).toMatch(/subject\.waId must be a phone number/);
  }, 40_000);

  it('overdue lists the requests past their due date with days overdue; retry re-drives a failed one', async () => {
    const overdue = await cli(url, ['requests', 'overdue', '--tenant', history.tenantId]);
    expect(overdue.code).toBe(EXIT.ok);
    expect(overdue.stdout).toMatch(/^ID\s+TENANT\s+TYPE\s+CHANNEL\s+STATUS\s+RECEIVED\s+DUE\s+OVERDUE$/m);
    const rows = overdue.stdout.trim().split('\n').slice(1);
    // Every request of the scripted January not completed is past due by now (November 2026 or later).
    expect(rows.map((r) => r.split(/\s{2,}/).slice(2, 5))).toEqual([
      ['rectification', 'admin', 'received'],
      ['objection', 'message', 'in_progress'],
      ['erasure', 'admin', 'failed'],
    ]);
    expect(rows[0]).toMatch(/\d+ days$/);
    const failed = history.requests.find((r) => r.status === 'failed')!;
    const retried = await cli(url, ['requests', 'retry', failed.id]);
    expect(retried.code).toBe(EXIT.ok);
    // Re-driven, it fails again at once (the scripted tenant has no configuration): either status may be read back.
    expect(retried.stdout).toMatch(new RegExp(`^request ${failed.id} retried: status (received|failed)\n$`));
    expect(JSON.parse((await cli(url, ['requests', 'list', '--tenant', history.tenantId, '--json'])).stdout)).toMatchObject({ count: history.requests.length });
  });

  it('audit lists the tenant\'s events for a period; a bad date is a usage error naming the option', async () => {
    const audit = await cli(url, ['audit', '--tenant', tenantId, '--from', '2026-01-01', '--to', new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)]);
    expect(audit.code).toBe(EXIT.ok);
    expect(audit.stdout).toMatch(/^AT\s+TYPE\s+ACTOR\s+REQUEST\s+SUBJECT\s+DETAILS$/m);
    expect(audit.stdout).toMatch(/tenant\.created\s+flowkeeper-cli/);
    expect(audit.stdout).toMatch(/privacy\.request\.received\s+flowkeeper-cli\s+[0-9a-f-]{36}\s+[0-9a-f]{12}…\s+type=erasure/);
    expect(audit.stdout).toMatch(/privacy\.erasure\.completed/);
    const json = JSON.parse((await cli(url, ['audit', '--tenant', tenantId, '--json', '--type', 'tenant.created'])).stdout) as { events: { type: string }[] };
    expect(json.events.map((e) => e.type)).toEqual(['tenant.created']);
    expect(await cli(url, ['audit', '--tenant', tenantId, '--from', '31/01/2026'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--from must be a date') });
  });
});

describe('flowkeeper metrics and report', () => {
  it('metrics prints the figures as a table with targets; --json is the API answer', async () => {
    const run = await cli(url, ['metrics', '--tenant', history.tenantId, '--from', '2026-01-01', '--to', '2026-01-31']);
    expect(run.code).toBe(EXIT.ok);
    const json = privacyMetricsSchema.parse(JSON.parse((await cli(url, ['metrics', '--tenant', history.tenantId, '--from', '2026-01-01', '--to', '2026-01-31', '--json'])).stdout));
    // The statuses are read at the API's asOf (now): the retry above reopened the failed request.
    const expected = computePrivacyMetrics({ tenantId: history.tenantId, from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-02-01T00:00:00Z'), asOf: new Date(json.asOf) }, recordsOf(history));
    expect(json.figures.trustCoefficient.value).toBe(expected.figures.trustCoefficient.value);
    expect(json.figures.reengagementRate).toMatchObject({ value: 0.5, reengaged: 2, erased: 4 });
    expect(run.stdout).toMatch(/^FIGURE\s+VALUE\s+TARGET\s+STATUS$/m);
    expect(run.stdout).toMatch(/^Deletion latency p95\s+8 s\s+< 5 s\s+MISSED$/m);
    expect(run.stdout).toMatch(/^Re-engagement after deletion\s+50% \(2 of 4\)\s+< 5%\s+MISSED$/m);
    expect(run.stdout).toMatch(/^Trust coefficient\s+20:1 \(100 flows : 5 deletions\)\s+> 50:1\s+MISSED$/m);
    expect(run.stdout).toMatch(/^Requests received\s+9$/m);
    expect(run.stdout).toMatch(/^Deletion requests by preceding screen: \(none\) 1, \(other\) 1, CHECKOUT 1, DELIVERY_SLOTS 1, PRICING 1$/m);
    expect(run.stdout).toMatch(/^By channel: admin 3, flow 3, message 3$/m);
    expect(AS_OF.getTime()).toBeLessThan(Date.parse(json.asOf));
    expect(await cli(url, ['metrics', '--tenant', history.tenantId, '--from', '2026-02-01', '--to', '2026-01-01'])).toMatchObject({ code: EXIT.api, stderr: 'error: to must be after from\n' });
  });

  it('report writes one self-contained HTML file', async () => {
    const out = path.join(dir, 'report.html');
    const run = await cli(url, ['report', '--tenant', history.tenantId, '--from', '2026-01-01', '--to', '2026-01-31', '--out', out]);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toMatch(new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ bytes\\)`));
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('data-chart="latency"');
    for (const phone of PLANTED.phones) expect(html).not.toContain(phone);
    expect(html).not.toContain(PLANTED.name);
  });
});

describe('flowkeeper dead-letters', () => {
  it('count, show (reasons and ids, personal fields masked) and replay with a result line (a body that can never run is kept)', async () => {
    await world.t.services.queue.send('privacy-requests', { messageId: 'cli-dl-1', body: { waId: SUBJECT.waId } });
    await eventually(async () => ((await world.t.services.queue.countDeadLetters('privacy-requests')) > 0 ? true : undefined), 10_000, 'the dead letter');

    const count = await cli(url, ['dead-letters', 'count']);
    expect(count.code).toBe(EXIT.ok);
    expect(count.stdout).toMatch(/^privacy-requests\s+1$/m);
    expect(count.stdout).toMatch(/^total: 1$/m);

    const show = await cli(url, ['dead-letters', 'show', 'privacy-requests']);
    expect(show.code).toBe(EXIT.ok);
    expect(show.stdout).toMatch(/^message cli-dl-1 \(10 deliveries, dead-lettered /m);
    expect(show.stdout).toMatch(/^ {2}reason: {6}MaxDeliveryCountExceeded$/m);
    expect(show.stdout).toMatch(/^ {2}body: {8}\{"waId":"\[masked\]"\}$/m);

    let progress = '';
    const replay = await cli(url, ['dead-letters', 'replay', '--queue', 'privacy-requests'], { stderrIsTTY: true, stderr: (text) => (progress += text) });
    expect(replay.code).toBe(EXIT.ok);
    expect(replay.stdout).toMatch(/^privacy-requests: 0 replayed, 0 re-driven, 0 stale, 1 kept; 1 dead-lettered now$/m);
    expect(progress).toContain('replaying privacy-requests: 0 of 1');
    expect(progress).toContain('replaying privacy-requests: 1 of 1');
    expect(await cli(url, ['dead-letters', 'show', 'sms'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('queue must be one of media-downloads, hubspot-sync, privacy-requests, erasure-tasks') });
  });
});

describe('flowkeeper errors and exit codes', () => {
  it('usage errors exit 2, an unreachable host 5, a missing or refused token 4', async () => {
    expect(await cli(url, ['tenants', 'delete', 'x'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('unknown command "tenants delete x": try "tenants list"') });
    expect(await cli(url, ['tenants', 'list', '--colour'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining("Unknown option '--colour'") });
    expect(await cli(url, ['tenants', 'list', '--tenant', 'x'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--tenant is not an option of tenants list') });
    expect(await cli(url, ['tenants', 'show'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('tenants show needs <id>') });
    const help = await cli(url, ['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 the API refused, 2 usage, 3 not found, 4 authentication, 5 unreachable, 6 not finished/);
    expect(help.stdout).toMatch(/^ {2}tenants purge <id>\s+cancel the account/m);

    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = await cli(`http://127.0.0.1:${closedPort}`, ['tenants', 'list']);
    expect(unreachable.code).toBe(EXIT.unreachable);
    expect(unreachable.stderr).toBe(`error: cannot reach http://127.0.0.1:${closedPort} (ECONNREFUSED): is the local host running (npm start)?\n`);

    expect(await cli(url, ['tenants', 'list', '--auth', 'entra'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--client-id') });
    const noToken = await cli(url, ['tenants', 'list', '--auth', 'entra', '--client-id', '11111111-2222-3333-4444-555555555555'], {
      credential: async () => ({
        getToken: async () => {
          throw Object.assign(new Error('Please run az login to set up an account'), { name: 'CredentialUnavailableError' });
        },
      }),
    });
    expect(noToken.code).toBe(EXIT.auth);
    expect(noToken.stderr).toMatch(/could not get a token for api:\/\/11111111-2222-3333-4444-555555555555\/\.default from DefaultAzureCredential \(CredentialUnavailableError: Please run az login/);

    const scopes: string[] = [];
    const refused = await cli(url, ['tenants', 'list', '--auth', 'entra', '--client-id', '11111111-2222-3333-4444-555555555555'], {
      credential: async () => ({
        getToken: async (scope: string) => {
          scopes.push(scope);
          return { token: 'eyJ.not-valid-here' };
        },
      }),
    });
    // The local host does not validate bearer tokens (App Service Authentication does, in Azure): 401, exit 4.
    expect(refused).toMatchObject({ code: EXIT.auth, stderr: 'error: authentication required (x-ms-client-principal)\n' });
    expect(scopes).toEqual(['api://11111111-2222-3333-4444-555555555555/.default']);
    expect(await cli(url, ['tenants', 'list', '--url', 'http://flowkeeper.example.org'])).toMatchObject({ code: EXIT.usage });
  });

  it('the compiled dist/cli/flowkeeper.js runs as a process, with its exit code', async () => {
    const bin = path.join(ROOT, 'dist/cli/flowkeeper.js');
    expect(existsSync(bin), 'dist/cli/flowkeeper.js: run npm run build (npm test does)').toBe(true);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args, '--url', url], { env: { PATH: process.env.PATH ?? '' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const list = await run(['tenants', 'list', '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { tenants: { id: string }[] }).tenants.length).toBeGreaterThan(0);
    const missing = await run(['requests', 'status', '00000000-0000-4000-8000-000000000000']);
    expect(missing).toMatchObject({ code: 3, stdout: '', stderr: 'error: privacy request not found\n' });
    printed.push(list.stdout, list.stderr, missing.stdout, missing.stderr);
  });

  it('printed no phone number and no name in any command of this file', () => {
    const all = printed.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    for (const needle of [SUBJECT.waId, `+${SUBJECT.waId}`, '7700 900555', SUBJECT.name, SUBJECT.text, ...PLANTED.phones, PLANTED.name]) {
      expect(all.split('\n').filter((line) => line.includes(needle)), needle).toEqual([]);
    }
  });
});
