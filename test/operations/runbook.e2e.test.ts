import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, EXIT } from '../../cli/main';
import { cli } from '../cli/support';
import { createPrivacyTenant, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from '../privacy/support';
import { eventually } from '../support/testServices';

/**
 * The CLI parts of the runbook (docs/operations.md), checked two ways: every `flowkeeper …` command the page
 * names exists with the options it is given; and the tasks' command sequences, run against the local host,
 * print what the page says the operator sees when it worked.
 */
const ROOT = path.resolve(__dirname, '../..');
const RUNBOOK = readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
const GLOBAL = ['url', 'client-id', 'auth', 'json', 'help'];

/** Every `flowkeeper …` invocation written in the page (inline code and code blocks), up to a pipe, redirect or end. */
function runbookCommands(): string[] {
  const found = new Set<string>();
  for (const match of RUNBOOK.matchAll(/flowkeeper ((?:[a-z-]+ ?)+(?:[^`\n|>#]*))/g)) found.add(match[1]!.trim());
  return [...found];
}

describe('the runbook names only commands the CLI has', () => {
  it('each flowkeeper command in docs/operations.md exists, with options it accepts', () => {
    const commands = runbookCommands();
    expect(commands.length).toBeGreaterThan(15);
    const problems: string[] = [];
    for (const text of commands) {
      const words = text.split(/\s+/).filter((w) => /^[a-z][a-z-]*$/.test(w));
      const command = COMMANDS.find((c) => c.words.every((w, i) => words[i] === w));
      if (!command) {
        problems.push(`no command for "flowkeeper ${text}"`);
        continue;
      }
      for (const option of text.matchAll(/--([a-z-]+)/g)) {
        if (!command.options.includes(option[1]!) && !GLOBAL.includes(option[1]!)) problems.push(`"flowkeeper ${text}": --${option[1]} is not an option of ${command.words.join(' ')}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

let world: PrivacyWorld;
beforeAll(async () => {
  world = await startPrivacyWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe('the runbook tasks, run with the CLI against the local host', () => {
  it('A privacy request failed: status gives the store and reason, retry re-drives it, status then shows completed, the audit records the retry', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true, prefix: 'rb' });
    const subject = newSubject();
    hubspot.addContact({ firstname: 'Morwenna', mobilephone: `0${subject.waId.slice(2)}` });
    hubspot.revokeToken(tenant.token);
    const id = ((await (await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } })).json()) as { id: string }).id;
    await waitForStatus(t, id, ['failed']);

    const status = await cli(t.url, ['requests', 'status', id]);
    expect(status.stdout).toMatch(/^status:\s+failed$/m);
    expect(status.stdout).toMatch(/^failed:\s+.* in hubspot: HubSpot answered 401 on contact search/m);

    // The failed task's message is redelivered until the broker dead-letters it (the alert on the queue fires too).
    await eventually(async () => ((await t.services.queue.countDeadLetters('erasure-tasks')) > 0 ? true : undefined), 10_000, 'the dead letter');
    hubspot.allowToken(tenant.token); // the cause fixed
    const retry = await cli(t.url, ['requests', 'retry', id]);
    expect(retry.code).toBe(EXIT.ok);
    expect(retry.stdout).toMatch(new RegExp(`^request ${id} retried: status in_progress$`, 'm'));
    await waitForStatus(t, id, ['completed']);
    expect((await cli(t.url, ['requests', 'status', id])).stdout).toMatch(/^status:\s+completed$/m);
    const audit = await cli(t.url, ['audit', '--tenant', tenant.tenantId, '--type', 'privacy.request.retried']);
    expect(audit.stdout).toContain(id);

    // Its task's dead letter is stale now: the replay completes it and the queue is empty.
    const replay = await cli(t.url, ['dead-letters', 'replay', '--queue', 'erasure-tasks']);
    expect(replay.stdout).toMatch(/^erasure-tasks: 0 replayed, 0 re-driven, 1 stale, 0 kept; 0 dead-lettered now$/m);
    expect((await cli(t.url, ['dead-letters', 'count'])).stdout).toMatch(/^total: 0$/m);
  }, 60_000);

  it('A privacy request is overdue / a backing store is down: the listing commands answer', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, prefix: 'rb' });
    expect(await cli(world.t.url, ['requests', 'overdue', '--tenant', tenant.tenantId])).toMatchObject({ code: EXIT.ok, stdout: 'no overdue requests\n' });
    expect(await cli(world.t.url, ['requests', 'list', '--status', 'failed', '--tenant', tenant.tenantId])).toMatchObject({ code: EXIT.ok, stdout: 'no requests\n' });
  });

  it('An erasure drill failed or was slow: drills run prints the outcome and what was left', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: true, prefix: 'rb' });
    const drill = await cli(world.t.url, ['drills', 'run', '--tenant', tenant.tenantId]);
    expect(drill.code).toBe(EXIT.ok);
    expect(drill.stdout).toMatch(new RegExp(`^erasure drill passed for ${tenant.tenantId} in [\\d.]+ s \\(target 120 s\\)$`, 'm'));
    expect(drill.stdout).toMatch(/^stores: cosmos, blob, hubspot; left afterwards: cosmos 0, blob 0, hubspot 0$/m);
  }, 60_000);

  it('Purging a tenant: purge --yes completes and the tenant is gone (exit 3)', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, prefix: 'rb' });
    const purge = await cli(world.t.url, ['tenants', 'purge', tenant.tenantId, '--yes', '--interval', '1', '--timeout', '60']);
    expect(purge.code, purge.stderr).toBe(EXIT.ok);
    expect(purge.stdout).toMatch(new RegExp(`^tenant ${tenant.tenantId}: completed: .* 0 subjects left; configuration deleted at `, 'm'));
    expect((await cli(world.t.url, ['tenants', 'show', tenant.tenantId])).code).toBe(EXIT.notFound);
  }, 90_000);
});
