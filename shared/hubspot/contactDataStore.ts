import type { WaId } from '../domain/ids';
import type { CrmContacts } from '../privacy/ports';
import { step } from '../privacy/errors';
import type { PersonalDataStore, SubjectContext } from '../privacy/registry';
import { pushRectifiedName } from './contactDirectory';
import type { CallOrder, HubSpotContacts, SubjectIdentifiers } from './contacts';
import type { HubSpotConversations } from './conversations';
import type { HubSpotObjectRegistry } from './objectRegistry';

/**
 * The subject in the tenant's HubSpot portal (only when the tenant syncs to HubSpot): its contacts, and
 * the inbox threads of the messages Flowkeeper published to the tenant's custom channel.
 *
 * Sources (read 2026-12-04; see docs/hubspot.md): contacts OpenAPI (`gdpr-delete`: "Permanently delete a
 * contact and all associated content", 204), conversations OpenAPI (`DELETE .../threads/{threadId}`
 * archives, "permanently deleted 30 days after"; no other delete), knowledge base "Perform a permanent
 * delete in HubSpot" (2025-06-09: the purge finishes within 30 days).
 *
 * Erasure:
 * 1. what Flowkeeper recorded for the subject (its HubSpot object record: contact ids, thread ids), read
 *    from Cosmos, goes at once: its threads archived, then its contacts GDPR-deleted (which takes what is
 *    attached to them). What Flowkeeper created or used needs no search;
 * 2. beside it, a search by every identifier of the subject (phone numbers in every form in `phone`,
 *    `mobilephone` and `hs_whatsapp_phone_number`; BSUIDs in `hs_whatsapp_bsuids`), for contacts made
 *    by others, merged with the searches of the tenant's other erasures in flight;
 * 3. for a contact only the search found, its threads on the tenant's channel account(s) (two listings:
 *    open and closed) archived, then the contact GDPR-deleted;
 * 4. the record deleted.
 * The refs (`contact:<id>`, `thread:<id>`) go to verification.
 *
 * Verification reads every contact by id with the batch read (merged across the tenant's concurrent
 * verifications, 100 ids a call) and every thread by id: each contact must be gone and each thread
 * archived or gone. It reads the record again too: a contact or thread recorded after the erasure looked
 * (a sync racing it) is a leftover, and the erasure runs again. It does not search again: HubSpot's
 * search index lags writes by seconds.
 */
export interface HubSpotStoreDeps {
  contacts: HubSpotContacts;
  conversations: HubSpotConversations;
  registry: HubSpotObjectRegistry;
}

/**
 * The identifiers HubSpot is searched by: the request's identifier in plain (a phone number in every
 * form, or a BSUID in `hs_whatsapp_bsuids`). The person's other identifiers are known only as keyed
 * hashes: what Flowkeeper created or used for them is found through its object record under each hash.
 */
export function hubspotIdentifiersOf(subject: Pick<SubjectContext, 'identifier'> & { linkedWaIds?: readonly WaId[]; bsuids?: readonly string[] }): SubjectIdentifiers {
  const own = subject.identifier;
  return {
    phones: [...new Set([...(own.kind === 'waId' ? [own.value] : []), ...(subject.linkedWaIds ?? [])])],
    bsuids: [...new Set([...(own.kind === 'userId' ? [own.value] : []), ...(subject.bsuids ?? [])])],
  };
}

/** Flowkeeper's records of HubSpot objects under every identifier of the person, merged. */
async function recordsOf(registry: HubSpotObjectRegistry, subject: SubjectContext): Promise<{ contacts: { id: string }[]; threads: { id: string; channelAccountId: string }[] } | undefined> {
  const found = (await Promise.all([...new Set([subject.subjectHash, ...subject.subjectHashes])].map((h) => registry.get(subject.tenantId, h)))).filter((r) => r !== undefined);
  if (found.length === 0) return undefined;
  return { contacts: found.flatMap((r) => r.contacts), threads: found.flatMap((r) => r.threads) };
}

async function forgetAll(registry: HubSpotObjectRegistry, subject: SubjectContext): Promise<void> {
  await Promise.all([...new Set([subject.subjectHash, ...subject.subjectHashes])].map((h) => registry.forget(subject.tenantId, h)));
}

/** Refs as the erasure reports them; a bare id (an erasure from before threads were tracked) is a contact. */
function parseRefs(refs: readonly string[]): { contacts: string[]; threads: string[] } {
  const contacts: string[] = [];
  const threads: string[] = [];
  for (const ref of refs) {
    if (ref.startsWith('thread:')) threads.push(ref.slice('thread:'.length));
    else contacts.push(ref.startsWith('contact:') ? ref.slice('contact:'.length) : ref);
  }
  return { contacts, threads };
}

/** The subject's place in the portal's line: its request's receipt (older requests' calls go first). */
function orderOf(subject: Pick<SubjectContext, 'requestedAt'>): CallOrder {
  const at = subject.requestedAt ? Date.parse(subject.requestedAt) : NaN;
  return Number.isFinite(at) ? { order: at } : {};
}

export function hubspotContactDataStore(deps: HubSpotStoreDeps): PersonalDataStore {
  const { contacts, conversations, registry } = deps;

  /**
   * Archives the threads, then GDPR-deletes the contacts (one contact's delete never waits for another's
   * archive beyond its own subject's threads). Returns how many HubSpot still had.
   */
  async function eraseObjects(subject: SubjectContext, threadIds: readonly string[], contactIds: readonly string[], order: CallOrder): Promise<number> {
    const archived = await Promise.all(threadIds.map((id) => conversations.archiveThread(subject.tenantId, id, order)));
    const deleted = await Promise.all(contactIds.map((id) => contacts.gdprDelete(subject.tenantId, id, order)));
    return archived.filter(Boolean).length + deleted.filter(Boolean).length;
  }

  return {
    name: 'hubspot',
    description: "The subject's contacts in the tenant's HubSpot portal (with what is attached to them) and the inbox threads of the messages Flowkeeper published to the tenant's custom channel",
    holds: ['crm-contact', 'phone-number', 'profile-name', 'message-content'],
    retention: "the tenant's HubSpot policy; Flowkeeper stops syncing an erased or suppressed subject (tombstones, suppression list); its record of the HubSpot ids lives as the subject's contact document",
    scopes: ['all'],
    notApplicable: (tenant) => (tenant.hubspot.enabled || tenant.messageStorage === 'hubspot' ? undefined : 'not applicable: HubSpot is not enabled for this tenant'),

    async exportSubject(subject) {
      const [recorded, found] = await Promise.all([
        step('Cosmos', 'HubSpot object record read', () => recordsOf(registry, subject)),
        step('HubSpot', 'contact search', () => contacts.findContacts(subject.tenantId, hubspotIdentifiersOf(subject), orderOf(subject))),
      ]);
      const byId = new Map(found.map((c) => [c.id, { id: c.id, properties: c.properties }]));
      for (const c of recorded?.contacts ?? []) {
        if (byId.has(c.id)) continue;
        const contact = await step('HubSpot', 'contact read', () => contacts.get(subject.tenantId, c.id, orderOf(subject)));
        if (contact) byId.set(contact.id, { id: contact.id, properties: contact.properties });
      }
      const threads = (recorded?.threads ?? []).map((t) => ({ id: t.id, channelAccountId: t.channelAccountId }));
      return { records: byId.size + threads.length, data: { contacts: [...byId.values()], threads } };
    },

    async eraseSubject(subject) {
      const order = orderOf(subject);
      // What Flowkeeper recorded goes at once, while the search for what others made runs beside it.
      const searching = contacts.findContacts(subject.tenantId, hubspotIdentifiersOf(subject), order);
      // Awaited below; a failure before then is not an unhandled rejection meanwhile.
      searching.catch(() => undefined);
      const recorded = await step('Cosmos', 'HubSpot object record read', () => recordsOf(registry, subject));
      const recordedContacts = [...new Set((recorded?.contacts ?? []).map((c) => c.id))];
      const recordedThreads = [...new Set((recorded?.threads ?? []).map((t) => t.id))];
      const [known, found] = await Promise.all([eraseObjects(subject, recordedThreads, recordedContacts, order), searching]);
      // Contacts only the search found: their threads on the tenant's channel account(s) first (two
      // listings each: open and closed), then the same order.
      const others = [...new Set(found.map((c) => c.id))].filter((id) => !recordedContacts.includes(id));
      const channelAccounts = new Set([subject.tenant.hubspot.channelAccountId, ...(recorded?.threads ?? []).map((t) => t.channelAccountId)].filter((a): a is string => Boolean(a)));
      const otherThreads = new Set<string>();
      if (channelAccounts.size > 0) {
        for (const lists of await Promise.all(others.map((id) => conversations.threadsOfContact(subject.tenantId, id, order)))) {
          for (const thread of lists) if (channelAccounts.has(thread.channelAccountId) && !recordedThreads.includes(thread.id)) otherThreads.add(thread.id);
        }
      }
      const unknown = await eraseObjects(subject, [...otherThreads], others, order);
      await step('Cosmos', 'HubSpot object record delete', () => forgetAll(registry, subject));
      const contactIds = [...recordedContacts, ...others];
      const threadIds = [...recordedThreads, ...otherThreads];
      return {
        found: contactIds.length + threadIds.length,
        deleted: known + unknown,
        refs: [...contactIds.map((id) => `contact:${id}`), ...threadIds.map((id) => `thread:${id}`)],
      };
    },

    async verifyErased(subject, _scope, refs = []) {
      const order = orderOf(subject);
      const fromRefs = parseRefs(refs);
      const check = async (contactIds: string[], threadIds: string[]) => {
        const [still, live] = await Promise.all([
          contactIds.length > 0 ? step('HubSpot', 'contact batch read', () => contacts.stillPresent(subject.tenantId, contactIds, order)) : Promise.resolve(new Set<string>()),
          Promise.all(threadIds.map((id) => step('HubSpot', 'thread read', () => conversations.liveThread(subject.tenantId, id, order)))),
        ]);
        return still.size + live.filter(Boolean).length;
      };
      const [left, recorded] = await Promise.all([check(fromRefs.contacts, fromRefs.threads), step('Cosmos', 'HubSpot object record read', () => recordsOf(registry, subject))]);
      if (!recorded) return left;
      // A record written after the erasure deleted it means a sync raced the erasure: what it names is
      // checked too, and even when that is gone already the erasure runs again (and deletes the record).
      const more = await check(
        recorded.contacts.map((c) => c.id).filter((id) => !fromRefs.contacts.includes(id)),
        recorded.threads.map((t) => t.id).filter((id) => !fromRefs.threads.includes(id)),
      );
      return left + more > 0 ? left + more : 1;
    },
  };
}

/** The privacy core's CRM port on HubSpot: a rectified name pushed to every contact of the subject's number. */
export function hubspotCrmContacts(contacts: HubSpotContacts): CrmContacts {
  return {
    renameSubject: async (subject, profileName) => (subject.identifier.kind === 'waId' ? pushRectifiedName(contacts, subject.tenantId, subject.identifier.value, profileName) : 0),
  };
}
