import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId, WaId } from '../../shared/domain';
import { HubSpotClient, HubSpotContacts, HubSpotError, phoneVariants } from '../../shared/hubspot';
import { hubspotTokenSecret, SettingsSecretProvider } from '../../shared/secrets';
import { freePort } from '../../local/emulators';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot';
import { hubspotFailureOf } from '../hubspot/support';

const tenantId = 'acme-lettings' as TenantId;
const token = 'pat-eu1-0a1b2c3d';
let fake: HubSpotFake;
beforeAll(async () => {
  fake = await startHubSpotFake({ tokens: [token] });
});
afterAll(async () => {
  await fake?.close();
});

/** A client with a token of its own (HubSpot's search limit is per token: tests must not share one). */
function contactsWith(options: { timeoutMs?: number; maxPacingWaitMs?: number; token?: string } = {}): HubSpotContacts {
  const own = options.token ?? `pat-eu1-${randomBytes(6).toString('hex')}`;
  if (!options.token) fake.allowToken(own);
  const secrets = new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: own });
  return new HubSpotContacts(new HubSpotClient({ baseUrl: fake.url, secrets, timeoutMs: options.timeoutMs ?? 2000, maxPacingWaitMs: options.maxPacingWaitMs ?? 2000 }));
}

const failureOf = hubspotFailureOf;

describe('HubSpot contacts by phone number', () => {
  it('finds a contact whatever form HubSpot holds the number in, in phone, mobile phone or the WhatsApp number, and nobody else', async () => {
    const waId = '447700900321' as WaId;
    const forms = ['+447700900321', '447700900321', '07700 900321', '+44 7700 900321', '07700900321', '07700-900321', '+44 7700-900321', '00447700900321', '07700 900 321'];
    const properties = ['phone', 'mobilephone', 'hs_whatsapp_phone_number'] as const;
    const ids = forms.map((value, i) => fake.addContact({ [properties[i % 3]!]: value, firstname: `form${i}` }).id);
    // Bystanders: a neighbouring number, the same digits with one more, a number that only contains these digits.
    const others = ['+447700900322', '+4477009003210', '4407700900321', '+44 7700 900 32'].map((phone) => fake.addContact({ phone }).id);
    const found = await contactsWith().findByPhone(tenantId, waId);
    expect(found.map((c) => c.id).sort()).toEqual([...ids].sort());
    for (const id of others) expect(found.map((c) => c.id)).not.toContain(id);
    expect(found.find((c) => c.id === ids[2])!.matchedBy).toEqual(['hs_whatsapp_phone_number']);
    expect(phoneVariants('14155552671' as WaId)).toEqual(expect.arrayContaining(['+14155552671', '4155552671', '(415) 555-2671', '+1 415-555-2671']));
    // The search asked with one IN filter per group, one group per phone property, with every field the OpenAPI requires.
    const search = fake.requests.filter((r) => r.path.endsWith('/search')).at(-1)!.body as { filterGroups: { filters: { propertyName: string; operator: string }[] }[] };
    expect(search.filterGroups.map((g) => g.filters[0]!.propertyName)).toEqual(['phone', 'mobilephone', 'hs_whatsapp_phone_number']);
    expect(search.filterGroups.every((g) => g.filters.length === 1 && g.filters[0]!.operator === 'IN')).toBe(true);
    expect(search).toMatchObject({ after: '0', limit: 200, sorts: [], properties: expect.any(Array) });
  });

  it('finds a contact by its WhatsApp business-scoped user id in hs_whatsapp_bsuids, as well as by number, in one search', async () => {
    const contacts = contactsWith();
    const byBsuid = fake.addContact({ hs_whatsapp_bsuids: 'GB.1502576394655843', firstname: 'Username user' });
    const byPhone = fake.addContact({ mobilephone: '07700 900777' });
    const bystander = fake.addContact({ hs_whatsapp_bsuids: 'GB.1502576394655844' });
    const searchesBefore = fake.searchCalls();
    const found = await contacts.findContacts(tenantId, { phones: ['447700900777' as WaId], bsuids: ['GB.1502576394655843'] });
    expect(found.map((c) => c.id).sort()).toEqual([byBsuid.id, byPhone.id].sort());
    expect(found.map((c) => c.id)).not.toContain(bystander.id);
    expect(found.find((c) => c.id === byBsuid.id)!.matchedBy).toEqual(['hs_whatsapp_bsuids']);
    expect(fake.searchCalls() - searchesBefore).toBe(1);
    const body = fake.requests.filter((r) => r.path.endsWith('/search')).at(-1)!.body as { filterGroups: { filters: { propertyName: string }[] }[] };
    expect(body.filterGroups).toHaveLength(4);
    // A username user has no number at all: the BSUID alone is searched.
    expect((await contacts.findContacts(tenantId, { phones: [], bsuids: ['GB.1502576394655843'] })).map((c) => c.id)).toEqual([byBsuid.id]);
  });

  it('GDPR delete answers 204; an unknown contact (404) is "already gone", not an error', async () => {
    const contacts = contactsWith();
    const contact = fake.addContact({ phone: '+447700900401' });
    expect(await contacts.gdprDelete(tenantId, contact.id)).toBe(true);
    expect(fake.contacts.has(contact.id)).toBe(false);
    expect(await contacts.gdprDelete(tenantId, contact.id)).toBe(false);
    expect(await contacts.get(tenantId, contact.id)).toBeUndefined();
    expect(await contacts.findByPhone(tenantId, '447700900401' as WaId)).toEqual([]);
  });

  it('turns 429, 5xx, timeouts and 401 into errors that say what to do, with no request or response body in them', async () => {
    const contacts = contactsWith({ timeoutMs: 300 });
    const waId = '447700900555' as WaId;
    fake.failNext(1, 503);
    expect(await failureOf(contacts.findByPhone(tenantId, waId))).toMatchObject({ kind: 'transient', status: 503, message: 'HubSpot answered 503 on contact search' });
    fake.hangNext(1);
    expect(await failureOf(contacts.findByPhone(tenantId, waId))).toMatchObject({ kind: 'transient', message: 'HubSpot did not answer within 300 ms on contact search' });
    // A 429 whose Retry-After lies beyond the caller's wait budget (2 s) fails with the policy and when to come back.
    fake.rateLimitNext(1, 3, /search$/, 'SECONDLY');
    const limited = await failureOf(contacts.findByPhone(tenantId, waId));
    expect(limited).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 3000, policy: 'SECONDLY' });
    expect(limited.message).toBe('HubSpot answered 429 (SECONDLY) on contact search; retry after 3 s');
    const revoked = await failureOf(contactsWith({ token: 'pat-eu1-revoked' }).findByPhone(tenantId, waId));
    expect(revoked.kind).toBe('permanent');
    expect(revoked.message).toMatch(/HubSpot answered 401 on contact search: check the tenant's HubSpot token \(HUBSPOT_TOKEN_ACME_LETTINGS\)/);
    for (const error of [limited, revoked]) expect(error.message).not.toMatch(/900555|Authentication credentials/);
    const unreachable = new HubSpotContacts(new HubSpotClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, secrets: new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: token }) }));
    expect(await failureOf(unreachable.findByPhone(tenantId, waId))).toMatchObject({ kind: 'transient', message: expect.stringMatching(/^HubSpot could not be reached on contact search \(ECONNREFUSED\)$/) });
    const noToken = new HubSpotContacts(new HubSpotClient({ baseUrl: fake.url, secrets: new SettingsSecretProvider({}) }));
    expect(await failureOf(noToken.findByPhone(tenantId, waId))).toMatchObject({ kind: 'permanent', message: 'HubSpot token HUBSPOT_TOKEN_ACME_LETTINGS is not set for this tenant' });
  });

  it('a 429 whose Retry-After fits the wait budget is retried in its place, with or without Retry-After, on search and on other calls', async () => {
    const contacts = contactsWith({ maxPacingWaitMs: 5000 });
    const contact = fake.addContact({ phone: '+447700900556' });
    fake.rateLimitNext(2, 1, /search$/, 'SECONDLY');
    expect((await contacts.findByPhone(tenantId, '447700900556' as WaId)).map((c) => c.id)).toEqual([contact.id]);
    fake.rateLimitNext(1, undefined, /contacts\/\d+$/);
    expect((await contacts.get(tenantId, contact.id))?.id).toBe(contact.id);
    fake.rateLimitNext(1, 1, /gdpr-delete$/);
    expect(await contacts.gdprDelete(tenantId, contact.id)).toBe(true);
  });

  it('concurrent look-ups of one tenant share search calls, and stay under the 5-per-second search limit', async () => {
    const contacts = contactsWith();
    const numbers = Array.from({ length: 40 }, (_, i) => `4477009006${String(i).padStart(2, '0')}` as WaId);
    for (const n of numbers.slice(0, 20)) fake.addContact({ phone: `0${n.slice(2)}` });
    const before = fake.requests.length;
    const results = await Promise.all(numbers.map((n) => contacts.findByPhone(tenantId, n)));
    expect(results.slice(0, 20).every((r) => r.length === 1)).toBe(true);
    expect(results.slice(20).every((r) => r.length === 0)).toBe(true);
    const calls = fake.requests.slice(before);
    expect(calls.length).toBeLessThanOrEqual(9); // 40 numbers x ~17 forms, 100 values per property per call
    expect(calls.every((c) => c.status === 200)).toBe(true);
  });

  it('paces separate searches under the limit, and gives up with "rate-limited" rather than wait long', async () => {
    const contacts = contactsWith();
    const before = fake.requests.length;
    const started = Date.now();
    for (let i = 0; i < 6; i++) await contacts.findByPhone(tenantId, `4477009007${i}0` as WaId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // the 5th search waited for its slot
    expect(fake.requests.slice(before).every((r) => r.status === 200)).toBe(true);

    // One after another, so each is a search of its own (concurrent look-ups would share one): five fit
    // in the second, the sixth would wait far longer than 50 ms and is turned away at once.
    const impatient = contactsWith({ maxPacingWaitMs: 50 });
    const outcomes: (HubSpotError | 'found')[] = [];
    for (let i = 0; i < 7; i++) outcomes.push(await impatient.findByPhone(tenantId, `4477009008${i}0` as WaId).then(() => 'found' as const, (error: unknown) => error as HubSpotError));
    expect(outcomes.slice(0, 5)).toEqual(['found', 'found', 'found', 'found', 'found']);
    expect(outcomes[5]).toMatchObject({ kind: 'rate-limited', retryAfterMs: expect.any(Number) });
  });
});
