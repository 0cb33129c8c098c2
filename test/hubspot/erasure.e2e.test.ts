import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import { HubSpotClient, HubSpotContacts } from '../../shared/hubspot';
import { rootOf } from '../../shared/runtime';
import { hubspotTokenSecret, SettingsSecretProvider } from '../../shared/secrets';

import { messages, single } from '../fixtures/whatsapp/payloads';
import { phoneNeedles, sweepForPii } from '../support/piiSweep';
import { postWebhook, subjectHashOf } from '../whatsapp/support';
import { postRequest, waitForStatus } from '../privacy/support';
import { createHubSpotTenant, startHubSpotWorld, waitForChannel, type HubSpotTenant, type HubSpotWorld } from './support';

/**
 * Issue 16, "done when": subjects whose contacts sit in each of the three phone properties and in
 * national formats, made by Flowkeeper and by someone else, are erased over HTTP with nothing of them
 * left in HubSpot (contacts, messages, threads); a bystander with a similar number is untouched; 429s and
 * 502s on every call type still end completed, and no window holds more calls than the portal's limit.
 */
let world: HubSpotWorld;
beforeAll(async () => {
  world = await startHubSpotWorld();
});
afterAll(async () => {
  await world?.close();
});

const tag = () => randomBytes(3).toString('hex');
/** A UK mobile wa_id nobody else in this file uses. */
const uniqueWaId = (() => {
  // Ten apart: a bystander one digit off never is another subject of this file.
  let n = Math.floor(Math.random() * 500);
  return () => `44770092${String((n++ % 1000) * 10).padStart(4, '0')}`;
})();
/** How people type that number: national with the trunk 0, with spaces, with dashes; international with spaces. */
const national = (waId: string) => `0${waId.slice(2)}`;
const nationalSpaced = (waId: string) => `0${waId.slice(2, 6)} ${waId.slice(6)}`;
const internationalDashed = (waId: string) => `+44 ${waId.slice(2, 6)}-${waId.slice(6)}`;
/** Needles written here, not derived from the code under test. */
const needlesOf = (waId: string) => [...new Set([...phoneNeedles(waId), waId.slice(2), national(waId), nationalSpaced(waId), internationalDashed(waId), `0${waId.slice(2, 6)}-${waId.slice(6)}`])];

async function talk(tenant: HubSpotTenant, waId: string, name: string, texts: string[]): Promise<void> {
  for (const [i, text] of texts.entries()) {
    const response = await postWebhook(world.t.url, single(tenant.phoneNumberId, waId, messages.text(waId, text, new Date(Date.now() - (texts.length - i) * 1000)), name));
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
  }
}

async function erase(tenant: HubSpotTenant, waId: string): Promise<string> {
  const response = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId } });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

describe('an erasure finds the subject wherever HubSpot keeps them', () => {
  it('contacts in phone, mobilephone and hs_whatsapp_phone_number, national formats, made by Flowkeeper and by others: nothing of them left; a bystander with a similar number untouched', { timeout: 60_000 }, async () => {
    const { hubspot } = world;
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });

    // A talked to the business: Flowkeeper made A's contact and thread. A colleague also typed A in by
    // hand (mobile phone, national format, spaces), and an older conversation on the channel hangs off
    // that contact, which Flowkeeper never recorded.
    const a = { waId: uniqueWaId(), name: `Demelza Carne-${tag()}`, texts: [`my tenancy ref is ${tag()}`, `the boiler is broken ${tag()}`] };
    await talk(tenant, a.waId, a.name, a.texts);
    const published = await waitForChannel(world, tenant, 2);
    const aByHand = hubspot.addContact({ firstname: 'Demelza', lastname: 'C', mobilephone: nationalSpaced(a.waId) });
    const aOld = hubspot.addPublishedMessage({ channelId: tenant.channelId, channelAccountId: tenant.channelAccountId, contactId: aByHand.id, integrationThreadId: `legacy-${tag()}`, phone: `+${a.waId}`, text: `an old message ${tag()}` });

    // B only ever came through another integration: WhatsApp number, international with a dash.
    const b = { waId: uniqueWaId(), name: `Jago Penrose-${tag()}` };
    hubspot.addContact({ firstname: b.name, hs_whatsapp_phone_number: internationalDashed(b.waId) });
    // C was imported: phone, national without spaces; and a second record with dashes.
    const c = { waId: uniqueWaId(), name: `Loveday Trembath-${tag()}` };
    hubspot.addContact({ firstname: c.name, phone: national(c.waId) });
    hubspot.addContact({ firstname: c.name, hs_whatsapp_phone_number: `0${c.waId.slice(2, 6)}-${c.waId.slice(6)}` });

    // The bystander's number differs from A's in the last digit; they have a contact and a thread too.
    const bystanderWaId = `${a.waId.slice(0, -1)}${(Number(a.waId.at(-1)) + 1) % 10}`;
    const bystander = hubspot.addContact({ firstname: 'Bystander', phone: `+${bystanderWaId}`, mobilephone: nationalSpaced(bystanderWaId) });
    const bystanderMessage = hubspot.addPublishedMessage({ channelId: tenant.channelId, channelAccountId: tenant.channelAccountId, contactId: bystander.id, integrationThreadId: `bystander-${tag()}`, phone: `+${bystanderWaId}`, text: 'the bystander speaks' });

    const ids = await Promise.all([a, b, c].map((subject) => erase(tenant, subject.waId)));
    const done = await Promise.all(ids.map((id) => waitForStatus(world.t, id, ['completed', 'failed'], 40_000)));
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed', 'completed']);
    // A: its own contact and thread (recorded), the hand-typed contact and its thread (found): 4.
    expect(done[0]!.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', counts: { found: 4, deleted: 4 } });
    expect(done[1]!.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', counts: { found: 1, deleted: 1 } });
    expect(done[2]!.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', counts: { found: 2, deleted: 2 } });

    // Nothing of A, B or C in HubSpot: no contact, message or thread holds their numbers, names or words.
    const needles = [...needlesOf(a.waId), ...needlesOf(b.waId), ...needlesOf(c.waId), a.name, b.name, c.name, ...a.texts];
    expect(await sweepForPii(needles, { hubspot })).toEqual([]);
    expect(hubspot.threads.has(published[0]!.threadId)).toBe(false);
    expect(hubspot.threads.has(aOld.threadId)).toBe(false);
    expect(hubspot.contacts.has(aByHand.id)).toBe(false);
    // Flowkeeper's record of A is gone too.
    expect(await rootOf(world.t.services).hubspotObjects.get(tenant.tenantId, (await subjectHashOf(world.t.services, tenant.tenantId, a.waId)) as SubjectHash)).toBeUndefined();

    // The bystander is untouched: contact, open thread, message.
    expect(hubspot.contacts.get(bystander.id)?.properties).toMatchObject({ phone: `+${bystanderWaId}` });
    expect(hubspot.threads.get(bystanderMessage.threadId)).toMatchObject({ archived: false });
    expect(hubspot.conversationMessages.get(bystanderMessage.id)?.text).toBe('the bystander speaks');
    const touched = hubspot.requests.filter((r) => r.token === tenant.token && (r.path.endsWith(`/threads/${bystanderMessage.threadId}`) || JSON.stringify(r.body ?? '').includes(`"${bystander.id}"`)));
    expect(touched.filter((r) => r.method !== 'GET' && !r.path.endsWith('/search'))).toEqual([]);
  });

  it('429 bursts (waited out or rescheduled) and 502s on every call type end in completed requests, and no window holds more calls than the limit', { timeout: 90_000 }, async () => {
    const { hubspot } = world;
    const deps = rootOf(world.t.services).privacy;
    const policy = { ...deps.retry };
    Object.assign(deps.retry, { baseMs: 20, capMs: 40 }); // the same policy, compressed in time
    // The portal's limit, its window shortened to 2 s (the client learns both from the headers).
    const [limit, windowMs] = [30, 2000];
    try {
      const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
      // Three subjects Flowkeeper talked to, three only others made.
      const ours = Array.from({ length: 3 }, () => ({ waId: uniqueWaId(), name: `Ours ${tag()}` }));
      for (const s of ours) await talk(tenant, s.waId, s.name, [`hello ${tag()}`]);
      await waitForChannel(world, tenant, 3);
      const theirs = Array.from({ length: 3 }, () => ({ waId: uniqueWaId(), name: `Theirs ${tag()}` }));
      for (const s of theirs) {
        const contact = hubspot.addContact({ firstname: s.name, mobilephone: nationalSpaced(s.waId) });
        hubspot.addPublishedMessage({ channelId: tenant.channelId, channelAccountId: tenant.channelAccountId, contactId: contact.id, integrationThreadId: `theirs-${tag()}`, phone: `+${s.waId}`, text: `their message ${tag()}` });
      }
      hubspot.requestsPerTenSeconds = limit;
      hubspot.rateLimitWindowMs = windowMs;
      // On every call type an erasure makes: a short 429 (waited out in place), a long one (rescheduled)
      // and a 502 (backed off).
      const paths = [/\/search$/, /\/gdpr-delete$/, /\/batch\/read$/, /\/conversations\/threads$/, /\/conversations\/threads\/\d+$/];
      for (const path of paths) {
        hubspot.rateLimitNext(2, 1, path, path.source.includes('search') ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING');
        hubspot.rateLimitNext(1, 3, path);
        hubspot.failNext(1, 502, path);
      }
      const before = hubspot.requests.length;
      const ids = await Promise.all([...ours, ...theirs].map((s) => erase(tenant, s.waId)));
      const done = await Promise.all(ids.map((id) => waitForStatus(world.t, id, ['completed', 'failed'], 60_000)));
      expect(done.map((d) => d.status)).toEqual(Array(6).fill('completed'));
      const calls = hubspot.requests.slice(before).filter((r) => r.token === tenant.token);
      // Every call type met its faults.
      for (const path of paths) {
        expect(calls.filter((r) => path.test(r.path) && r.status === 429).length).toBeGreaterThanOrEqual(3);
        expect(calls.filter((r) => path.test(r.path) && r.status === 502).length).toBeGreaterThanOrEqual(1);
      }
      // HubSpot never took more than the limit in a window; beyond the injected 429s, at most a few of its own.
      expect(hubspot.maxAcceptedInWindow(tenant.token, windowMs)).toBeLessThanOrEqual(limit);
      expect(calls.filter((r) => r.status === 429).length).toBeLessThanOrEqual(paths.length * 3 + 3);
      const needles = [...ours, ...theirs].flatMap((s) => [...needlesOf(s.waId), s.name]);
      expect(await sweepForPii(needles, { hubspot })).toEqual([]);
      expect(hubspot.openThreads(tenant.channelAccountId)).toEqual([]);
    } finally {
      hubspot.clearFaults();
      hubspot.requestsPerTenSeconds = 0;
      hubspot.rateLimitWindowMs = 10_000;
      Object.assign(deps.retry, policy);
    }
  });

  it('two instances sharing one portal stay inside its limit through the rate-limit headers', { timeout: 60_000 }, async () => {
    const { hubspot } = world;
    const [limit, windowMs] = [20, 1000];
    hubspot.requestsPerTenSeconds = limit;
    hubspot.rateLimitWindowMs = windowMs;
    try {
      const tenantId = `two-${tag()}` as TenantId;
      const token = `pat-eu1-${tag()}${tag()}`;
      const instance = () => new HubSpotContacts(new HubSpotClient({ baseUrl: hubspot.url, secrets: new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: token }), maxPacingWaitMs: 30_000 }));
      const [one, two] = [instance(), instance()];
      const ids = Array.from({ length: 60 }, () => hubspot.addContact({ firstname: 'Shared' }).id);
      const started = Date.now();
      const results = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? one : two).get(tenantId, id)));
      expect(results.every(Boolean)).toBe(true);
      // 60 calls at 20 per second take at least two more windows, and HubSpot never held more than 20.
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * windowMs - 100);
      expect(hubspot.maxAcceptedInWindow(token, windowMs)).toBeLessThanOrEqual(limit);
      // Each instance saw the other's calls in Remaining and held back: 429s stay few, and were waited out.
      expect(hubspot.requests.filter((r) => r.token === token && r.status === 429).length).toBeLessThanOrEqual(10);
    } finally {
      hubspot.requestsPerTenSeconds = 0;
      hubspot.rateLimitWindowMs = 10_000;
    }
  });
});
