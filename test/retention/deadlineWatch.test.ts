import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TenantId } from '../../shared/domain';
import { DeadLetterError, InProcessQueue, QUEUE_NAMES } from '../../shared/queue';
import { reportDeadLetters, watchDeadlines, type DeadlineWatchPorts } from '../../shared/retention';
import { eventually, testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { DAY_MS } from './support';
import { CosmosAuditLog, CosmosMarkerStore, cosmosRequestDeadlines } from '../../shared/cosmos';
import { ManualClock, RecordingTelemetry } from '../doubles';

let s: TestServices;
const clock = new ManualClock(new Date('2026-04-10T09:00:00Z'));
beforeAll(async () => {
  s = await testServices({}, { clock });
});
afterAll(async () => {
  await s?.close();
});

/** A privacy request document as the privacy engine stores it (only the fields the watch reads, plus noise). */
async function request(tenantId: string, status: string, dueInDays: number, type = 'erasure'): Promise<string> {
  const id = randomUUID();
  const now = clock.now();
  await s.cosmos.privacyRequests.items.create({
    id,
    tenantId,
    type,
    status,
    receivedAt: new Date(now.getTime() - (30 - dueInDays) * DAY_MS).toISOString(),
    dueAt: new Date(now.getTime() + dueInDays * DAY_MS).toISOString(),
    subjectHash: 'a'.repeat(64),
    tasks: [],
    ttl: -1,
  });
  return id;
}

function portsFor(telemetry: RecordingTelemetry, tenants: string[]): DeadlineWatchPorts {
  return {
    requests: cosmosRequestDeadlines(s.cosmos.privacyRequests),
    tenants: { list: async () => tenants.map((id) => ({ id: id as TenantId })) },
    audit: new CosmosAuditLog(s.cosmos.audit, clock),
    markers: new CosmosMarkerStore(s.cosmos.markers, clock),
    telemetry,
    clock,
  };
}

describe('deadline watch', () => {
  it('a request not completed within DEADLINE_ALERT_DAYS of its due date raises the alert event, the metric and one audit event', async () => {
    const tenantId = uniqueTenantId('dl');
    const quiet = uniqueTenantId('dl');
    const atRisk = await request(tenantId, 'in_progress', 5);
    await request(tenantId, 'completed', 2); // done: no alert
    await request(tenantId, 'received', 20); // far from its deadline
    const telemetry = new RecordingTelemetry();

    const result = await watchDeadlines(portsFor(telemetry, [tenantId, quiet]), { alertDays: 7 });

    const mine = result.atRisk.filter((r) => r.tenantId === tenantId);
    expect(mine).toEqual([expect.objectContaining({ requestId: atRisk, type: 'erasure', status: 'in_progress', daysLeft: 5, pastDue: false })]);
    expect(telemetry.events).toContainEqual({
      name: 'privacy.request.overdue',
      dimensions: { tenantId, requestId: atRisk, type: 'erasure', status: 'in_progress', dueAt: new Date(clock.now().getTime() + 5 * DAY_MS).toISOString(), daysLeft: 5 },
    });
    expect(telemetry.metrics).toContainEqual({ name: 'privacy.requests.at_risk', value: 1, dimensions: { tenantId } });
    expect(telemetry.metrics).toContainEqual({ name: 'privacy.requests.at_risk', value: 0, dimensions: { tenantId: quiet } });
    const audit = await new CosmosAuditLog(s.cosmos.audit, clock).query(tenantId as TenantId, new Date(0), new Date(clock.now().getTime() + DAY_MS));
    expect(audit).toEqual([
      expect.objectContaining({ type: 'privacy.request.deadline-at-risk', requestId: atRisk, actor: 'system', details: expect.objectContaining({ daysLeft: 5, alertDays: 7 }) }),
    ]);
    // Nothing in the telemetry but ids, enums, dates and counts: the subject hash is not even read.
    expect(JSON.stringify(telemetry.events)).not.toContain('a'.repeat(64));
  });

  it('the alert repeats every run while the request stays open, the audit event does not; a missed deadline is audited once more', async () => {
    const tenantId = uniqueTenantId('dl');
    const id = await request(tenantId, 'failed', 3, 'access');
    const start = clock.now();
    const runs: RecordingTelemetry[] = [];
    try {
      for (const advanceDays of [0, 1, 4, 5]) {
        clock.set(new Date(start.getTime() + advanceDays * DAY_MS));
        const telemetry = new RecordingTelemetry();
        runs.push(telemetry);
        await watchDeadlines(portsFor(telemetry, [tenantId]), { alertDays: 7 });
      }
      const daysLeft = runs.map((t) => t.events.find((e) => e.dimensions.requestId === id)?.dimensions.daysLeft);
      expect(daysLeft).toEqual([3, 2, -1, -2]);
      expect(runs[3]?.metrics).toContainEqual({ name: 'privacy.requests.past_due', value: 1, dimensions: { tenantId } });
      const audit = await new CosmosAuditLog(s.cosmos.audit, clock).query(tenantId as TenantId, new Date(0), new Date(clock.now().getTime() + DAY_MS));
      expect(audit.map((e) => e.type)).toEqual(['privacy.request.deadline-at-risk', 'privacy.request.deadline-missed']);
    } finally {
      clock.set(start);
    }
  });

  it('a completed request raises nothing, even long past its due date', async () => {
    const tenantId = uniqueTenantId('dl');
    await request(tenantId, 'completed', -10);
    const telemetry = new RecordingTelemetry();
    const result = await watchDeadlines(portsFor(telemetry, [tenantId]), { alertDays: 7 });
    expect(result.atRisk.filter((r) => r.tenantId === tenantId)).toEqual([]);
    expect(telemetry.metrics).toContainEqual({ name: 'privacy.requests.at_risk', value: 0, dimensions: { tenantId } });
  });

  it('a request document it cannot read is reported by id, not skipped silently', async () => {
    const tenantId = uniqueTenantId('dl');
    const id = randomUUID();
    await s.cosmos.privacyRequests.items.create({ id, tenantId, status: 'received', dueAt: new Date(clock.now().getTime() + DAY_MS).toISOString(), ttl: -1 });
    const telemetry = new RecordingTelemetry();
    const result = await watchDeadlines(portsFor(telemetry, [tenantId]), { alertDays: 7 });
    expect(result.unreadable).toBeGreaterThanOrEqual(1);
    expect(telemetry.events).toContainEqual({ name: 'privacy.request.unreadable', dimensions: { requestId: id, fields: 'type' } });
  });
});

describe('dead-letter report', () => {
  it('emits queue.dead_lettered per queue with the count of dead-lettered messages', async () => {
    const queue = new InProcessQueue({ clock: new ManualClock() });
    const stop = queue.subscribe('hubspot-sync', async () => {
      throw new DeadLetterError('UnknownTenant', 'no tenant with this id');
    });
    await queue.send('hubspot-sync', [{ body: { contactId: '1' } }, { body: { contactId: '2' } }]);
    await eventually(async () => (await queue.countDeadLetters('hubspot-sync')) === 2 || undefined, 5000, 'two dead letters');
    await stop();
    const telemetry = new RecordingTelemetry();
    const counts = await reportDeadLetters({ queue, telemetry });
    expect(counts['hubspot-sync']).toBe(2);
    expect(telemetry.metrics).toEqual(QUEUE_NAMES.map((name) => ({ name: 'queue.dead_lettered', value: name === 'hubspot-sync' ? 2 : 0, dimensions: { queue: name } })));
    await queue.close();
  });

  it('a queue whose count cannot be read is reported as unavailable, never as 0', async () => {
    const telemetry = new RecordingTelemetry();
    const broken = {
      countDeadLetters: async (name: string) => {
        if (name === 'erasure-tasks') throw new Error('ServiceBusError: namespace unreachable');
        return 0;
      },
      peekDeadLetters: async () => [],
      replayDeadLetters: async () => 0,
    };
    const counts = await reportDeadLetters({ queue: broken, telemetry });
    expect(counts['erasure-tasks']).toBeUndefined();
    expect(telemetry.metrics.find((m) => m.dimensions.queue === 'erasure-tasks')).toBeUndefined();
    expect(telemetry.events).toEqual([{ name: 'queue.dead_lettered.unavailable', dimensions: { queue: 'erasure-tasks', error: 'Error' } }]);
  });
});
