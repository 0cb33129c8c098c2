import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash } from '../../shared/domain';
import { change, delivery, messages, status, unixSeconds } from '../fixtures/whatsapp/payloads';
import { phoneNeedles } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { postWebhook, subjectDocuments, subjectHashOf } from '../whatsapp/support';
import { queuesDrained } from './support/proof';
import { documentCensus, newProofSubject, ONCE, trafficFor, type ProofSubject } from './support/subjects';
import { captureConsole, sweep, type ConsoleCapture } from './support/sweep';
import { createProofTenant, startProofWorld, type ProofWorld } from './support/world';
import { CosmosAuditLog, CosmosMarkerStore } from '../../shared/cosmos';

/** Meta delivers at least once and in no particular order: duplicates and reordering change nothing. */
let world: ProofWorld;
let output: ConsoleCapture;
beforeAll(async () => {
  output = captureConsole();
  world = await startProofWorld();
});
afterAll(async () => {
  output?.stop();
  await world?.close();
});

async function leaks(subjects: ProofSubject[]) {
  const { t, hubspot } = world;
  return sweep(
    subjects.flatMap((s) => [...phoneNeedles(s.waId), ...s.needles]),
    { cosmos: t.services.cosmos.subjects.database, blobs: Object.values(t.services.blobs), queue: t.services.queue, hubspot, logs: t.logs, telemetry: t.services.telemetry, console: output.lines },
    (hit) => hit.location.startsWith('cosmos:subjects/') || hit.location.startsWith('blob:media/'),
  );
}

async function summaries(responses: Response[]): Promise<{ stored: number; duplicates: number }[]> {
  return Promise.all(responses.map(async (r) => ((await r.json()) as { received: { stored: number; duplicates: number } }).received));
}

describe('duplicate and reordered deliveries', () => {
  it('every delivery of a subject sent three times at once and twice more later: all answered 200, each message stored once', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const { payloads, mediaId } = trafficFor(tenant.phoneNumberId, subject, world.graph);
    const burst = await Promise.all(payloads.flatMap((p) => [p, p, p]).map((p) => postWebhook(world.t.url, p)));
    expect(burst.map((r) => r.status)).toEqual(burst.map(() => 200));
    const counted = await summaries(burst);
    expect(counted.reduce((n, s) => n + s.stored, 0)).toBe(3);
    expect(counted.reduce((n, s) => n + s.duplicates, 0)).toBe(6);
    for (let i = 0; i < 2; i++) for (const p of payloads) expect((await postWebhook(world.t.url, p)).status).toBe(200);
    await queuesDrained(world.t.services.queue);
    const census = await eventually(async () => {
      const c = await documentCensus(world.t.services, tenant.tenantId, subject.waId);
      return c.mediaStored === 1 ? c : undefined;
    });
    expect(census.byType).toEqual(ONCE);
    expect(census.duplicated).toEqual([]);
    // One media download, however often the image was delivered.
    expect(world.graph.requests.filter((r) => r.step === 'file' && r.mediaId === mediaId)).toHaveLength(1);
    expect(await leaks([subject])).toEqual([]);
  });

  it('the same messages batched differently on a retry (overlapping deliveries, reversed order): each stored once', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const t0 = Date.now() - 60_000;
    const [a, b, c] = [0, 1, 2].map((i) => messages.text(subject.waId, `${subject.text} (${i})`, new Date(t0 + i * 1000)));
    const contacts = [{ waId: subject.waId, name: subject.name }];
    const first = delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts, messages: [a!, b!] })]);
    const second = delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts, messages: [c!, b!] })], [change({ phoneNumberId: tenant.phoneNumberId, contacts, messages: [a!] })]);
    expect((await postWebhook(world.t.url, second)).status).toBe(200);
    expect((await postWebhook(world.t.url, first)).status).toBe(200);
    const docs = await subjectDocuments(world.t.services, tenant.tenantId, subject.waId);
    expect(docs.filter((d) => d.type === 'message').map((d) => d.messageId).sort()).toEqual([a!.id, b!.id, c!.id].sort());
    expect(docs.filter((d) => d.type === 'contact')).toHaveLength(1);
    expect(await leaks([subject])).toEqual([]);
  });

  it('STOP sent after START but delivered first: the subject ends opted out, suppressed, with one audit event per applied change', async () => {
    const tenant = await createProofTenant(world, { messageStorage: 'none' });
    const subject = newProofSubject();
    const t0 = Date.now() - 120_000;
    const start = messages.text(subject.waId, 'START', new Date(t0));
    const stop = messages.text(subject.waId, 'STOP', new Date(t0 + 30_000));
    const later = messages.text(subject.waId, subject.text, new Date(t0 + 60_000));
    for (const m of [later, stop, start]) {
      expect((await postWebhook(world.t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId: subject.waId, name: subject.name }], messages: [m] })]))).status).toBe(200);
    }
    const [contact] = (await subjectDocuments(world.t.services, tenant.tenantId, subject.waId)).filter((d) => d.type === 'contact');
    expect(contact).toMatchObject({ optIn: 'opted_out', optInEventAt: new Date(Number(unixSeconds(new Date(t0 + 30_000))) * 1000).toISOString() });
    const hash = (await subjectHashOf(world.t.services, tenant.tenantId, subject.waId)) as SubjectHash;
    expect(await new CosmosMarkerStore(world.t.services.cosmos.markers, world.t.services.clock).get('suppression', tenant.tenantId, hash)).toBeDefined();
    const events = await new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock).query(tenant.tenantId, new Date(0), new Date(Date.now() + 1000));
    expect(events.filter((e) => e.type.startsWith('subject.opted')).map((e) => e.type)).toEqual(['subject.opted-out']);
    expect(await leaks([subject])).toEqual([]);
  });

  it('statuses for a message delivered before the message itself are counted, never stored', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const outbound = 'wamid.HBgMNDQ3NzAwOTAwMDAwFQIAERgSQjQ1RjBBQUE2NEE2RjE3QzQ0AA==';
    const statuses = (['read', 'delivered', 'sent'] as const).map((k) => status(subject.waId, k, outbound));
    const before = await world.t.services.cosmos.subjects.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
    const response = await postWebhook(world.t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, statuses })]));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { received: { statuses: number } }).received.statuses).toBe(3);
    const after = await world.t.services.cosmos.subjects.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
    expect(after.resources).toEqual(before.resources);
    expect(await subjectDocuments(world.t.services, tenant.tenantId, subject.waId)).toEqual([]);
    expect(await leaks([subject])).toEqual([]);
  });

  it('a flow asking for erasure, delivered twice at once (a double tap, or Meta retrying): one erasure request, one erasure', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    for (const p of trafficFor(tenant.phoneNumberId, subject, world.graph).payloads) await postWebhook(world.t.url, p);
    const ask = () => delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId: subject.waId, name: subject.name }], messages: [messages.flowCompletion(subject.waId, { action: 'data_deletion_request', scope: 'all' })] })]);
    const replies = await Promise.all([postWebhook(world.t.url, ask()), postWebhook(world.t.url, ask())]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    const ids = (await Promise.all(replies.map(async (r) => ((await r.json()) as { received: { privacyRequestIds: string[] } }).received.privacyRequestIds))).flat();
    expect(new Set(ids).size).toBe(1);
    const done = await eventually(async () => {
      const view = (await (await fetch(`${world.t.url}/api/privacy-requests/${ids[0]}`, { headers: adminHeaders() })).json()) as { status: string };
      return view.status === 'completed' || view.status === 'failed' ? view : undefined;
    }, 20_000, 'the erasure');
    expect(done.status).toBe('completed');
    const list = (await (await fetch(`${world.t.url}/api/privacy-requests?tenantId=${tenant.tenantId}`, { headers: adminHeaders() })).json()) as { requests: { id: string }[] };
    expect(list.requests.map((r) => r.id)).toEqual([ids[0]]);
    expect((await documentCensus(world.t.services, tenant.tenantId, subject.waId)).byType).toEqual({});
    expect(await leaks([subject])).toEqual([]);
  }, 40_000);
});
