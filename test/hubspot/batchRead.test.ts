import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../shared/config';
import type { SubjectHash, TenantId, WaId } from '../../shared/domain';
import { HubSpotClient, HubSpotContacts, HubSpotConversations, HubSpotError, hubspotContactDataStore, MAX_BATCH_READ_IDS } from '../../shared/hubspot';
import { hubspotTokenSecret, SettingsSecretProvider } from '../../shared/secrets';
import { tenantSchema } from '../../shared/tenants';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot';
import { MINIMAL_SETTINGS, settingsProblemsOf } from '../support/settings';
import { testServices } from '../support/testServices';
import { MemoryObjectRegistry } from '../doubles';
import { hubspotFailureOf } from './support';
import { rootOf } from '../../shared/runtime';

const tenantId = 'acme-lettings' as TenantId;
const BATCH_READ = '/crm/v3/objects/contacts/batch/read';
let fake: HubSpotFake;
beforeAll(async () => {
  fake = await startHubSpotFake();
});
afterAll(async () => {
  await fake?.close();
});

/** Contacts on a client with a token of its own, so the fake's records and limits are this test's alone. */
function contactsWith(options: { maxPacingWaitMs?: number } = {}): { contacts: HubSpotContacts; conversations: HubSpotConversations; token: string } {
  const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
  const secrets = new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: token });
  const client = new HubSpotClient({ baseUrl: fake.url, secrets, timeoutMs: 2000, maxPacingWaitMs: options.maxPacingWaitMs ?? 2000 });
  return { contacts: new HubSpotContacts(client), conversations: new HubSpotConversations(client), token };
}

const failure = hubspotFailureOf;

const seed = (n: number, prefix = '+4477009') => Array.from({ length: n }, (_, i) => fake.addContact({ phone: `${prefix}${String(i).padStart(5, '0')}`, firstname: `Person${i}` }).id);
/** Ids HubSpot never had (the fake's ids start at 1000 and count up). */
const unknown = (n: number, from = 9_000_000) => Array.from({ length: n }, (_, i) => String(from + i));
const inputsOf = (body: unknown) => (body as { inputs: { id: string }[] }).inputs.map((i) => i.id);

describe('reading contacts by id with the batch read', () => {
  it('all present: one call answers 200 and every id is still there; no property with personal data is asked for', async () => {
    const { contacts, token } = contactsWith();
    const ids = seed(3);
    const present = await contacts.stillPresent(tenantId, ids);
    expect([...present].sort()).toEqual([...ids].sort());
    const calls = fake.batchReads(token);
    expect(calls.map((c) => c.status)).toEqual([200]);
    expect(inputsOf(calls[0]!.body).sort()).toEqual([...ids].sort());
    const properties = (calls[0]!.body as { properties: string[] }).properties;
    expect(properties).not.toEqual(expect.arrayContaining(['phone']));
    expect(properties.some((p) => ['phone', 'mobilephone', 'firstname', 'lastname', 'email'].includes(p))).toBe(false);
  });

  it('some gone: HubSpot answers 207 with OBJECT_NOT_FOUND for the missing ids, and only the found ones are present', async () => {
    const { contacts, token } = contactsWith();
    const [kept, deleted] = [seed(2, '+4477010'), seed(2, '+4477011')];
    for (const id of deleted) expect(await contacts.gdprDelete(tenantId, id)).toBe(true);
    const never = unknown(1);
    const present = await contacts.stillPresent(tenantId, [...kept, ...deleted, ...never]);
    expect([...present].sort()).toEqual([...kept].sort());
    const [call] = fake.batchReads(token);
    expect(call!.status).toBe(207);
  });

  it('all gone: 207 with no results, and nothing is present', async () => {
    const { contacts, token } = contactsWith();
    const ids = seed(2, '+4477012');
    for (const id of ids) await contacts.gdprDelete(tenantId, id);
    expect((await contacts.stillPresent(tenantId, [...ids, ...unknown(2)])).size).toBe(0);
    expect(fake.batchReads(token).map((c) => c.status)).toEqual([207]);
  });

  it('an answer that leaves ids out without saying why (200, fewer results) is not taken as "gone": those ids are read one by one', async () => {
    fake.batchReadMissing = 'omit';
    try {
      const { contacts, token } = contactsWith();
      const kept = seed(2, '+4477013');
      const gone = unknown(3);
      const present = await contacts.stillPresent(tenantId, [...kept, ...gone]);
      expect([...present].sort()).toEqual([...kept].sort());
      expect(fake.batchReads(token).map((c) => c.status)).toEqual([200]);
      const reads = fake.requests.filter((r) => r.token === token && r.method === 'GET').map((r) => r.path.split('/').pop());
      expect(reads.sort()).toEqual([...gone].sort());
    } finally {
      fake.batchReadMissing = '207';
    }
  });

  it('a contact merged into another still counts as present (HubSpot answers the old id with the merged record)', async () => {
    const { contacts } = contactsWith();
    const [a, b] = seed(2, '+4477014');
    const merged = fake.mergeContacts(a!, b!);
    expect(merged.id).not.toBe(a);
    const present = await contacts.stillPresent(tenantId, [a!, b!, ...unknown(1)]);
    expect([...present].sort()).toEqual([a!, b!].sort());
    // After a GDPR delete of the merged record, the old ids read as gone.
    expect(await contacts.gdprDelete(tenantId, merged.id)).toBe(true);
    expect((await contacts.stillPresent(tenantId, [a!, b!])).size).toBe(0);
  });

  it('a result that names none of the ids asked for keeps every id not reported missing as present (never a false "gone")', async () => {
    const { contacts } = contactsWith();
    const [a, b] = seed(2, '+4477024');
    const merged = fake.mergeContacts(a!, b!);
    delete merged.properties.hs_merged_object_ids; // a merged record that does not say what it absorbed
    const never = unknown(1, 9_500_000)[0]!;
    expect([...(await contacts.stillPresent(tenantId, [a!, never]))]).toEqual([a]);
    fake.batchReadMissing = 'omit';
    try {
      // Without the 207's list of missing ids, nothing tells the unknown id apart from the merged one.
      expect([...(await contacts.stillPresent(tenantId, [a!, never]))].sort()).toEqual([a!, never].sort());
    } finally {
      fake.batchReadMissing = '207';
    }
  });

  it('a per-id error other than OBJECT_NOT_FOUND fails the read instead of counting the id as gone', async () => {
    const odd = await startHubSpotFake();
    try {
      odd.route('POST', BATCH_READ, () => ({
        status: 207,
        body: { status: 'COMPLETE', results: [], numErrors: 1, errors: [{ status: 'error', category: 'VALIDATION_ERROR', message: 'bad id +447700900123', context: { ids: ['1'] } }] },
      }));
      const secrets = new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: 'pat-eu1-odd' });
      const contacts = new HubSpotContacts(new HubSpotClient({ baseUrl: odd.url, secrets }));
      const error = await failure(contacts.stillPresent(tenantId, ['1']));
      expect(error).toMatchObject({ kind: 'transient', message: 'HubSpot answered 207 (VALIDATION_ERROR) for some contacts on contact batch read' });
    } finally {
      await odd.close();
    }
  });

  it('more than 100 ids are split into calls of at most 100', async () => {
    const { contacts, token } = contactsWith();
    const existing = seed(120, '+4477015');
    const ids = [...existing, ...unknown(130, 9_100_000)];
    const present = await contacts.stillPresent(tenantId, ids);
    expect(present.size).toBe(120);
    expect([...present].sort()).toEqual([...existing].sort());
    const calls = fake.batchReads(token);
    expect(calls).toHaveLength(Math.ceil(250 / MAX_BATCH_READ_IDS));
    expect(calls.every((c) => inputsOf(c.body).length <= MAX_BATCH_READ_IDS)).toBe(true);
    expect(calls.flatMap((c) => inputsOf(c.body)).sort()).toEqual([...ids].sort());
  });

  it('concurrent verifications of one tenant share one call, and each gets the answer for its own ids', async () => {
    const { contacts, token } = contactsWith();
    const subjects = Array.from({ length: 6 }, (_, i) => ({ kept: seed(4, `+44770${16 + i}`), gone: unknown(3, 9_200_000 + i * 10) }));
    const shared = subjects[0]!.kept[0]!;
    const answers = await Promise.all(subjects.map((s, i) => contacts.stillPresent(tenantId, i === 1 ? [...s.kept, ...s.gone, shared] : [...s.kept, ...s.gone])));
    expect(fake.batchReads(token)).toHaveLength(1);
    answers.forEach((present, i) => {
      const expected = i === 1 ? [...subjects[i]!.kept, shared] : subjects[i]!.kept;
      expect([...present].sort()).toEqual([...expected].sort());
    });
    // The shared id was asked once.
    expect(inputsOf(fake.batchReads(token)[0]!.body).filter((id) => id === shared)).toHaveLength(1);
  });

  it('no ids, no call', async () => {
    const { contacts, token } = contactsWith();
    expect((await contacts.stillPresent(tenantId, [])).size).toBe(0);
    expect(fake.batchReads(token)).toHaveLength(0);
  });

  it('a 429 with Retry-After is "rate-limited" for every caller of the call, a 500 "transient", and neither message holds a body', async () => {
    const { contacts } = contactsWith();
    const ids = seed(2, '+4477040');
    fake.rateLimitNext(1, 7, /batch\/read$/);
    const limited = await Promise.allSettled([contacts.stillPresent(tenantId, [ids[0]!]), contacts.stillPresent(tenantId, [ids[1]!])]);
    const reasons = limited.map((o) => (o.status === 'rejected' ? (o.reason as HubSpotError) : undefined));
    for (const reason of reasons) {
      expect(reason).toBeInstanceOf(HubSpotError);
      expect(reason).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 7000, policy: 'TEN_SECONDLY_ROLLING' });
      expect(reason!.message).toBe('HubSpot answered 429 (TEN_SECONDLY_ROLLING) on contact batch read; retry after 7 s');
    }

    const { contacts: other } = contactsWith();
    fake.failNext(1, 500, /batch\/read$/);
    const failed = await failure(other.stillPresent(tenantId, ids));
    expect(failed).toMatchObject({ kind: 'transient', status: 500, message: 'HubSpot answered 500 on contact batch read' });
    for (const error of [...reasons, failed]) expect(error!.message).not.toMatch(/internal error|You have reached|4477040/);
    // The next call goes through.
    expect((await other.stillPresent(tenantId, ids)).size).toBe(2);
  });
});

describe('the fake batch read answers as HubSpot does', () => {
  const post = (token: string, body: unknown) =>
    fetch(`${fake.url}${BATCH_READ}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('200 and 207 bodies carry status, results, startedAt, completedAt; the 207 names the missing ids', async () => {
    const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
    const [id] = seed(1, '+4477050');
    const ok = await post(token, { inputs: [{ id }], properties: ['firstname'], propertiesWithHistory: [] });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'COMPLETE', results: [{ id, properties: { firstname: 'Person0' } }], startedAt: expect.any(String), completedAt: expect.any(String) });
    const multi = await post(token, { inputs: [{ id }, { id: '8888888' }], properties: [], propertiesWithHistory: [] });
    expect(multi.status).toBe(207);
    expect(await multi.json()).toMatchObject({
      results: [{ id }],
      numErrors: 1,
      errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', context: { ids: ['8888888'] } }],
    });
  });

  it('refuses with 400 VALIDATION_ERROR more than 100 inputs, a missing inputs array, an input without an id, and a body without what the OpenAPI requires (properties, propertiesWithHistory)', async () => {
    const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
    const required = { properties: [], propertiesWithHistory: [] };
    const bodies = [
      { inputs: unknown(101).map((id) => ({ id })), ...required },
      { ...required },
      { inputs: [{ objectId: '1' }], ...required },
      { inputs: [{ id: 12 }], ...required },
      { inputs: [{ id: '1' }], properties: [] },
      { inputs: [{ id: '1' }], propertiesWithHistory: [] },
    ];
    for (const body of bodies) {
      const answer = await post(token, body);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    }
    expect(fake.batchReads(token).map((c) => c.status)).toEqual([400, 400, 400, 400, 400, 400]);
  });

  it("Flowkeeper's batch read sends every field the OpenAPI marks required", async () => {
    const { contacts, token } = contactsWith();
    await contacts.stillPresent(tenantId, seed(1, '+4477051'));
    expect(fake.batchReads(token)[0]!.body).toMatchObject({ inputs: [expect.any(Object)], properties: expect.any(Array), propertiesWithHistory: [] });
  });

  it('counts one call against the general limit, with the rate-limit headers, and answers 429 when the window is full', async () => {
    fake.requestsPerTenSeconds = 2;
    fake.rateLimitWindowMs = 4000;
    try {
      const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
      const body = { inputs: unknown(50).map((id) => ({ id })), properties: [], propertiesWithHistory: [] };
      const answers = [await post(token, body), await post(token, body), await post(token, body)];
      expect(answers.map((a) => a.status)).toEqual([207, 207, 429]);
      expect(answers.slice(0, 2).map((a) => a.headers.get('x-hubspot-ratelimit-remaining'))).toEqual(['1', '0']);
      expect(await answers[2]!.json()).toMatchObject({ policyName: 'TEN_SECONDLY_ROLLING' });
    } finally {
      fake.requestsPerTenSeconds = 0;
      fake.rateLimitWindowMs = 10_000;
    }
  });
});

describe('the HubSpot store verifies an erasure with the batch read', () => {
  const now = new Date().toISOString();
  const tenant = tenantSchema.parse({ id: tenantId, name: 'Acme', phoneNumberIds: ['106540352242922'], messageStorage: 'none', hubspot: { enabled: true }, createdAt: now, updatedAt: now });
  const subject = (waId: string) => ({ tenant, tenantId, identifier: { kind: 'waId' as const, value: waId as WaId }, subjectHash: 'h'.repeat(64) as SubjectHash, subjectHashes: ['h'.repeat(64) as SubjectHash] });

  it('counts a contact that still exists as a leftover, and 0 after the GDPR delete, in one call per verification', async () => {
    const { contacts, conversations, token } = contactsWith();
    const store = hubspotContactDataStore({ contacts, conversations, registry: new MemoryObjectRegistry() });
    const waId = '447700960001';
    const ids = [fake.addContact({ phone: '+447700960001' }).id, fake.addContact({ mobilephone: '07700 960001' }).id];
    // A leftover: what the erasure found, not deleted (yet).
    expect(await store.verifyErased(subject(waId), 'all', ids)).toBe(2);
    const outcome = await store.eraseSubject(subject(waId), 'all');
    expect(outcome).toMatchObject({ found: 2, deleted: 2 });
    expect([...(outcome.refs ?? [])].sort()).toEqual(ids.map((id) => `contact:${id}`).sort());
    expect(await store.verifyErased(subject(waId), 'all', outcome.refs)).toBe(0);
    // One batch read per verification, no GET per contact.
    expect(fake.batchReads(token)).toHaveLength(2);
    expect(fake.requests.filter((r) => r.token === token && r.method === 'GET')).toEqual([]);
    // Nothing to verify: no call.
    expect(await store.verifyErased(subject(waId), 'all', [])).toBe(0);
    expect(fake.batchReads(token)).toHaveLength(2);
  });

  it('concurrent verifications of subjects of one tenant share one batch read', async () => {
    const { contacts, conversations, token } = contactsWith();
    const store = hubspotContactDataStore({ contacts, conversations, registry: new MemoryObjectRegistry() });
    const waIds = Array.from({ length: 8 }, (_, i) => `4477009700${i}0`);
    const refs = waIds.map((w, i) => (i % 2 === 0 ? [fake.addContact({ phone: `+${w}` }).id] : unknown(1, 9_300_000 + i)));
    const leftovers = await Promise.all(waIds.map((w, i) => store.verifyErased(subject(w), 'all', refs[i])));
    expect(leftovers).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
    expect(fake.batchReads(token)).toHaveLength(1);
  });
});

describe('HUBSPOT_REQUESTS_PER_TEN_SECONDS', () => {
  const valid = MINIMAL_SETTINGS;
  const problemsOf = (value: string): string[] => settingsProblemsOf({ ...valid, HUBSPOT_REQUESTS_PER_TEN_SECONDS: value });

  it("defaults to 100 (Free/Starter) and takes a tier's value (190, 250)", () => {
    expect(loadSettings(valid).HUBSPOT_REQUESTS_PER_TEN_SECONDS).toBe(100);
    expect(loadSettings({ ...valid, HUBSPOT_REQUESTS_PER_TEN_SECONDS: '190' }).HUBSPOT_REQUESTS_PER_TEN_SECONDS).toBe(190);
    expect(loadSettings({ ...valid, HUBSPOT_REQUESTS_PER_TEN_SECONDS: ' 250 ' }).HUBSPOT_REQUESTS_PER_TEN_SECONDS).toBe(250);
  });

  it('a value that is not a positive whole number stops start-up with a message naming the setting', () => {
    for (const bad of ['0', '-5', '12.5', 'lots']) {
      const problems = problemsOf(bad);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^HUBSPOT_REQUESTS_PER_TEN_SECONDS (must be at least 1|must be a whole number)$/);
      expect(problems[0]).not.toContain(bad);
    }
  });

  it("reaches the app's HubSpot client: it paces every token to that many calls per 10 s", async () => {
    const s = await testServices({ HUBSPOT_API_BASE_URL: fake.url, HUBSPOT_REQUESTS_PER_TEN_SECONDS: '3', SECRET_CACHE_SECONDS: '0' });
    try {
      const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
      s.env[hubspotTokenSecret(tenantId)] = token;
      const contacts = new HubSpotContacts(rootOf(s).hubspot);
      // Seven at once: three go now, the next in their turn, and those whose turn lies beyond the wait
      // budget (15 s) are told so at once instead of waiting.
      const started = Date.now();
      const outcomes = await Promise.allSettled(Array.from({ length: 7 }, (_, i) => contacts.get(tenantId, unknown(1, 9_400_000 + i)[0]!)));
      const paced = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as HubSpotError);
      expect(paced.length).toBeGreaterThan(0);
      for (const error of paced) expect(error).toMatchObject({ kind: 'rate-limited', message: expect.stringMatching(/^Flowkeeper paced HubSpot contact read to 3 calls per 10000 ms; retry after \d+ s$/) });
      const mine = fake.requests.filter((r) => r.token === token);
      expect(mine).toHaveLength(7 - paced.length);
      expect(mine.filter((r) => r.at! < started + 1000)).toHaveLength(3);
      expect(fake.maxAcceptedInWindow(token, 10_000)).toBeLessThanOrEqual(3);
    } finally {
      await s.close();
    }
  });
});
