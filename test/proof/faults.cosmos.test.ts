import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../shared/domain';
import { mediaPrefixFor } from '../../shared/storage';
import { PROCESSING_LEASE_SECONDS, webhookDelivery } from '../../shared/whatsapp';
import { phoneNeedles } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { subjectHashOf } from '../whatsapp/support';
import { deliverLikeMeta, OffsetClock, queuesDrained } from './support/proof';
import { documentCensus, newProofSubject, ONCE, trafficFor, type ProofSubject } from './support/subjects';
import { captureConsole, sweep, type ConsoleCapture } from './support/sweep';
import { createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';
import { CosmosAuditLog } from '../../shared/cosmos';

/**
 * Cosmos DB throttling, unavailability and dropped connections, injected by a loopback proxy in front of
 * cosmosdb-server (test/fakes/faultProxy.ts). Each scenario ends with every delivery or request either
 * completed or visibly failed and retryable, each message stored exactly once, and the subjects' data
 * nowhere but where it belongs.
 */
const clock = new OffsetClock();
let world: ProofWorld;
let output: ConsoleCapture;
beforeAll(async () => {
  output = captureConsole();
  world = await startProofWorld({ cosmosProxy: true, clock });
});
afterAll(async () => {
  output?.stop();
  await world?.close();
});

const proxy = () => world.cosmosProxy!;

/** Where subjects that were not erased may be: their own partition of `subjects`, their media. Nowhere else. */
async function leaksOf(subjects: ProofSubject[]) {
  const needles = subjects.flatMap((s) => [...phoneNeedles(s.waId), ...s.needles]);
  const { t, hubspot } = world;
  return sweep(
    needles,
    { cosmos: t.services.cosmos.subjects.database, blobs: Object.values(t.services.blobs), queue: t.services.queue, hubspot, logs: t.logs, telemetry: t.services.telemetry, console: output.lines },
    (hit) => hit.location.startsWith('cosmos:subjects/') || hit.location.startsWith('blob:media/'),
  );
}

async function expectStoredOnce(tenant: ProofTenant, subjects: ProofSubject[]): Promise<void> {
  await queuesDrained(world.t.services.queue);
  for (const subject of subjects) {
    const census = await eventually(async () => {
      const c = await documentCensus(world.t.services, tenant.tenantId, subject.waId);
      return c.mediaStored === 1 ? c : undefined;
    }, 15_000, 'the media download');
    expect(census.byType).toEqual(ONCE);
    expect(census.duplicated).toEqual([]);
    const prefix = mediaPrefixFor(tenant.tenantId, await subjectHashOf(world.t.services, tenant.tenantId, subject.waId));
    const blobs: string[] = [];
    for await (const item of world.t.services.blobs.media.listBlobsFlat({ prefix })) blobs.push(item.name);
    expect(blobs).toHaveLength(1);
  }
}

describe('Cosmos DB under fire (fault proxy in front of the emulator)', () => {
  it('throttling (429 with x-ms-retry-after-ms) shorter than the SDK retry budget: every delivery is answered 200 thanks to the SDK retries, each message stored once', async () => {
    const tenant = await createProofTenant(world);
    const subjects = [newProofSubject(), newProofSubject(), newProofSubject()];
    const payloads = subjects.flatMap((s) => trafficFor(tenant.phoneNumberId, s, world.graph).payloads);
    // A 300 ms window, inside the SDK's own budget (9 retries, each after x-ms-retry-after-ms = 100 ms).
    proxy().failFor(300, { kind: 'status', status: 429, retryAfterMs: 100 });
    const deliveries = await Promise.all(payloads.map((p) => deliverLikeMeta(world.t.url, p, { attempts: 1 })));
    expect(deliveries.map((d) => d.statuses)).toEqual(payloads.map(() => [200]));
    expect(proxy().injected()['status:429']).toBeGreaterThan(0);
    // Meta delivers everything again (it does, now and then): nothing is stored twice.
    const again = await Promise.all(payloads.map((p) => deliverLikeMeta(world.t.url, p)));
    expect(again.map((d) => d.statuses)).toEqual(payloads.map(() => [200]));
    await expectStoredOnce(tenant, subjects);
    expect(await leaksOf(subjects)).toEqual([]);
  });

  it('the subjects container unavailable (503) mid-delivery: 503 to Meta, its retries store each message exactly once, even when the lease could not be released', async () => {
    const tenant = await createProofTenant(world);
    const subjects = [newProofSubject(), newProofSubject(), newProofSubject()];
    const payloads = subjects.flatMap((s) => trafficFor(tenant.phoneNumberId, s, world.graph).payloads);
    // Warm the tenant lookup, then take down the subjects container and the markers' deletes: the
    // delivery fails after claiming its lease, and releasing the lease fails too.
    await deliverLikeMeta(world.t.url, webhookDelivery([]));
    proxy().failUntilCleared({ kind: 'status', status: 503 }, { path: /\/colls\/subjects\// });
    proxy().failUntilCleared({ kind: 'status', status: 503 }, { path: /\/colls\/markers\//, method: 'DELETE' });
    // Meta delivers everything during the outage: each answered 503.
    const first = await Promise.all(payloads.map((p) => deliverLikeMeta(world.t.url, p, { attempts: 1 })));
    expect(first.map((d) => d.statuses)).toEqual(payloads.map(() => [503]));
    // The outage is over by Meta's first retry, but each message's lease could not be released: 503 again
    // (a 200 "duplicate" here would end Meta's retries and lose the message).
    proxy().clear();
    const second = await Promise.all(payloads.map((p) => deliverLikeMeta(world.t.url, p, { attempts: 1 })));
    expect(second.map((d) => d.statuses)).toEqual(payloads.map(() => [503]));
    // Meta's backoff: the next retries come minutes later, after the leases ran out. All stored, once.
    clock.advance((PROCESSING_LEASE_SECONDS + 1) * 1000);
    const third = await Promise.all(payloads.map((p) => deliverLikeMeta(world.t.url, p, { attempts: 1 })));
    expect(third.map((d) => d.statuses)).toEqual(payloads.map(() => [200]));
    await expectStoredOnce(tenant, subjects);
    expect(world.t.services.telemetry.events.filter((e) => e.name === 'webhook.unavailable').map((e) => e.dimensions.dependency)).toEqual(expect.arrayContaining(['cosmos', 'message-lease']));
    expect(await leaksOf(subjects)).toEqual([]);
  });

  it('dropped connections, before and after Cosmos applied a write: deliveries succeed or get 5xx, retries store each message exactly once', async () => {
    const tenant = await createProofTenant(world);
    const subjects = [newProofSubject(), newProofSubject()];
    const payloads = subjects.flatMap((s) => trafficFor(tenant.phoneNumberId, s, world.graph).payloads);
    proxy().failNext(4, { kind: 'drop' });
    proxy().failNext(6, { kind: 'drop-after' }, { method: /POST|PUT/, path: /\/colls\/(subjects|markers)\/docs/ });
    const deliveries = [];
    for (const p of payloads) {
      deliveries.push(await deliverLikeMeta(world.t.url, p, { beforeRetry: () => clock.advance((PROCESSING_LEASE_SECONDS + 1) * 1000) }));
    }
    expect(proxy().injected()).toMatchObject({ drop: 4, 'drop-after': 6 });
    for (const d of deliveries) {
      expect(d.statuses.at(-1)).toBe(200);
      expect(d.statuses.slice(0, -1).every((s) => s >= 500)).toBe(true);
    }
    expect(deliveries.some((d) => d.statuses.length > 1)).toBe(true);
    await expectStoredOnce(tenant, subjects);
    expect(await leaksOf(subjects)).toEqual([]);
  });

  it('an erasure running into a Cosmos outage completes after it (by itself or through the reconciler), once, leaving nothing', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const { payloads } = trafficFor(tenant.phoneNumberId, subject, world.graph);
    for (const p of payloads) expect((await deliverLikeMeta(world.t.url, p)).statuses).toEqual([200]);
    await expectStoredOnce(tenant, [subject]);

    const posted = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } }) });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };
    proxy().failFor(1500, { kind: 'status', status: 503 });
    const view = await completeEventually(id);
    expect(view.status).toBe('completed');
    expect(proxy().injected()['status:503']).toBeGreaterThan(0);
    const deadLetters = await Promise.all((['privacy-requests', 'erasure-tasks'] as const).map((q) => world.t.services.queue.peekDeadLetters(q)));
    console.info(`PROOF erasure under a Cosmos outage: completed after ${reconcilerRuns} reconciler run(s); dead letters: ${JSON.stringify(deadLetters)}`);
    // A short outage is ridden out with backoff: no message is spent into the dead-letter queue.
    expect(deadLetters.flat()).toEqual([]);

    expect((await documentCensus(world.t.services, tenant.tenantId, subject.waId)).byType).toEqual({});
    const events = await new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock).query(tenant.tenantId, new Date(0), new Date(clock.now().getTime() + 60_000), { type: 'privacy.erasure.completed' });
    expect(events.filter((e) => e.requestId === id)).toHaveLength(1);
    const needles = [...phoneNeedles(subject.waId), ...subject.needles];
    const { t, hubspot } = world;
    expect(await sweep(needles, { cosmos: t.services.cosmos.subjects.database, blobs: Object.values(t.services.blobs), queue: t.services.queue, hubspot, logs: t.logs, telemetry: t.services.telemetry, console: output.lines })).toEqual([]);
  }, 60_000);

  it('a privacy request posted while Cosmos is down is refused visibly (5xx), and posted again afterwards it completes', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    for (const p of trafficFor(tenant.phoneNumberId, subject, world.graph).payloads) await deliverLikeMeta(world.t.url, p);
    await queuesDrained(world.t.services.queue);
    const body = JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    proxy().failUntilCleared({ kind: 'status', status: 503 });
    const during = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body });
    proxy().clear();
    expect(during.status).toBeGreaterThanOrEqual(500);
    const after = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body });
    expect([200, 202]).toContain(after.status);
    const { id } = (await after.json()) as { id: string };
    const view = await completeEventually(id);
    expect(view.status).toBe('completed');
    expect((await documentCensus(world.t.services, tenant.tenantId, subject.waId)).byType).toEqual({});
  }, 60_000);
});

interface RequestView {
  status: string;
  tasks: { store: string; status: string }[];
}

async function readRequest(id: string): Promise<RequestView> {
  const response = await fetch(`${world.t.url}/api/privacy-requests/${id}`, { headers: adminHeaders() });
  if (response.status !== 200) throw new Error(`GET privacy request answered ${response.status}`);
  return (await response.json()) as RequestView;
}

/**
 * Waits for the request to finish. What the outage left stuck (a dead-lettered task message) is what the
 * reconciler timer re-drives: when nothing moves, the clock is moved past its "stuck" threshold and the
 * timer is run, as the host would every minute.
 */
let reconcilerRuns = 0;
async function completeEventually(id: string): Promise<RequestView> {
  for (let round = 0; round < 4; round++) {
    try {
      return await eventually(async () => {
        const view = await readRequest(id).catch(() => undefined); // a 5xx while Cosmos is down: ask again
        return view?.status === 'completed' || view?.status === 'failed' ? view : undefined;
      }, 8_000, `request ${id} to finish`);
    } catch {
      clock.advance(11 * 60_000);
      await world.t.host.runTimer('privacyReconciler').catch(() => undefined); // the next minute's run will do
      world.t.services.queue.tick();
      reconcilerRuns += 1;
    }
  }
  return readRequest(id);
}

export type { TenantId };
