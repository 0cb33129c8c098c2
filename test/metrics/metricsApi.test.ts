import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TenantId } from '../../shared/domain';
import { EVENT_NAMES, METRIC_DIMENSIONS, METRIC_NAMES, OPERATIONS_AUDIT_TENANT, type PrivacyMetrics } from '../../shared/metrics';
import type { PrivacyRequestView } from '../../shared/privacy';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { AS_OF, EXPECTED, PLANTED, scriptedHistory, writeHistory, type ScriptedHistory } from './support/history';
import { CosmosAuditLog } from '../../shared/cosmos';
import { ManualClock } from '../doubles';

let t: TestHost;
let history: ScriptedHistory;
const clock = new ManualClock(AS_OF);

beforeAll(async () => {
  t = await startTestHost({}, { clock });
  history = scriptedHistory(uniqueTenantId('mx') as TenantId);
  const put = await fetch(`${t.url}/api/tenants/${history.tenantId}`, {
    method: 'PUT',
    headers: adminHeaders(),
    body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [String(Date.now()).slice(-12)], messageStorage: 'none' }),
  });
  expect(put.status).toBe(201);
  await writeHistory(t.services, history);
});
afterAll(async () => {
  await t?.close();
});

async function get(path: string, headers: Record<string, string> = adminHeaders()) {
  const response = await fetch(`${t.url}/api/${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /api/privacy-metrics', () => {
  it('computes the scripted history written to Cosmos into the expected figures, each with its definition', async () => {
    const { status, body } = await get(`privacy-metrics?tenantId=${history.tenantId}&from=2026-01-01&to=2026-01-31`);
    expect(status).toBe(200);
    const m = body as unknown as PrivacyMetrics;
    expect(m).toMatchObject({ tenantId: history.tenantId, from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z', asOf: AS_OF.toISOString() });
    // The loader read only the period: 9 requests, January's 4 tombstones, and audit events from 30 days before it (the
    // preceding flow screens) to its end: all 110 of the history but the re-engagement of 5 February.
    expect(m.records).toEqual({ requests: 9, tombstones: 4, auditEvents: 109, unreadable: 0 });
    const f = m.figures;
    expect(f.completionRate).toMatchObject(EXPECTED.completionRate);
    expect(f.latency.value).toMatchObject(EXPECTED.latency);
    expect(f.deletionLatency.value).toMatchObject(EXPECTED.deletionLatency);
    expect(f.requestsByType.value).toEqual(EXPECTED.requestsByType);
    expect(f.requestsByChannel.value).toEqual(EXPECTED.requestsByChannel);
    expect(f.overdue.value).toBe(EXPECTED.overdue);
    expect(f.failed).toMatchObject({ value: EXPECTED.failed, byStore: EXPECTED.failedByStore });
    expect(f.completedLate.value).toBe(EXPECTED.completedLate);
    expect(f.reengagementRate).toMatchObject(EXPECTED.reengagement);
    expect(f.trustCoefficient).toMatchObject(EXPECTED.trust);
    expect(f.deletionsByScreen.value).toEqual(EXPECTED.deletionsByScreen);
    for (const figure of Object.values(f)) expect(figure.definition.length).toBeGreaterThan(40);
    const text = JSON.stringify(body);
    for (const phone of PLANTED.phones) expect(text).not.toContain(phone);
    expect(text).not.toContain(PLANTED.name);
  });

  it('answers 400 naming the field for a missing tenant, a bad date, a reversed or too long period', async () => {
    const cases: [string, string, RegExp][] = [
      ['privacy-metrics?from=2026-01-01', 'tenantId', /tenantId is required/],
      [`privacy-metrics?tenantId=Not_A_Tenant`, 'tenantId', /lowercase/],
      [`privacy-metrics?tenantId=${history.tenantId}&from=last-monday`, 'from', /from must be a date/],
      [`privacy-metrics?tenantId=${history.tenantId}&to=2026-13-01`, 'to', /to must be a date/],
      [`privacy-metrics?tenantId=${history.tenantId}&from=2026-02-01&to=2026-01-01`, 'to', /to must be after from/],
      [`privacy-metrics?tenantId=${history.tenantId}&from=2024-01-01&to=2026-01-01`, 'to', /at most 366 days/],
    ];
    for (const [path, field, message] of cases) {
      const { status, body } = await get(path);
      expect(status, path).toBe(400);
      expect((body as { error: { field: string; message: string } }).error).toMatchObject({ field, message: expect.stringMatching(message) });
    }
  });

  it('needs a principal, and an operator of another tenant gets 404 while one of this tenant gets the figures', async () => {
    expect((await fetch(`${t.url}/api/privacy-metrics?tenantId=${history.tenantId}`)).status).toBe(401);
    expect((await get(`privacy-metrics?tenantId=${history.tenantId}`, operatorHeaders(['someone-else']))).status).toBe(404);
    expect((await get(`privacy-metrics?tenantId=${history.tenantId}&from=2026-01-01&to=2026-01-31`, operatorHeaders([history.tenantId]))).status).toBe(200);
  });

  it('the hourly timer emits every tenant\'s figures as metrics with allowed dimensions only', async () => {
    t.services.telemetry.metrics.length = 0;
    t.services.telemetry.events.length = 0;
    await t.host.runTimer('emitPrivacyMetrics');
    const mine = t.services.telemetry.metrics.filter((m) => m.dimensions.tenantId === history.tenantId);
    expect(mine.map((m) => m.name)).toEqual(expect.arrayContaining([METRIC_NAMES.requests, METRIC_NAMES.overdue, METRIC_NAMES.failed]));
    expect(t.services.telemetry.events).toContainEqual({ name: EVENT_NAMES.computed, dimensions: { tenantId: history.tenantId } });
    for (const m of t.services.telemetry.metrics) for (const key of Object.keys(m.dimensions)) expect(METRIC_DIMENSIONS as readonly string[]).toContain(key);
    // 21 January – 20 February: r7 (rectification, 28 Jan) and r8 (erasure, 25 Jan) were received in the window.
    const requests = Object.fromEntries(mine.filter((m) => m.name === METRIC_NAMES.requests).map((m) => [m.dimensions.type, m.value]));
    expect(requests).toEqual({ erasure: 1, access: 0, rectification: 1, restriction: 0, objection: 0 });
  });
});

describe('GET /api/privacy-requests (the list)', () => {
  it('lists a tenant\'s overdue requests (failed ones included), newest first, without the subject', async () => {
    const { status, body } = await get(`privacy-requests?tenantId=${history.tenantId}&overdue=true`);
    expect(status).toBe(200);
    const requests = body.requests as PrivacyRequestView[];
    expect(requests.map((r) => [r.type, r.status])).toEqual([
      ['objection', 'in_progress'],
      ['erasure', 'failed'],
    ]);
    expect(body).toMatchObject({ count: 2, unreadable: 0, asOf: AS_OF.toISOString() });
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/subjectHash|subjectRef|openKey/);
  });

  it('filters by status, and an operator without a tenantId sees only their tenants', async () => {
    const failed = await get(`privacy-requests?tenantId=${history.tenantId}&status=failed`);
    expect((failed.body.requests as PrivacyRequestView[]).map((r) => r.failure?.store)).toEqual(['hubspot']);
    const all = await get(`privacy-requests?tenantId=${history.tenantId}&limit=500`);
    expect(all.body.count).toBe(history.requests.length);
    const operator = await get('privacy-requests?status=failed', operatorHeaders([history.tenantId]));
    expect((operator.body.requests as PrivacyRequestView[]).every((r) => r.tenantId === history.tenantId)).toBe(true);
    expect(operator.body.count).toBe(1);
    const stranger = await get('privacy-requests', operatorHeaders(['someone-else']));
    expect(stranger.body.count).toBe(0);
    expect((await get(`privacy-requests?tenantId=${history.tenantId}`, operatorHeaders(['someone-else']))).status).toBe(404);
  });

  it('answers 400 naming the field for a bad status, overdue or limit', async () => {
    for (const [query, field] of [
      ['status=done', 'status'],
      ['overdue=yes', 'overdue'],
      ['limit=0', 'limit'],
      ['limit=ten', 'limit'],
    ]) {
      const { status, body } = await get(`privacy-requests?${query}`);
      expect(status, query).toBe(400);
      expect((body as { error: { field: string } }).error.field, query).toBe(field);
    }
  });
});

describe('dead letters', () => {
  it('counts per queue, shows reason and ids with personal-looking fields masked, and an admin replays them, audited', async () => {
    // A privacy-requests message without a request id fails every delivery (InvalidMessage): as the Functions host
    // does, the queue redelivers it until the max delivery count and dead-letters it (MaxDeliveryCountExceeded).
    await t.services.queue.send('privacy-requests', { messageId: 'dl-1', body: { waId: PLANTED.phones[0], note: 'no request id' } });
    await eventually(async () => ((await t.services.queue.countDeadLetters('privacy-requests')) > 0 ? true : undefined), 10_000, 'the dead letter');

    const counts = await get('dead-letters', operatorHeaders([history.tenantId]));
    expect(counts.status).toBe(200);
    expect(counts.body).toMatchObject({ queues: { 'privacy-requests': 1, 'media-downloads': 0, 'hubspot-sync': 0, 'erasure-tasks': 0 }, total: 1, unavailable: [] });

    expect((await get('dead-letters/privacy-requests', operatorHeaders([history.tenantId]))).status).toBe(403);
    const shown = await get('dead-letters/privacy-requests');
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ queue: 'privacy-requests', count: 1, messages: [{ messageId: 'dl-1', reason: 'MaxDeliveryCountExceeded', body: { waId: '[masked]', note: 'no request id' } }] });
    expect(JSON.stringify(shown.body)).not.toContain(PLANTED.phones[0]);

    const bad = await get('dead-letters/sms-outbox');
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { field: string } }).error.field).toBe('queue');

    const forbidden = await fetch(`${t.url}/api/dead-letters/privacy-requests/replay`, { method: 'POST', headers: operatorHeaders([history.tenantId]) });
    expect(forbidden.status).toBe(403);
    const replay = await fetch(`${t.url}/api/dead-letters/privacy-requests/replay?max=10`, { method: 'POST', headers: adminHeaders('00000000-0000-0000-0000-00000000dead') });
    expect(replay.status).toBe(200);
    // It has no request id, so it would fail again: the replay keeps it (for an operator) and counts it.
    expect((await replay.json()) as Record<string, unknown>).toMatchObject({ queue: 'privacy-requests', replayed: 0, kept: 1, remaining: 1 });
    const events = await new CosmosAuditLog(t.services.cosmos.audit, clock).query(OPERATIONS_AUDIT_TENANT, new Date(0), new Date(AS_OF.getTime() + 1000));
    expect(events).toContainEqual(expect.objectContaining({ type: 'queue.dead-letters.replayed', actor: '00000000-0000-0000-0000-00000000dead', details: { queue: 'privacy-requests', replayed: 0, redriven: 0, stale: 0, kept: 1, max: 10 } }));
    expect(t.services.telemetry.events).toContainEqual({ name: EVENT_NAMES.deadLettersReplayed, dimensions: { queue: 'privacy-requests', count: 0, redriven: 0, stale: 0, kept: 1 } });
  });
});
