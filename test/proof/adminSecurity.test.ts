import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../local/functionsCore';
import type { TenantId } from '../../shared/domain';
import { encodePrincipal } from '../../shared/http';
import { OPERATIONS_AUDIT_TENANT } from '../../shared/metrics';
import { newPhoneNumberId } from '../fixtures/whatsapp/payloads';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { eventually, uniqueTenantId } from '../support/testServices';
import { createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';
import { CosmosAuditLog } from '../../shared/cosmos';

/**
 * The admin API's security, route by route, for every HTTP function the app registers (read from the
 * local host's registrations, so a new route cannot slip past): 401 without a principal, 403 without a
 * Flowkeeper role, 404 (exactly as for something that does not exist) for an operator of tenant A who
 * names tenant B or one of tenant B's resources, and every admin action audited with the caller's
 * object id.
 */
const PUBLIC_ROUTES = new Set(['health', 'whatsapp/webhook', 'whatsapp/flows/{tenantId}']);
const OPERATOR_A = '0a0a0a0a-0000-4000-8000-00000000000a';
const ADMIN = '0d0d0d0d-0000-4000-8000-00000000000d';

let world: ProofWorld;
let a: ProofTenant;
let b: ProofTenant;
/** Tenant B's resources: an erasure request, an access request, a failed request. Tenant A: a failed request. */
const ids = { bErasure: '', bAccess: '', bFailed: '', aFailed: '' };
let httpFunctions: Registration[];

beforeAll(async () => {
  world = await startProofWorld();
  a = await createProofTenant(world, { hubspot: true, prefix: 'sec-a' });
  b = await createProofTenant(world, { hubspot: true, prefix: 'sec-b' });
  httpFunctions = world.t.host.registrations.filter((r) => r.trigger.type === 'httpTrigger');
  const post = async (tenantId: string, type: string, waId: string) => {
    const response = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(ADMIN), body: JSON.stringify({ tenantId, type, subject: { waId } }) });
    if (response.status !== 202) throw new Error(`privacy request setup failed: ${response.status}`);
    return ((await response.json()) as { id: string }).id;
  };
  ids.bErasure = await post(b.tenantId, 'erasure', '+447700900101');
  ids.bAccess = await post(b.tenantId, 'access', '+447700900102');
  // HubSpot refuses the tenants' tokens (revoked): these erasures fail, for good, at the HubSpot step.
  world.hubspot.revokeToken(a.hubspotToken);
  world.hubspot.revokeToken(b.hubspotToken);
  ids.bFailed = await post(b.tenantId, 'erasure', '+447700900103');
  ids.aFailed = await post(a.tenantId, 'erasure', '+447700900104');
  for (const id of [ids.bFailed, ids.aFailed]) {
    await eventually(async () => {
      const view = (await (await fetch(`${world.t.url}/api/privacy-requests/${id}`, { headers: adminHeaders(ADMIN) })).json()) as { status: string };
      return view.status === 'failed' ? true : undefined;
    }, 15_000, 'the request to fail');
  }
  await eventually(async () => ((await world.t.services.queue.countDeadLetters('erasure-tasks')) >= 2 ? true : undefined), 10_000, 'the dead letters');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** The route with its parameters filled in (tenant B, a request id, a queue), for the generic checks. */
function generic(fn: Registration): Call[] {
  const route = String(fn.trigger.route);
  const path = route
    .replace('{tenantId}', b.tenantId)
    .replace('{id}', ids.bErasure)
    .replace('{queue}', 'erasure-tasks')
    .replace('{waId}', '%2B447700900101');
  return (fn.trigger.methods ?? ['GET']).map((method) => ({ method, path, ...(method === 'GET' ? {} : { body: {} }) }));
}

function send(call: Call, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${world.t.url}/api/${call.path}`, {
    method: call.method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  });
}

const tenantConfig = () => ({ name: 'Acme Lettings', phoneNumberIds: [newPhoneNumberId()], messageStorage: 'none' });

/**
 * For every admin route: what operator A sends naming tenant B (or B's resource), and the same request
 * naming something that does not exist. `filtered`: a tenant-free listing that must show A's only;
 * `admin-only`: 403 for any operator (it spans tenants); `tenant-free`: says nothing about any tenant.
 */
type CrossTenantCase =
  | { kind: 'not-found'; theirs: () => Call; missing: () => Call }
  | { kind: 'filtered'; call: () => Call; visibleIds: (body: unknown) => string[]; expected: () => string[] }
  | { kind: 'admin-only'; call: () => Call }
  | { kind: 'tenant-free'; call: () => Call };

const ghostTenant = () => uniqueTenantId('ghost');
const CASES: Record<string, CrossTenantCase> = {
  putTenant: { kind: 'not-found', theirs: () => ({ method: 'PUT', path: `tenants/${b.tenantId}`, body: tenantConfig() }), missing: () => ({ method: 'PUT', path: `tenants/${ghostTenant()}`, body: tenantConfig() }) },
  getTenant: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `tenants/${b.tenantId}` }), missing: () => ({ method: 'GET', path: `tenants/${ghostTenant()}` }) },
  listTenants: {
    kind: 'filtered',
    call: () => ({ method: 'GET', path: 'tenants' }),
    visibleIds: (body) => (body as { tenants: { id: string }[] }).tenants.map((t) => t.id),
    expected: () => [a.tenantId],
  },
  postPrivacyRequest: {
    kind: 'not-found',
    theirs: () => ({ method: 'POST', path: 'privacy-requests', body: { tenantId: b.tenantId, type: 'erasure', subject: { waId: '+447700900199' } } }),
    missing: () => ({ method: 'POST', path: 'privacy-requests', body: { tenantId: ghostTenant(), type: 'erasure', subject: { waId: '+447700900199' } } }),
  },
  listPrivacyRequests: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `privacy-requests?tenantId=${b.tenantId}` }), missing: () => ({ method: 'GET', path: `privacy-requests?tenantId=${ghostTenant()}` }) },
  getPrivacyRequest: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `privacy-requests/${ids.bErasure}` }), missing: () => ({ method: 'GET', path: `privacy-requests/${randomUUID()}` }) },
  getPrivacyRequestExport: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `privacy-requests/${ids.bAccess}/export` }), missing: () => ({ method: 'GET', path: `privacy-requests/${randomUUID()}/export` }) },
  retryPrivacyRequest: { kind: 'not-found', theirs: () => ({ method: 'POST', path: `privacy-requests/${ids.bFailed}/retry` }), missing: () => ({ method: 'POST', path: `privacy-requests/${randomUUID()}/retry` }) },
  cancelTenant: { kind: 'not-found', theirs: () => ({ method: 'POST', path: `tenants/${b.tenantId}/cancel` }), missing: () => ({ method: 'POST', path: `tenants/${ghostTenant()}/cancel` }) },
  getTenantCancellation: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `tenants/${b.tenantId}/cancellation` }), missing: () => ({ method: 'GET', path: `tenants/${ghostTenant()}/cancellation` }) },
  getSubjectMessages: {
    kind: 'not-found',
    theirs: () => ({ method: 'GET', path: `tenants/${b.tenantId}/subjects/%2B447700900101/messages` }),
    missing: () => ({ method: 'GET', path: `tenants/${ghostTenant()}/subjects/%2B447700900101/messages` }),
  },
  migrateIdentity: { kind: 'not-found', theirs: () => ({ method: 'POST', path: `tenants/${b.tenantId}/identity/migrate?dryRun=true` }), missing: () => ({ method: 'POST', path: `tenants/${ghostTenant()}/identity/migrate?dryRun=true` }) },
  getAudit: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `audit?tenantId=${b.tenantId}` }), missing: () => ({ method: 'GET', path: `audit?tenantId=${ghostTenant()}` }) },
  getPrivacyMetrics: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `privacy-metrics?tenantId=${b.tenantId}` }), missing: () => ({ method: 'GET', path: `privacy-metrics?tenantId=${ghostTenant()}` }) },
  getDeadLetterCounts: { kind: 'tenant-free', call: () => ({ method: 'GET', path: 'dead-letters' }) },
  getDeadLetters: { kind: 'admin-only', call: () => ({ method: 'GET', path: 'dead-letters/erasure-tasks' }) },
  replayDeadLetters: { kind: 'admin-only', call: () => ({ method: 'POST', path: 'dead-letters/erasure-tasks/replay' }) },
  runErasureDrill: { kind: 'not-found', theirs: () => ({ method: 'POST', path: `tenants/${b.tenantId}/drills` }), missing: () => ({ method: 'POST', path: `tenants/${ghostTenant()}/drills` }) },
  getTombstones: { kind: 'not-found', theirs: () => ({ method: 'GET', path: `tenants/${b.tenantId}/tombstones` }), missing: () => ({ method: 'GET', path: `tenants/${ghostTenant()}/tombstones` }) },
  reapplyTombstones: {
    kind: 'not-found',
    theirs: () => ({ method: 'POST', path: `tenants/${b.tenantId}/tombstones/reapply`, body: tombstoneFile(b.tenantId) }),
    missing: () => {
      const ghost = ghostTenant();
      return { method: 'POST', path: `tenants/${ghost}/tombstones/reapply`, body: tombstoneFile(ghost) };
    },
  },
};

/** An empty tombstone export of a tenant (shared/operations/tombstones.ts). */
function tombstoneFile(tenantId: string) {
  return { format: 'flowkeeper-tombstones/1', tenantId, exportedAt: new Date().toISOString(), tombstones: [] };
}

const adminRoutes = () => httpFunctions.filter((fn) => !PUBLIC_ROUTES.has(String(fn.trigger.route)));

describe('admin API security, for every registered HTTP function', () => {
  it('every HTTP function is public by name (health, webhook, flows) or an admin route with a cross-tenant case here', () => {
    const names = adminRoutes().map((fn) => fn.name);
    expect(names.length).toBeGreaterThanOrEqual(15);
    const uncovered = names.filter((name) => !(name in CASES));
    expect(uncovered, 'admin routes without a security case: add one to CASES').toEqual([]);
    expect(httpFunctions.filter((fn) => PUBLIC_ROUTES.has(String(fn.trigger.route))).map((fn) => fn.name).sort()).toEqual(['health', 'whatsappFlows', 'whatsappWebhook']);
  });

  it('without a principal, or with a forged or unreadable one, every admin route answers 401', async () => {
    const unreadable = ['not base64 at all %%%', Buffer.from('{"claims": "nope"').toString('base64'), Buffer.from('null').toString('base64'), ''];
    for (const fn of adminRoutes()) {
      for (const call of generic(fn)) {
        const bare = await send(call);
        expect(bare.status, `${call.method} ${fn.trigger.route} without a principal`).toBe(401);
        expect(await bare.json()).toEqual({ error: { message: 'authentication required (x-ms-client-principal)' } });
        for (const header of unreadable) expect((await send(call, header ? { 'x-ms-client-principal': header } : {})).status, `${call.method} ${fn.trigger.route} with ${JSON.stringify(header)}`).toBe(401);
      }
    }
  });

  it('a principal without a Flowkeeper role gets 403 on every admin route (signed in, not allowed)', async () => {
    const noRole = { 'x-ms-client-principal': encodePrincipal({ objectId: randomUUID(), roles: ['Reader', 'flowkeeper.admin'], tenants: [b.tenantId] }) };
    const noClaims = { 'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: [] })).toString('base64') };
    for (const fn of adminRoutes()) {
      for (const call of generic(fn)) {
        expect((await send(call, noRole)).status, `${call.method} ${fn.trigger.route}`).toBe(403);
        expect((await send(call, noClaims)).status, `${call.method} ${fn.trigger.route}`).toBe(403);
      }
    }
  });

  it("an operator of tenant A naming tenant B or B's resources gets 404 on every route, the same answer as for something that does not exist", async () => {
    const asA = operatorHeaders([a.tenantId], OPERATOR_A);
    for (const fn of adminRoutes()) {
      const scenario = CASES[fn.name]!;
      if (scenario.kind === 'not-found') {
        const theirs = await send(scenario.theirs(), asA);
        const missing = await send(scenario.missing(), asA);
        expect(theirs.status, `${fn.name} on tenant B`).toBe(404);
        expect(missing.status, `${fn.name} on nothing`).toBe(404);
        const [theirBody, missingBody] = [await theirs.text(), await missing.text()];
        expect(theirBody, `${fn.name}: B's 404 must not differ from a missing thing's`).toBe(missingBody);
        expect(theirBody).not.toContain(b.tenantId);
      } else if (scenario.kind === 'filtered') {
        const response = await send(scenario.call(), asA);
        expect(response.status).toBe(200);
        expect(scenario.visibleIds(await response.json())).toEqual(scenario.expected());
      } else if (scenario.kind === 'admin-only') {
        expect((await send(scenario.call(), asA)).status, fn.name).toBe(403);
        expect((await send(scenario.call(), adminHeaders(ADMIN))).status, `${fn.name} as admin`).toBe(200);
      } else {
        const response = await send(scenario.call(), asA);
        expect(response.status).toBe(200);
        expect(await response.text()).not.toContain(b.tenantId);
      }
    }
    // Nothing happened to B: its failed request was not retried, it was not cancelled, its config is unchanged.
    const bFailed = (await (await fetch(`${world.t.url}/api/privacy-requests/${ids.bFailed}`, { headers: adminHeaders(ADMIN) })).json()) as { status: string };
    expect(bFailed.status).toBe('failed');
    expect((await fetch(`${world.t.url}/api/tenants/${b.tenantId}/cancellation`, { headers: adminHeaders(ADMIN) })).status).toBe(404);
    const bTenant = (await (await fetch(`${world.t.url}/api/tenants/${b.tenantId}`, { headers: adminHeaders(ADMIN) })).json()) as { phoneNumberIds: string[] };
    expect(bTenant.phoneNumberIds).toEqual([b.phoneNumberId]);
    const bAudit = await new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock).query(b.tenantId, new Date(0), new Date(Date.now() + 60_000));
    expect(bAudit.filter((e) => e.actor === OPERATOR_A)).toEqual([]);
  });

  it("the same operator reaches its own tenant's resources on the same routes (the 404s above are about the tenant, not the route)", async () => {
    const asA = operatorHeaders([a.tenantId], OPERATOR_A);
    expect((await fetch(`${world.t.url}/api/tenants/${a.tenantId}`, { headers: asA })).status).toBe(200);
    expect((await fetch(`${world.t.url}/api/privacy-requests/${ids.aFailed}`, { headers: asA })).status).toBe(200);
    expect((await fetch(`${world.t.url}/api/audit?tenantId=${a.tenantId}`, { headers: asA })).status).toBe(200);
    expect((await fetch(`${world.t.url}/api/privacy-metrics?tenantId=${a.tenantId}`, { headers: asA })).status).toBe(200);
    const list = (await (await fetch(`${world.t.url}/api/privacy-requests`, { headers: asA })).json()) as { requests: { id: string; tenantId: string }[] };
    expect(list.requests.map((r) => r.tenantId)).toEqual(list.requests.map(() => a.tenantId));
    expect(list.requests.map((r) => r.id)).toContain(ids.aFailed);
  });

  it('every admin action (PUT tenant, POST privacy request, retry, replay, cancel, reading a subject’s messages) is audited with the caller’s object id', async () => {
    const audit = new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock);
    const since = new Date();
    const eventsOf = async (tenantId: TenantId, type: string) => (await audit.query(tenantId, since, new Date(Date.now() + 60_000), { type })).filter((e) => e.at >= since.toISOString());
    const asA = operatorHeaders([a.tenantId], OPERATOR_A);

    const put = await fetch(`${world.t.url}/api/tenants/${a.tenantId}`, { method: 'PUT', headers: asA, body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [a.phoneNumberId], messageStorage: 'none', hubspot: { enabled: true } }) });
    expect(put.status).toBe(200);
    expect(await eventsOf(a.tenantId, 'tenant.updated')).toEqual([expect.objectContaining({ actor: OPERATOR_A })]);
    expect(await eventsOf(a.tenantId, 'tenant.message-storage-changed')).toEqual([expect.objectContaining({ actor: OPERATOR_A, details: { from: 'encrypted', to: 'none' } })]);

    const created = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: asA, body: JSON.stringify({ tenantId: a.tenantId, type: 'objection', subject: { waId: '+447700900188' } }) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await eventsOf(a.tenantId, 'privacy.request.received')).filter((e) => e.requestId === id)).toEqual([expect.objectContaining({ actor: OPERATOR_A })]);

    world.hubspot.allowToken(a.hubspotToken);
    const retried = await fetch(`${world.t.url}/api/privacy-requests/${ids.aFailed}/retry`, { method: 'POST', headers: asA });
    expect(retried.status).toBe(202);
    expect(await eventsOf(a.tenantId, 'privacy.request.retried')).toEqual([expect.objectContaining({ actor: OPERATOR_A, requestId: ids.aFailed })]);

    const replayed = await fetch(`${world.t.url}/api/dead-letters/erasure-tasks/replay`, { method: 'POST', headers: adminHeaders(ADMIN) });
    expect(replayed.status).toBe(200);
    expect(await eventsOf(OPERATIONS_AUDIT_TENANT, 'queue.dead-letters.replayed')).toEqual([expect.objectContaining({ actor: ADMIN })]);

    const c = await createProofTenant(world, { prefix: 'sec-c' });
    const cancelled = await fetch(`${world.t.url}/api/tenants/${c.tenantId}/cancel`, { method: 'POST', headers: adminHeaders(ADMIN) });
    expect(cancelled.status).toBe(202);
    expect(await eventsOf(c.tenantId, 'tenant.cancellation.started')).toEqual([expect.objectContaining({ actor: ADMIN })]);

    // Reading a subject's decrypted messages is an admin action too.
    const read = await fetch(`${world.t.url}/api/tenants/${a.tenantId}/subjects/%2B447700900188/messages`, { headers: asA });
    expect(read.status).toBe(200);
    expect(await eventsOf(a.tenantId, 'subject.messages-read')).toEqual([expect.objectContaining({ actor: OPERATOR_A })]);

    // The audit trail of these actions names who, never a subject's number.
    const all = JSON.stringify([...(await audit.query(a.tenantId, since, new Date(Date.now() + 60_000))), ...(await audit.query(OPERATIONS_AUDIT_TENANT, since, new Date(Date.now() + 60_000)))]);
    for (const needle of ['447700900188', '07700 900188', '7700900104']) expect(all).not.toContain(needle);
  });
});
