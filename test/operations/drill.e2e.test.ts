import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/main';
import { DRILL_EVENTS, DRILL_LATENCY_METRIC, DRILL_NUMBER_PREFIX, runErasureDrill, runScheduledDrills } from '../../shared/drills/erasureDrill';
import { computePrivacyMetrics, EVENT_NAMES } from '../../shared/metrics';
import { rootOf } from '../../shared/runtime';
import { cli } from '../cli/support';
import { createPrivacyTenant, startPrivacyWorld, type PrivacyTenant, type PrivacyWorld } from '../privacy/support';
import { adminHeaders } from '../support/principals';
import { documentsOf } from '../whatsapp/support';

/**
 * The erasure drill against the local host: a synthetic subject (+999, an unassigned country code) written to
 * every store the tenant uses through the app's adapters (Cosmos DB contact, message and media reference, a
 * Blob media file, a HubSpot contact through the HubSpot adapter against the fake), erased through the normal
 * path, verified, and removed without a trace; the privacy figures do not count it.
 */
let world: PrivacyWorld;
beforeAll(async () => {
  world = await startPrivacyWorld({ env: { ERASURE_DRILL_TARGET_SECONDS: '60', ERASURE_DRILL_TIMEOUT_SECONDS: '30' } });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

async function optIn(tenant: PrivacyTenant, enabled: boolean): Promise<void> {
  const current = (await (await fetch(`${world.t.url}/api/tenants/${tenant.tenantId}`, { headers: adminHeaders() })).json()) as Record<string, unknown>;
  const { id: _id, createdAt: _c, updatedAt: _u, ...config } = current;
  const put = await fetch(`${world.t.url}/api/tenants/${tenant.tenantId}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ ...config, drills: { enabled } }) });
  if (put.status !== 200) throw new Error(`PUT tenant answered ${put.status}: ${await put.text()}`);
}

/** Anything of a synthetic subject anywhere: Cosmos documents (subjects, markers), blobs, HubSpot contacts. */
async function syntheticTraces(tenant: PrivacyTenant): Promise<string[]> {
  const { services } = world.t;
  const traces: string[] = [];
  for (const doc of await documentsOf(services.cosmos.subjects)) if (doc.tenantId === tenant.tenantId) traces.push(`subjects:${String(doc.type)}`);
  for (const doc of await documentsOf(services.cosmos.markers)) if (doc.tenantId === tenant.tenantId && ['tombstone', 'fence'].includes(String(doc.kind))) traces.push(`markers:${String(doc.kind)}`);
  for await (const blob of services.blobs.media.listBlobsFlat({ prefix: `${tenant.tenantId}/` })) traces.push(`blob:${blob.name}`);
  for (const contact of world.hubspot.contacts.values()) if (JSON.stringify(contact).includes(DRILL_NUMBER_PREFIX)) traces.push('hubspot:contact');
  return traces;
}

describe('erasure drills', () => {
  it('a drill passes with every store in use (Cosmos DB, Blob, HubSpot), leaves no synthetic data, and the privacy figures do not count it', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: true, messageStorage: 'encrypted', prefix: 'dr' });
    const started = new Date();
    const run = await cli(world.t.url, ['drills', 'run', '--tenant', tenant.tenantId, '--json']);
    expect(run.code, run.stderr).toBe(EXIT.ok);
    const result = JSON.parse(run.stdout) as { outcome: string; stores: string[]; leftovers: Record<string, number>; latencyMs: number; requestId: string };
    expect(result).toMatchObject({ outcome: 'passed', stores: ['cosmos', 'blob', 'hubspot'], leftovers: { cosmos: 0, blob: 0, hubspot: 0 } });
    // It really went through the stores: HubSpot saw the contact created and erased (GDPR delete).
    expect(world.hubspot.requests.some((r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts' && r.token === tenant.token)).toBe(true);
    expect(world.hubspot.requests.some((r) => r.path === '/crm/v3/objects/contacts/gdpr-delete' && r.token === tenant.token && r.status === 204)).toBe(true);
    expect(await syntheticTraces(tenant)).toEqual([]);

    const telemetry = world.t.services.telemetry;
    expect(telemetry.events).toContainEqual({ name: DRILL_EVENTS.passed, dimensions: expect.objectContaining({ tenantId: tenant.tenantId, latencyMs: result.latencyMs }) });
    expect(telemetry.metrics).toContainEqual(expect.objectContaining({ name: DRILL_LATENCY_METRIC, value: result.latencyMs, dimensions: { tenantId: tenant.tenantId, outcome: 'passed' } }));

    // The request and its audit trail are kept, marked as a drill, and no privacy figure counts them.
    const request = (await (await fetch(`${world.t.url}/api/privacy-requests/${result.requestId}`, { headers: adminHeaders() })).json()) as { status: string };
    expect(request.status).toBe('completed');
    const records = await rootOf(world.t.services).metrics.load(tenant.tenantId, new Date(started.getTime() - 60_000), new Date(Date.now() + 60_000));
    expect(records).toMatchObject({ requests: [], tombstones: [] });
    expect(records.audit.filter((e) => e.requestId === result.requestId)).toEqual([]);
    const figures = computePrivacyMetrics({ tenantId: tenant.tenantId, from: new Date(started.getTime() - 60_000), to: new Date(Date.now() + 60_000), asOf: new Date() }, records);
    expect(figures.records).toMatchObject({ requests: 0, tombstones: 0 });
  }, 60_000);

  it('with one store broken (HubSpot refuses the GDPR delete) the drill fails, emits privacy.drill.failed naming the store, and still leaves nothing behind', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: true, messageStorage: 'encrypted', prefix: 'dr' });
    world.hubspot.failNext(1, 403, /gdpr-delete$/);
    const response = await fetch(`${world.t.url}/api/tenants/${tenant.tenantId}/drills`, { method: 'POST', headers: adminHeaders() });
    expect(response.status).toBe(200);
    const result = (await response.json()) as { outcome: string; reason: string };
    expect(result).toMatchObject({ outcome: 'failed', reason: 'the erasure failed at hubspot' });
    expect(world.t.services.telemetry.events).toContainEqual({ name: DRILL_EVENTS.failed, dimensions: expect.objectContaining({ tenantId: tenant.tenantId, store: 'hubspot' }) });
    // The line the alert's query reads: the event name and the tenant id, as JSON.
    expect(await syntheticTraces(tenant)).toEqual([]);
  }, 60_000);

  it('a drill slower than its target is slow: privacy.drill.slow with the target, the alert\'s other event', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted', prefix: 'dr' });
    const result = await runErasureDrill({ ...rootOf(world.t.services).drills, targetMs: 1 }, tenant.tenantId);
    expect(result).toMatchObject({ outcome: 'slow', targetMs: 1, leftovers: { cosmos: 0, blob: 0 } });
    expect(world.t.services.telemetry.events).toContainEqual({ name: DRILL_EVENTS.slow, dimensions: expect.objectContaining({ tenantId: tenant.tenantId, targetMs: 1 }) });
    expect(await syntheticTraces(tenant)).toEqual([]);
  }, 60_000);

  it('the timer runs a drill for each tenant that opted in, and none for the others; a drill field that is not a boolean is refused, naming it', async () => {
    const inTenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted', prefix: 'dr' });
    const outTenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted', prefix: 'dr' });
    await optIn(inTenant, true);
    const results = await runScheduledDrills(rootOf(world.t.services).drills);
    const mine = results.filter((r) => r.tenantId === inTenant.tenantId || r.tenantId === outTenant.tenantId);
    expect(mine).toEqual([expect.objectContaining({ tenantId: inTenant.tenantId, outcome: 'passed', stores: ['cosmos', 'blob'] })]);
    expect(await syntheticTraces(inTenant)).toEqual([]);

    const bad = await fetch(`${world.t.url}/api/tenants/${outTenant.tenantId}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ name: 'x', phoneNumberIds: [outTenant.phoneNumberId], messageStorage: 'none', drills: { enabled: 'yes' } }) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('drills.enabled');
    expect(await cli(world.t.url, ['drills', 'run', '--tenant', 'no-such-tenant'])).toMatchObject({ code: EXIT.notFound });
  }, 60_000);
});

describe('the drill telemetry names', () => {
  it('are the names the workbook and the alert read (shared/metrics/names.ts)', () => {
    expect(DRILL_EVENTS).toEqual({ passed: EVENT_NAMES.drillPassed, failed: EVENT_NAMES.drillFailed, slow: EVENT_NAMES.drillSlow });
  });
});
