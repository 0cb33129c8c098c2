import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type TenantId } from '../../shared/domain';
import { DeadLetterError, InProcessQueue, QUEUE_NAMES } from '../../shared/queue';
import { retentionSchema } from '../../shared/tenants';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { daysAgo, entriesUnder, putBlob } from './support';
import { CosmosAuditLog } from '../../shared/cosmos';
import { ManualClock } from '../doubles';

let t: TestHost;
const clock = new ManualClock(new Date());
beforeAll(async () => {
  // One message already dead-lettered on hubspot-sync before the host starts (a poison message).
  const queue = new InProcessQueue({ clock });
  const stop = queue.subscribe('hubspot-sync', async () => {
    throw new DeadLetterError('UnknownTenant', 'no tenant with this id');
  });
  await queue.send('hubspot-sync', { body: { tenantId: 'gone', messageDocId: 'msg-1' } });
  await eventually(async () => (await queue.countDeadLetters('hubspot-sync')) === 1 || undefined, 5000, 'a dead letter');
  await stop();
  t = await startTestHost({}, { clock, queue });
});
afterAll(async () => {
  await t?.close();
});

let phone = 7_000_000_000 + Math.floor(Math.random() * 1_000_000);
function tenantBody(retention?: unknown) {
  phone += 1;
  return { name: 'Retention Ltd', phoneNumberIds: [String(phone)], messageStorage: 'none', ...(retention === undefined ? {} : { retention }) };
}

async function put(tenantId: string, body: unknown, headers = adminHeaders()) {
  return fetch(`${t.url}/api/tenants/${tenantId}`, { method: 'PUT', headers, body: JSON.stringify(body) });
}

/** Every retention field with its bounds, read from the schema itself: a new field is covered without editing this test. */
const fields = Object.entries(retentionSchema.shape).map(([field, schema]) => {
  const inner = schema.unwrap() as z.ZodNumber;
  return { field, min: inner.minValue ?? 1, max: inner.maxValue ?? Infinity };
});

describe('per-tenant retention settings through PUT /api/tenants', () => {
  it('has bounds for every field', () => {
    expect(fields.map((f) => f.field).sort()).toEqual(['contactDays', 'exportDays', 'flowResponseDays', 'mediaDays', 'messageDays']);
    for (const f of fields) {
      expect(f.min).toBeGreaterThanOrEqual(1);
      expect(Number.isFinite(f.max)).toBe(true);
    }
  });

  it.each(fields)('$field outside [$min, $max] or not a whole number gets a 400 naming retention.$field', async ({ field, min, max }) => {
    for (const value of [min - 1, max + 1, min + 0.5, '30']) {
      const response = await put(uniqueTenantId(), tenantBody({ [field]: value }));
      expect(response.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      const body = (await response.json()) as { error: { field: string; message: string } };
      expect(body.error.field).toBe(`retention.${field}`);
    }
    const atBounds = await put(uniqueTenantId(), tenantBody({ [field]: max }));
    expect(atBounds.status).toBe(201);
    expect(((await atBounds.json()) as { retention: Record<string, number> }).retention[field]).toBe(max);
  });

  it('an unknown retention field is refused, not ignored', async () => {
    const response = await put(uniqueTenantId(), tenantBody({ logDays: 14 }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { field: string } }).error.field).toMatch(/^retention/);
  });

  it('a change of retention is audited with who made it and the new values; an unchanged PUT is not', async () => {
    const tenantId = uniqueTenantId();
    const body = tenantBody();
    expect((await put(tenantId, body)).status).toBe(201);
    const changed = await put(tenantId, { ...body, retention: { contactDays: 180, mediaDays: 14 } }, adminHeaders('00000000-0000-0000-0000-0000000000c3'));
    expect(changed.status).toBe(200);
    expect((await put(tenantId, { ...body, retention: { contactDays: 180, mediaDays: 14 } })).status).toBe(200);
    const events = await new CosmosAuditLog(t.services.cosmos.audit, clock).query(tenantId as TenantId, new Date(0), new Date(clock.now().getTime() + 60_000), {
      type: 'tenant.retention-changed',
    });
    expect(events).toEqual([
      expect.objectContaining({
        actor: '00000000-0000-0000-0000-0000000000c3',
        details: { contactDays: 180, flowResponseDays: 90, messageDays: 30, mediaDays: 14, exportDays: 7 },
      }),
    ]);
  });
});

describe('the retention timers under the local host', () => {
  it('registers retentionSweep on the RETENTION_SCHEDULE setting and deadlineWatch on DEADLINE_WATCH_SCHEDULE', () => {
    const timers = Object.fromEntries(t.host.registrations.filter((r) => r.trigger.type === 'timerTrigger').map((r) => [r.name, r.trigger.schedule]));
    expect(timers).toMatchObject({ retentionSweep: '%RETENTION_SCHEDULE%', deadlineWatch: '%DEADLINE_WATCH_SCHEDULE%' });
  });

  it("the retentionSweep timer applies a tenant's retention to its media and audits what it removed", async () => {
    const tenantId = uniqueTenantId();
    expect((await put(tenantId, tenantBody({ mediaDays: 7, exportDays: 1 }))).status).toBe(201);
    await putBlob(t.services.blobs.media, `${tenantId}/subject/eight-days.jpg`, daysAgo(clock, 8));
    await putBlob(t.services.blobs.media, `${tenantId}/subject/six-days.jpg`, daysAgo(clock, 6));
    await putBlob(t.services.blobs.exports, `${tenantId}/request-1.json`, daysAgo(clock, 2));
    await t.host.runTimer('retentionSweep');
    expect(await entriesUnder(t.services.blobs.media, `${tenantId}/`)).toEqual([`${tenantId}/subject/six-days.jpg`]);
    expect(await entriesUnder(t.services.blobs.exports, `${tenantId}/`)).toEqual([]);
    const events = await new CosmosAuditLog(t.services.cosmos.audit, clock).query(tenantId as TenantId, new Date(0), new Date(clock.now().getTime() + 60_000), {
      type: 'retention.sweep.completed',
    });
    expect(events).toEqual([expect.objectContaining({ actor: 'system', details: expect.objectContaining({ mediaBlobs: 1, exports: 1 }) })]);
    expect(t.logs.some((line) => line.includes('[retentionSweep]') && line.includes('retention sweep completed'))).toBe(true);
  });

  it('the dead-letter count of every queue is in GET /api/health and, from the deadlineWatch timer, a metric', async () => {
    const health = (await (await fetch(`${t.url}/api/health`)).json()) as { deadLetters: Record<string, number> };
    expect(health.deadLetters).toEqual({ 'media-downloads': 0, 'hubspot-sync': 1, 'privacy-requests': 0, 'erasure-tasks': 0 });
    await t.host.runTimer('deadlineWatch');
    const metrics = t.services.telemetry.metrics.filter((m) => m.name === 'queue.dead_lettered');
    expect(metrics).toEqual(QUEUE_NAMES.map((queue) => ({ name: 'queue.dead_lettered', value: health.deadLetters[queue], dimensions: { queue } })));
    expect(t.logs.some((line) => line.includes('[deadlineWatch]') && line.includes('1 dead-lettered messages'))).toBe(true);
  });
});
