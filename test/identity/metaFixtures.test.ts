import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptText, keyringFrom } from '../../shared/crypto';
import { identifierHashOf, subjectPartitionKey, type SubjectIdentifier, type TenantId } from '../../shared/domain';
import { closure, fencePerson, liftPersonFence } from '../../shared/identity';
import { tenantSchema, type Tenant } from '../../shared/tenants';
import * as meta from '../fixtures/whatsapp/meta2026';
import { inMemoryWebhookWorld, ManualClock } from '../doubles';

/**
 * Meta's documented payloads (test/fixtures/whatsapp/meta2026.ts: "Business-scoped user IDs", updated
 * Nov 5 2026 / Jun 29 2026 revision; "System messages", Aug 11 2026; "user_preferences", May 21 2026;
 * "Revoke", May 21 2026; "Edit", Jul 20 2026) through the webhook use case, exactly as written there.
 */
const SECRET = 'meta-fixtures-app-secret';
const KEY = 'meta-fixtures-subject-hash-key-0123456789ab';
const DATA_KEY = randomBytes(32).toString('base64');

function world(messageStorage: Tenant['messageStorage'] = 'encrypted') {
  const clock = new ManualClock(new Date('2026-12-01T10:00:00Z'));
  const now = clock.now().toISOString();
  const tenant = tenantSchema.parse({ id: `m-${randomBytes(4).toString('hex')}`, name: 'Meta fixtures', phoneNumberIds: [meta.BUSINESS.phone_number_id], messageStorage, createdAt: now, updatedAt: now });
  const { deps, privacyCalls, post: deliver } = inMemoryWebhookWorld({ tenant, clock, appSecret: SECRET, subjectHashKey: KEY, dataKey: DATA_KEY, maxBytes: 3 << 20 });
  const post = async (payload: unknown) => {
    const result = await deliver(payload);
    if (result.kind !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(result)}`);
    return result.summary;
  };
  const tenantId = tenant.id as TenantId;
  const hash = (identifier: SubjectIdentifier) => identifierHashOf(KEY, tenantId, identifier);
  const pk = (identifier: SubjectIdentifier) => subjectPartitionKey(tenantId, hash(identifier));
  const docsIn = (identifier: SubjectIdentifier) => deps.subjects.all().filter((d) => d.pk === pk(identifier));
  return { deps, tenantId, post, hash, docsIn, privacyCalls };
}

const waId = (value: string): SubjectIdentifier => ({ kind: 'waId', value } as SubjectIdentifier);
const userId = (value: string): SubjectIdentifier => ({ kind: 'userId', value } as SubjectIdentifier);

describe("Meta's 2026 payloads, as documented", () => {
  it('a text from a username user (no from, no wa_id) is stored under their BSUID', async () => {
    const w = world();
    expect(await w.post(meta.textFromUsernameUser)).toMatchObject({ messages: 1, stored: 1, ignored: 0 });
    expect(w.docsIn(userId(meta.USERNAME_USER.userId)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
  });

  it('empty phone fields read as absent: the BSUID is the identifier', async () => {
    const w = world();
    expect(await w.post(meta.textWithEmptyPhoneFields)).toMatchObject({ stored: 1 });
  });

  it('a parent BSUID is linked to the BSUID; a phone user is stored under the number and linked to their BSUID', async () => {
    const w = world();
    await w.post(meta.textFromUsernameUserWithParent);
    expect(await closure(w.deps.links, w.tenantId, [w.hash(userId(meta.PARENT_USER_ID))])).toContain(w.hash(userId(meta.USERNAME_USER.userId)));
    await w.post(meta.textFromPhoneUser);
    expect(w.docsIn(waId(meta.PHONE_USER.waId)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
    expect(await closure(w.deps.links, w.tenantId, [w.hash(userId(meta.PHONE_USER.userId))])).toContain(w.hash(waId(meta.PHONE_USER.waId)));
  });

  it("a username user's Privacy Centre erasure (flow completion) becomes a request under the BSUID", async () => {
    const w = world();
    expect(await w.post(meta.flowCompletionFromUsernameUser)).toMatchObject({ privacyRequests: 1 });
    expect(w.privacyCalls[0]).toMatchObject({ subject: { kind: 'userId', value: meta.USERNAME_USER.userId }, type: 'erasure', scope: 'all', channel: 'flow' });
  });

  it('number changes link old and new identifiers: system messages (current and pre-v12 shape) and user_id_update', async () => {
    const w = world();
    expect(await w.post(meta.userChangedNumber)).toMatchObject({ identity: 1, stored: 0 });
    expect(await w.post(meta.legacyUserChangedNumber)).toMatchObject({ stored: 0 });
    expect(await w.post(meta.userChangedUserId)).toMatchObject({ stored: 0 });
    expect(await w.post(meta.userIdUpdate)).toMatchObject({ identity: 1 });
    const person = await closure(w.deps.links, w.tenantId, [w.hash(waId(meta.CHANGED_USER.newWaId))]);
    for (const identifier of [waId(meta.CHANGED_USER.oldWaId), userId(meta.CHANGED_USER.newUserId), userId(meta.CHANGED_USER.oldUserId)]) expect(person).toContain(w.hash(identifier));
    // Nothing from the system body (the name, both numbers) is anywhere but the links' hashes.
    const everything = JSON.stringify([w.deps.subjects.all(), w.deps.audit.events, w.deps.markers.all(), w.deps.telemetry.events, w.deps.telemetry.metrics]);
    for (const needle of [meta.CHANGED_USER.oldWaId, meta.CHANGED_USER.newWaId, meta.CHANGED_USER.newUserId, meta.CHANGED_USER.profileName]) expect(everything).not.toContain(needle);
  });

  it('user_preferences stop and resume are the person’s marketing preference, newest wins', async () => {
    const w = world();
    expect(await w.post(meta.userPreferencesStop)).toMatchObject({ identity: 1 });
    const marker = await w.deps.markers.get('marketing-preference', w.tenantId, w.hash(userId(meta.USERNAME_USER.userId)));
    expect(marker?.data).toMatchObject({ value: 'stop', source: 'user_preferences' });
    await w.post(meta.userPreferencesResume);
    expect((await w.deps.markers.get('marketing-preference', w.tenantId, w.hash(userId(meta.USERNAME_USER.userId))))?.data?.value).toBe('resume');
    expect(w.deps.audit.events.filter((e) => e.type === 'subject.marketing-preference').map((e) => e.details?.value)).toEqual(['stop', 'resume']);
    await w.post(meta.userPreferencesStopPhoneUser);
    expect((await w.deps.markers.get('marketing-preference', w.tenantId, w.hash(waId(meta.PHONE_USER.waId))))?.data?.value).toBe('stop');
  });

  it('revoke removes the stored text; edit replaces the stored content with the new one', async () => {
    const w = world();
    await w.post(meta.textFromPhoneUser);
    expect(w.docsIn(waId(meta.PHONE_USER.waId)).filter((d) => d.type === 'message')).toHaveLength(1);
    expect(await w.post(meta.revokeOfText)).toMatchObject({ identity: 1 });
    expect(w.docsIn(waId(meta.PHONE_USER.waId)).filter((d) => d.type === 'message')).toEqual([]);

    // The edit of the same text, in a world where it was not revoked.
    const e = world();
    await e.post(meta.textFromPhoneUser);
    expect(await e.post(meta.editOfText)).toMatchObject({ identity: 1 });
    const docs = e.docsIn(waId(meta.PHONE_USER.waId)).filter((d) => d.type === 'message') as unknown as { id: string; ciphertext: string }[];
    expect(docs).toHaveLength(1);
    const [doc] = docs;
    const content = decryptText(keyringFrom(DATA_KEY), doc!.ciphertext, doc!.id);
    const edited = (meta.editOfText.entry[0]!.changes[0]!.value.messages[0]! as { edit: { message: { text: { body: string } } } }).edit.message.text.body;
    expect(content).toContain(edited);
    expect(content).not.toContain('Thursday');
  });

  it('the erasure fence covers the person: during an erasure by the new number, a message under the old one is included in it, and lifting clears every identifier', async () => {
    const w = world();
    await w.post(meta.userChangedNumber);
    const person = await closure(w.deps.links, w.tenantId, [w.hash(waId(meta.CHANGED_USER.newWaId))]);
    await fencePerson(w.deps, w.tenantId, [w.hash(waId(meta.CHANGED_USER.newWaId))], { requestId: 'r-1', since: new Date().toISOString(), scope: 'all' });
    for (const hash of person) expect(await w.deps.markers.get('fence', w.tenantId, hash)).toBeDefined();
    expect(await w.post(meta.textFromPhoneUser)).toMatchObject({ includedInErasure: 1, stored: 0 });
    expect(w.docsIn(waId(meta.PHONE_USER.waId))).toEqual([]);
    await liftPersonFence(w.deps, w.tenantId, [w.hash(waId(meta.CHANGED_USER.newWaId))], 'r-1');
    for (const hash of person) expect(await w.deps.markers.get('fence', w.tenantId, hash)).toBeUndefined();
  });

  it('statuses to a BSUID-only user are counted, never stored', async () => {
    const w = world();
    for (const payload of [meta.statusDeliveredToBsuidOnlyUser, meta.statusSentToBsuidOnlyUser, meta.statusFailedToBsuidOnlyUser]) expect(await w.post(payload)).toMatchObject({ statuses: 1, stored: 0 });
    expect(w.deps.subjects.all()).toEqual([]);
  });
});
