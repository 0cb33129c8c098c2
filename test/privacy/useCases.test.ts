import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OperationResponse } from '@azure/cosmos';
import { hashSubject } from '../../shared/crypto';
import { type TenantId, type WaId } from '../../shared/domain';
import { createPrivacyRequest, DEFAULT_RETRY_POLICY, dueDateOf, processPrivacyRequest, reconcilePrivacyRequests, retryPrivacyRequest, runErasureTask, StoreRegistry, viewOf, type PersonalDataStore, type PrivacyDeps, type PrivacyRequestView } from '../../shared/privacy';
import { InProcessQueue } from '../../shared/queue';
import { retryDelayMs, throttledDelayMs } from '../../shared/retry';
import { mediaPrefixFor } from '../../shared/storage';
import { lifetime } from '../../shared/subjects';
import { tenantInputSchema } from '../../shared/tenants';
import { eventually, testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { CosmosAuditLog } from '../../shared/cosmos';
import { buildPrivacyDeps, rootOf } from '../../shared/runtime';
import { ManualClock } from '../doubles';
import { pkOfWaId } from '../support/subjects';

let services: TestServices;
beforeAll(async () => {
  services = await testServices();
});
afterAll(async () => {
  await services?.close();
});

async function tenant(config: Partial<Record<string, unknown>> = {}): Promise<TenantId> {
  const id = uniqueTenantId('uc') as TenantId;
  await rootOf(services).tenants.put(id, tenantInputSchema.parse({ name: 'Acme Lettings', phoneNumberIds: [String(Date.now()).slice(-12)], messageStorage: 'encrypted', ...config }));
  return id;
}

/** The two queue triggers, as the host runs them, on a queue of the test's own. */
function startWorkers(deps: PrivacyDeps, queue: InProcessQueue): () => Promise<void> {
  const stops = [
    queue.subscribe('privacy-requests', async (m) => void (await processPrivacyRequest(deps, m.body))),
    queue.subscribe('erasure-tasks', async (m) => void (await runErasureTask(deps, m.body))),
  ];
  return async () => {
    for (const stop of stops) await stop();
  };
}

async function seedDocuments(tenantId: TenantId, waId: WaId, count: number, type = 'message'): Promise<void> {
  const pk = pkOfWaId(tenantId, waId);
  const now = new Date();
  for (let i = 0; i < count; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, count - i) }, (_, j) =>
        services.cosmos.subjects.items.create({ id: `${type}-${i + j}`, pk, tenantId, type, createdAt: now.toISOString(), ...lifetime(now, 3600), messageId: `m${i + j}`, direction: 'inbound', messageType: 'text', ciphertext: 'x', keyId: 'k', sentAt: now.toISOString() }),
      ),
    );
  }
}

async function waitFor(deps: PrivacyDeps, id: string, statuses: string[]): Promise<PrivacyRequestView> {
  return eventually(async () => {
    const doc = await deps.requests.get(id);
    return doc && statuses.includes(doc.status) ? viewOf(doc) : undefined;
  }, 15_000);
}

describe('domain rules', () => {
  it('the GDPR month ends on the same date next month, or that month\'s last day; CCPA is 45 days', () => {
    expect(dueDateOf(new Date('2026-01-31T10:00:00Z'), 'gdpr').toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(dueDateOf(new Date('2028-01-31T10:00:00Z'), 'gdpr').toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(dueDateOf(new Date('2026-12-15T23:59:00Z'), 'gdpr').toISOString()).toBe('2027-01-15T23:59:00.000Z');
    expect(dueDateOf(new Date('2026-03-31T00:00:00Z'), 'gdpr').toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(dueDateOf(new Date('2026-01-01T00:00:00Z'), 'ccpa').toISOString()).toBe('2026-02-15T00:00:00.000Z');
  });

  it('a privacy task backs off within 2 s after its first failure, doubling up to 5 minutes, never sooner than 80 % of that', () => {
    const policy = DEFAULT_RETRY_POLICY;
    const delay = (failures: number, r: number) => retryDelayMs(policy, { failures, random: () => r });
    expect([1, 2, 3, 4].map((n) => delay(n, 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(delay(1, 0)).toBe(1600);
    expect(delay(20, 1)).toBe(5 * 60_000);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(policy, { failures: 3 })));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d).toBeGreaterThanOrEqual(6400);
  });

  it('after a 429 the wait is never shorter than Retry-After, and spread by up to a quarter so a burst does not come back at once', () => {
    const policy = DEFAULT_RETRY_POLICY;
    expect(throttledDelayMs(policy, 3000, () => 0)).toBe(3000);
    expect(throttledDelayMs(policy, 3000, () => 1)).toBe(3750);
    expect(throttledDelayMs(policy, undefined, () => 0)).toBe(10_000); // no Retry-After: 10 s
    expect(throttledDelayMs(policy, 0, () => 0)).toBe(1000); // "come back now" would spend the budget at once
    const spread = new Set(Array.from({ length: 50 }, () => throttledDelayMs(policy, 2000)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d).toBeGreaterThanOrEqual(2000);
  });
});

describe('request documents under concurrency', () => {
  it('the emulator rejects a write with a stale etag (412), so concurrent task completions cannot overwrite each other', async () => {
    const deps = buildPrivacyDeps(services, { queue: new InProcessQueue() });
    const tenantId = await tenant();
    const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: '447700900901' as WaId }, type: 'erasure', channel: 'admin' });
    if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
    const id = created.request.id;
    const { resource } = await services.cosmos.privacyRequests.item(id, id).read<Record<string, unknown>>();
    await services.cosmos.privacyRequests.item(id, id).replace({ ...resource!, touched: 1 }, { accessCondition: { type: 'IfMatch', condition: String(resource!._etag) } });
    await expect(services.cosmos.privacyRequests.item(id, id).replace({ ...resource!, touched: 2 }, { accessCondition: { type: 'IfMatch', condition: String(resource!._etag) } })).rejects.toMatchObject({ code: 412 });

    const stores = ['cosmos', 'blob', 'hubspot', 'exports'] as const;
    await deps.requests.mutate(id, (d) => ({ ...d, status: 'in_progress', tasks: stores.map((store) => ({ store, status: 'running', attempts: 1, generation: 0, rateLimited: 0, counts: { found: 0, deleted: 0 } })) }));
    await Promise.all(
      stores.map((store, i) =>
        deps.requests.mutate(id, (d) => {
          const task = d.tasks.find((t) => t.store === store)!;
          task.status = 'done';
          task.counts = { found: i + 1, deleted: i + 1 };
          return d;
        }),
      ),
    );
    const after = await deps.requests.get(id);
    expect(after!.tasks.map((t) => [t.store, t.status, t.counts.deleted])).toEqual(stores.map((s, i) => [s, 'done', i + 1]));
  });
});

describe('the Cosmos eraser', () => {
  it('erases a partition of 250 documents in transactional batches of at most 100 operations, each naming its partition', async () => {
    const deps = buildPrivacyDeps(services);
    const tenantId = await tenant();
    const waId = '447700900902' as WaId;
    await seedDocuments(tenantId, waId, 250);
    const batch = vi.spyOn(services.cosmos.subjects.items, 'batch');
    const subjectHash = await hashSubject(services.secrets, tenantId, waId);
    const subject = { tenant: (await deps.tenants.get(tenantId))!, tenantId, identifier: { kind: 'waId' as const, value: waId }, subjectHash, subjectHashes: [subjectHash] };
    const outcome = await deps.registry.get('cosmos').eraseSubject(subject, 'all');
    expect(outcome).toEqual({ found: 250, deleted: 250 });
    expect(batch.mock.calls.map(([ops]) => ops.length)).toEqual([100, 100, 50]);
    for (const [ops, pk] of batch.mock.calls) {
      expect(pk).toBe(pkOfWaId(tenantId, waId));
      // (the SDK normalises the key to its array form once sent)
      expect(ops.every((op) => 'partitionKey' in op && JSON.stringify(op.partitionKey).includes(String(pk)))).toBe(true);
    }
    expect(await deps.registry.get('cosmos').verifyErased(subject, 'all')).toBe(0);
    batch.mockRestore();
  });

  it('a batch failed by one document already gone (real Cosmos: 404 and 424 for the rest) finishes one by one; a re-run finds nothing left', async () => {
    const deps = buildPrivacyDeps(services);
    const tenantId = await tenant();
    const waId = '447700900903' as WaId;
    await seedDocuments(tenantId, waId, 30);
    const pk = pkOfWaId(tenantId, waId);
    // As real Cosmos answers a batch with a missing document: nothing applied, 404 for it, 424 for the others.
    const batch = vi.spyOn(services.cosmos.subjects.items, 'batch').mockImplementationOnce(async (ops) => {
      await services.cosmos.subjects.item('message-0', pk).delete(); // deleted by a concurrent run
      return { result: ops.map((_, i) => ({ statusCode: i === 0 ? 404 : 424 }) as OperationResponse), headers: {}, code: 207, diagnostics: undefined as never } as never;
    });
    const subject = { tenant: (await deps.tenants.get(tenantId))!, tenantId, identifier: { kind: 'waId' as const, value: waId }, subjectHash: await hashSubject(services.secrets, tenantId, waId), subjectHashes: [await hashSubject(services.secrets, tenantId, waId)] };
    const outcome = await deps.registry.get('cosmos').eraseSubject(subject, 'all');
    expect(outcome).toEqual({ found: 30, deleted: 29 });
    expect(await deps.registry.get('cosmos').verifyErased(subject, 'all')).toBe(0);
    expect(await deps.registry.get('cosmos').eraseSubject(subject, 'all')).toEqual({ found: 0, deleted: 0 });
    batch.mockRestore();
  });
});

describe('verification', () => {
  /** The Cosmos store, with a webhook that races the eraser and writes a document right after it ran. */
  function racingRegistry(deps: PrivacyDeps, races: number): StoreRegistry {
    const cosmos = deps.registry.get('cosmos');
    let left = races;
    const racing: PersonalDataStore = {
      ...cosmos,
      async eraseSubject(subject, scope) {
        const outcome = await cosmos.eraseSubject(subject, scope);
        if (left-- > 0) await seedDocuments(subject.tenantId, subject.identifier.value as WaId, 1, 'message');
        return outcome;
      },
    };
    return new StoreRegistry(deps.registry.stores.map((s) => (s.name === 'cosmos' ? racing : s)));
  }

  it('a leftover written by a racing webhook gets one re-run of the eraser, then the request completes', async () => {
    const queue = new InProcessQueue();
    const base = buildPrivacyDeps(services, { queue });
    const deps = { ...base, registry: racingRegistry(base, 1) };
    const stop = startWorkers(deps, queue);
    try {
      const tenantId = await tenant();
      const waId = '447700900904' as WaId;
      await seedDocuments(tenantId, waId, 5);
      const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'flow', screen: 'PRIVACY' });
      if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
      const done = await waitFor(deps, created.request.id, ['completed', 'failed']);
      expect(done).toMatchObject({ status: 'completed', verification: { reruns: 1, leftovers: {} } });
      expect(done.tasks.find((t) => t.store === 'cosmos')!.counts).toEqual({ found: 6, deleted: 6 });
      expect(services.telemetry.events.some((e) => e.name === 'privacy.verification.rerun' && e.dimensions.requestId === created.request.id)).toBe(true);
    } finally {
      await stop();
    }
  });

  it('leftovers that survive the re-run fail the request naming the store; a retry re-runs that store and completes', async () => {
    const queue = new InProcessQueue();
    const base = buildPrivacyDeps(services, { queue });
    const deps = { ...base, registry: racingRegistry(base, 2) };
    const stop = startWorkers(deps, queue);
    try {
      const tenantId = await tenant();
      const waId = '447700900905' as WaId;
      await seedDocuments(tenantId, waId, 3);
      const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'admin' });
      if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
      const failed = await waitFor(deps, created.request.id, ['completed', 'failed']);
      expect(failed).toMatchObject({ status: 'failed', failure: { store: 'cosmos', reason: 'verification found 1 item(s) left in cosmos after a re-run of the erasure' } });
      const retried = await retryPrivacyRequest(deps, created.request.id, 'operator-1');
      expect(retried.kind).toBe('retried');
      const done = await waitFor(deps, created.request.id, ['completed', 'failed']);
      expect(done.status).toBe('completed');
      const events = await new CosmosAuditLog(services.cosmos.audit, services.clock).query(tenantId, new Date(0), new Date(Date.now() + 1000));
      expect(events.map((e) => e.type)).toEqual(['privacy.request.received', 'privacy.request.failed', 'privacy.request.retried', 'privacy.erasure.completed']);
      expect(events.find((e) => e.type === 'privacy.request.retried')?.actor).toBe('operator-1');
    } finally {
      await stop();
    }
  });
});

describe('completion', () => {
  /** A request taken to `verifying` by one instance (its deps), its tasks done. */
  async function verifyingRequest(one: PrivacyDeps, waId: WaId): Promise<{ tenantId: TenantId; requestId: string }> {
    const tenantId = await tenant();
    await seedDocuments(tenantId, waId, 3);
    const created = await createPrivacyRequest(one, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'admin' });
    if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
    const requestId = created.request.id;
    expect(await processPrivacyRequest(one, { requestId })).toBe('planned');
    const pending = (await one.requests.get(requestId))!.tasks.filter((t) => t.status === 'pending');
    for (const task of pending) expect(await runErasureTask(one, { requestId, store: task.store, attempt: 1, generation: 0 })).toBe('done');
    expect((await one.requests.get(requestId))!.status).toBe('verifying');
    return { tenantId, requestId };
  }

  it('an instance holding a copy of a verifying request does not complete it once another instance has failed it', async () => {
    const [one, other] = [buildPrivacyDeps(services, { queue: new InProcessQueue() }), buildPrivacyDeps(services, { queue: new InProcessQueue() })];
    const { tenantId, requestId } = await verifyingRequest(one, '447700900907' as WaId);
    await other.requests.mutate(requestId, (d) => ({ ...d, status: 'failed', failure: { store: 'cosmos', reason: 'failed elsewhere' } }));

    expect(await processPrivacyRequest(one, { requestId })).toBe('ignored'); // within a moment of its own last write

    expect((await other.requests.get(requestId))!.status).toBe('failed');
    const events = await new CosmosAuditLog(services.cosmos.audit, services.clock).query(tenantId, new Date(0), new Date(Date.now() + 1000));
    expect(events.filter((e) => e.type === 'privacy.erasure.completed')).toEqual([]);
    expect(await one.markers.get('tombstone', tenantId, (await one.requests.get(requestId))!.subjectHash)).toBeUndefined();
  });

  it('a verification delivered twice at once (a redelivery, or two instances) completes the request once, with one audit event', async () => {
    const [one, other] = [buildPrivacyDeps(services, { queue: new InProcessQueue() }), buildPrivacyDeps(services, { queue: new InProcessQueue() })];
    const { tenantId, requestId } = await verifyingRequest(one, '447700900906' as WaId);

    const outcomes = await Promise.all([processPrivacyRequest(one, { requestId }), processPrivacyRequest(other, { requestId })]);

    expect(outcomes.filter((o) => o === 'verified')).toHaveLength(1);
    expect((await other.requests.get(requestId))!.status).toBe('completed');
    const events = await new CosmosAuditLog(services.cosmos.audit, services.clock).query(tenantId, new Date(0), new Date(Date.now() + 1000));
    expect(events.filter((e) => e.type === 'privacy.erasure.completed' && e.requestId === requestId)).toHaveLength(1);
  });

  it('sends the optional WhatsApp confirmation to the subject after the erasure has completed, and records that it went', async () => {
    const received: { path: string; body: { to?: string; type?: string } }[] = [];
    const graph = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { to?: string } });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: 'wamid.x' }] }));
      });
    });
    await new Promise<void>((resolve) => graph.listen(0, '127.0.0.1', resolve));
    const queue = new InProcessQueue();
    const deps = buildPrivacyDeps(services, { queue, graph: { baseUrl: `http://127.0.0.1:${(graph.address() as AddressInfo).port}/v23.0`, fetch } });
    const stop = startWorkers(deps, queue);
    try {
      const tenantId = await tenant({ confirmErasureByMessage: true });
      const phoneNumberId = (await deps.tenants.get(tenantId))!.phoneNumberIds[0];
      const waId = '447700900906' as WaId;
      await seedDocuments(tenantId, waId, 2);
      const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'message' });
      if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
      expect((await waitFor(deps, created.request.id, ['completed', 'failed'])).status).toBe('completed');
      // Sent after "completed": the audit event of the confirmation follows the request's status.
      const event = await eventually(async () => (await new CosmosAuditLog(services.cosmos.audit, services.clock).query(tenantId, new Date(0), new Date(Date.now() + 1000), { type: 'privacy.erasure.confirmation' }))[0]);
      expect(event.details).toMatchObject({ confirmationSent: true, channel: 'message' });
      expect(received).toEqual([{ path: `/v23.0/${phoneNumberId}/messages`, body: expect.objectContaining({ to: waId, type: 'text', messaging_product: 'whatsapp' }) }]);
    } finally {
      await stop();
      await new Promise((resolve) => graph.close(resolve));
    }
  });
});

describe('the reconciler', () => {
  it('re-drives tasks whose messages were lost (a worker that died, a message that never arrived) once they are stuck', async () => {
    const clock = new ManualClock(new Date());
    const lost = new InProcessQueue({ clock });
    const deps = buildPrivacyDeps(services, { queue: lost, clock });
    const tenantId = await tenant();
    const waId = '447700900907' as WaId;
    await seedDocuments(tenantId, waId, 4);
    const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'admin' });
    if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
    expect(await processPrivacyRequest(deps, { requestId: created.request.id })).toBe('planned');
    // The task messages are lost with that queue. Nothing is stuck yet: nothing is sent.
    const queue = new InProcessQueue({ clock });
    const live = { ...deps, queue };
    expect((await reconcilePrivacyRequests(live)).redriven).toBe(0);
    clock.advance(11 * 60_000);
    const report = await reconcilePrivacyRequests(live);
    expect(report.redriven).toBe(2); // cosmos, blob (HubSpot is not enabled, exports hold nothing: done at planning)
    const sent = await queue.peekMessages('erasure-tasks');
    expect(sent.map((m) => (m.body as { store: string }).store).sort()).toEqual(['blob', 'cosmos']);
    expect(sent.every((m) => m.messageId.includes(':reconcile:'))).toBe(true);
    const stop = startWorkers(live, queue);
    try {
      expect((await waitFor(live, created.request.id, ['completed', 'failed'])).status).toBe('completed');
    } finally {
      await stop();
    }
  });
});

describe('the Blob eraser', () => {
  it('deletes every blob under the subject prefix with its snapshots, and counts them', async () => {
    const deps = buildPrivacyDeps(services);
    const tenantId = await tenant();
    const waId = '447700900908' as WaId;
    const subjectHash = await hashSubject(services.secrets, tenantId, waId);
    const prefix = mediaPrefixFor(tenantId, subjectHash);
    for (const name of ['a.jpg', 'b.ogg', 'c.pdf']) {
      const blob = services.blobs.media.getBlockBlobClient(`${prefix}${name}`);
      await blob.uploadData(Buffer.from(name));
      if (name !== 'c.pdf') await blob.createSnapshot();
    }
    const neighbour = services.blobs.media.getBlockBlobClient(`${mediaPrefixFor(tenantId, 'f'.repeat(64))}keep.jpg`);
    await neighbour.uploadData(Buffer.from('someone else'));
    const subject = { tenant: (await deps.tenants.get(tenantId))!, tenantId, identifier: { kind: 'waId' as const, value: waId }, subjectHash, subjectHashes: [subjectHash] };
    expect(await deps.registry.get('blob').eraseSubject(subject, 'media')).toEqual({ found: 5, deleted: 5 });
    expect(await deps.registry.get('blob').verifyErased(subject, 'media')).toBe(0);
    expect(await neighbour.exists()).toBe(true);
  });
});
