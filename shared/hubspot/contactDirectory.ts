/*
 * HubSpot reference (read 2026-12-04): contacts OpenAPI, https://github.com/HubSpot/HubSpot-public-api-spec-collection/blob/main/PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json
 * (2026-06-23: create with `properties` and `associations`, update, search); custom channels OpenAPI
 * (2026-08-18: `contactPropertiesLeadingToMatch` names contact properties such as `phone`). See
 * docs/hubspot.md "Sources".
 */
import type { SubjectHash, SubjectIdentifier, TenantId, WaId } from '../domain/ids';
import { toE164 } from '../domain/ids';
import { BSUID_PROPERTY, type HubSpotContact, type HubSpotContacts } from './contacts';
import type { HubSpotObjectRegistry } from './objectRegistry';

interface DirectoryEntry {
  contactId: string;
  /** The contact properties that identify the subject (`preResolvedContacts`). */
  matchedBy: string[];
  /** From the subject's HubSpot object record: HubSpot may have dropped it since (then looked up again). */
  recorded?: boolean;
  at: number;
  /** The rectification (its `rectifiedAt`) whose name HubSpot has. */
  nameOf?: string;
}

export interface ContactLookup {
  tenantId: TenantId;
  subjectHash: SubjectHash;
  /** The identifier of the partition the message is in: a phone number, or a BSUID (a username user). */
  identifier: SubjectIdentifier;
  profileName?: string;
  rectifiedAt?: string;
  /** An entry cached before this time (the subject's erasure) is not used. */
  notBefore?: number;
  /** How long the subject's HubSpot object record lives (seconds). */
  ttlSeconds?: number;
}

/**
 * The HubSpot contact of each subject: the one its HubSpot object record names (no search), else one found
 * by phone number, else one created with the E.164 number and the WhatsApp profile name; a contact found
 * or created is recorded under the subject's keyed hash before it is used. Look-up-then-create runs once at a time per subject (HubSpot does not
 * deduplicate contacts by phone, and its search index lags a create by seconds), and the answer is
 * cached for a while by keyed hash, so a conversation costs one search, not one per message. Several
 * Flowkeeper instances can still race to create the same person: docs/hubspot.md says what then.
 *
 * After a rectification (the contact document's `rectifiedAt`), the corrected name is pushed to the
 * HubSpot contact once.
 */
export class ContactDirectory {
  private readonly cache = new Map<string, DirectoryEntry>();
  private readonly inflight = new Map<string, Promise<DirectoryEntry>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  private readonly registry: HubSpotObjectRegistry | undefined;

  constructor(
    private readonly contacts: HubSpotContacts,
    options: { ttlMs?: number; maxEntries?: number; registry?: HubSpotObjectRegistry } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.registry = options.registry;
  }

  async contactFor(lookup: ContactLookup): Promise<{ contactId: string; cached: boolean; matchedBy: string[] }> {
    const key = `${lookup.tenantId}|${lookup.subjectHash}`;
    const hit = this.cache.get(key);
    if (hit && hit.at + this.ttlMs > Date.now() && (lookup.notBefore === undefined || hit.at > lookup.notBefore)) {
      if (lookup.rectifiedAt && lookup.profileName && hit.nameOf !== lookup.rectifiedAt) {
        if (!(await this.contacts.update(lookup.tenantId, hit.contactId, nameProperties(lookup.profileName)))) {
          this.forget(lookup.tenantId, lookup.subjectHash);
          return this.contactFor(lookup);
        }
        hit.nameOf = lookup.rectifiedAt;
      }
      return { contactId: hit.contactId, cached: true, matchedBy: hit.matchedBy };
    }
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.lookUpOrCreate(lookup).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    const entry = await flight;
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return { contactId: entry.contactId, cached: entry.recorded === true, matchedBy: entry.matchedBy };
  }

  forget(tenantId: TenantId, subjectHash: SubjectHash): void {
    this.cache.delete(`${tenantId}|${subjectHash}`);
  }

  /** The recorded contact first (no search), then a search, then a create; what is found or created is recorded. */
  private async lookUpOrCreate(lookup: ContactLookup): Promise<DirectoryEntry> {
    const at = Date.now();
    const nameOf = lookup.rectifiedAt ? { nameOf: lookup.rectifiedAt } : {};
    const ttl = lookup.ttlSeconds ?? 365 * 86_400;
    const recorded = (await this.registry?.get(lookup.tenantId, lookup.subjectHash))?.contacts.at(-1);
    if (recorded && (lookup.notBefore === undefined || Date.parse(recorded.at) > lookup.notBefore)) {
      if (lookup.rectifiedAt && lookup.profileName) await this.contacts.update(lookup.tenantId, recorded.id, nameProperties(lookup.profileName));
      return { contactId: recorded.id, matchedBy: recorded.matchedBy.length > 0 ? recorded.matchedBy : ['phone'], at, recorded: true, ...nameOf };
    }
    const own = lookup.identifier;
    const found = await this.contacts.findContacts(lookup.tenantId, own.kind === 'waId' ? { phones: [own.value] } : { phones: [], bsuids: [own.value] });
    const existing = oldest(found);
    if (existing) {
      if (lookup.rectifiedAt && lookup.profileName && !sameName(existing, lookup.profileName)) {
        await this.contacts.update(lookup.tenantId, existing.id, nameProperties(lookup.profileName));
      }
      const matchedBy = found.find((c) => c.id === existing.id)?.matchedBy ?? ['phone'];
      await this.registry?.recordContact(lookup.tenantId, lookup.subjectHash, { id: existing.id, origin: 'found', matchedBy }, ttl);
      return { contactId: existing.id, matchedBy, at, ...nameOf };
    }
    // A username user has no number here: the contact is made with the BSUID (HubSpot's WhatsApp BSUID property).
    const identity: Record<string, string> = own.kind === 'waId' ? { phone: toE164(own.value) } : { [BSUID_PROPERTY]: own.value };
    const matchedBy = own.kind === 'waId' ? ['phone'] : [BSUID_PROPERTY];
    const created = await this.contacts.create(lookup.tenantId, { ...identity, ...(lookup.profileName ? nameProperties(lookup.profileName) : {}) });
    await this.registry?.recordContact(lookup.tenantId, lookup.subjectHash, { id: created.id, origin: 'created', matchedBy }, ttl);
    return { contactId: created.id, matchedBy, at, ...nameOf };
  }
}

/**
 * Art. 16/19: a rectified profile name, pushed to every HubSpot contact of the subject's number now (the
 * sync also pushes it before the subject's next message). Returns how many contacts were updated.
 */
export async function pushRectifiedName(contacts: HubSpotContacts, tenantId: TenantId, waId: WaId, profileName: string): Promise<number> {
  let updated = 0;
  for (const contact of await contacts.findByPhone(tenantId, waId)) {
    if (sameName(contact, profileName)) continue;
    if (await contacts.update(tenantId, contact.id, nameProperties(profileName))) updated += 1;
  }
  return updated;
}

/** A WhatsApp profile name as HubSpot's first and last name (the first word, then the rest). */
export function nameProperties(profileName: string): Record<string, string> {
  const [first = '', ...rest] = profileName.trim().split(/\s+/);
  return rest.length > 0 ? { firstname: first, lastname: rest.join(' ') } : { firstname: first };
}

function sameName(contact: HubSpotContact, profileName: string): boolean {
  const wanted = nameProperties(profileName);
  return (contact.properties.firstname ?? '') === (wanted.firstname ?? '') && (contact.properties.lastname ?? '') === (wanted.lastname ?? '');
}

/** Of several contacts with the number, the one created first (HubSpot's own dedup keeps the oldest too). */
function oldest(contacts: HubSpotContact[]): HubSpotContact | undefined {
  return [...contacts].sort((a, b) => (a.properties.createdate ?? '').localeCompare(b.properties.createdate ?? '') || Number(a.id) - Number(b.id))[0];
}
