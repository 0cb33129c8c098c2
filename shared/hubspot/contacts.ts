import { z } from 'zod';
import type { TenantId, WaId } from '../domain/ids';
import { HubSpotError, type HubSpotClient, type Reservation } from './hubspotClient';
import { phoneVariants } from './phoneForms';

export { phoneVariants } from './phoneForms';

/**
 * HubSpot contacts: search by a subject's identifiers, create, read, update, batch read, GDPR delete.
 *
 * Sources (read 2026-12-04): the contacts OpenAPI, github.com/HubSpot/HubSpot-public-api-spec-collection
 * `PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json` (last changed 2026-06-23): search
 * (`PublicObjectSearchRequest` requires `after`, `filterGroups`, `limit` (up to 200), `properties`,
 * `sorts`), create (`properties` and `associations` required), batch read (`inputs`, `properties`,
 * `propertiesWithHistory` required; 100 inputs), GDPR delete (`objectId`, 204). The custom channels
 * OpenAPI (`Conversations/Custom Channels/Rollouts/160898/v3/customChannels.json`, 2026-08-18) lists the
 * contact properties `phone`, `mobilephone`, `hs_whatsapp_phone_number` and `hs_whatsapp_bsuids`
 * ("WhatsApp BSUIDs", a string). Search limits: developer changelog "Expanded filtering capabilities"
 * (2024-08-26: 5 filter groups, 10 filters per group, 25 in all; the OpenAPI now says "up to 6 groups")
 * and https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm (undated: 5 requests
 * per second per account, 200 per page, 10,000 results, index lag of "a few moments").
 *
 * A subject is found by every identifier it has: its phone numbers, in every form HubSpot may hold
 * (`phoneVariants`), in `phone`, `mobilephone` and `hs_whatsapp_phone_number`, and its WhatsApp
 * business-scoped user ids (BSUIDs) in `hs_whatsapp_bsuids`. One search holds one filter group per
 * property, each a single `IN` filter (groups are ORed): 4 groups of 1 filter, inside every published
 * limit. Concurrent look-ups of one tenant share searches (up to `MAX_IN_VALUES` values per property), and
 * the answer is split again by the exact values that matched.
 *
 * Reads by id (`stillPresent`, the erasure's verification) use the batch read, up to
 * `MAX_BATCH_READ_IDS` ids per call, merged the same way across concurrent callers of one tenant.
 */
export const PHONE_PROPERTIES = ['phone', 'mobilephone', 'hs_whatsapp_phone_number'] as const;
/** HubSpot's contact property for WhatsApp business-scoped user ids (a string; several are separated). */
export const BSUID_PROPERTY = 'hs_whatsapp_bsuids';
/** Values in one IN filter (HubSpot documents no figure; 100 is what the fake and this code keep to). */
export const MAX_IN_VALUES = 100;

/** Where a call stands in the portal's line: when the work it is part of arrived (ms since epoch). */
export interface CallOrder {
  order?: number;
}

/** Who to look for: a subject's phone numbers (wa_id digits) and, where Meta sent them, its BSUIDs. */
export interface SubjectIdentifiers {
  phones: readonly WaId[];
  bsuids?: readonly string[];
}

export interface HubSpotContact {
  id: string;
  properties: Record<string, string | null>;
}

/** A contact a search found, with the properties whose value was one of the subject's identifiers. */
export interface FoundContact extends HubSpotContact {
  matchedBy: string[];
}

const searchResponseSchema = z.object({
  total: z.number().optional(),
  results: z.array(z.object({ id: z.string(), properties: z.record(z.string(), z.string().nullable()).default({}) })),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});

const contactResponseSchema = z.object({ id: z.string(), properties: z.record(z.string(), z.string().nullable()).default({}) });

/** HubSpot's batch read takes at most 100 inputs per call. */
export const MAX_BATCH_READ_IDS = 100;

/**
 * `POST /crm/v3/objects/contacts/batch/read`: 200 when every id was found, 207 Multi-Status when some or
 * all were not (`errors` with category `OBJECT_NOT_FOUND` and the ids in `context.ids`; `results` may be
 * empty). Both carry `status`, `results`, `startedAt`, `completedAt`; only what is read here is required.
 */
const batchReadResponseSchema = z.object({
  results: z.array(z.object({ id: z.string(), properties: z.record(z.string(), z.string().nullable()).default({}) })),
  errors: z
    .array(
      z.object({
        category: z.string().optional(),
        context: z.record(z.string(), z.array(z.string())).optional(),
      }),
    )
    .optional(),
});

/**
 * Merged contacts: HubSpot answers a read of a merged-away id with the merged record, under its own
 * (new) id. The merged record lists the ids merged into it here (semicolon-separated; commas read too).
 */
const MERGED_IDS_PROPERTY = 'hs_merged_object_ids';

const SEARCH_PROPERTIES = [...PHONE_PROPERTIES, BSUID_PROPERTY, 'firstname', 'lastname', 'email', 'hs_object_id', 'createdate', 'lastmodifieddate'];

interface PendingLookup {
  order: number;
  phones: Set<string>;
  bsuids: Set<string>;
  resolve: (contacts: FoundContact[]) => void;
  reject: (error: unknown) => void;
}

interface PendingRead {
  order: number;
  ids: string[];
  resolve: (present: Set<string>) => void;
  reject: (error: unknown) => void;
}

const callsFor = (ids: number): number => Math.ceil(ids / MAX_BATCH_READ_IDS);
/** How long a batch read waits for others to join while this many calls wait in the portal's line. */
const READ_COLLECT_MS = 300;
const READ_COLLECT_BACKLOG = 5;
const lower = (value: string) => value.trim().toLowerCase();
/** The BSUIDs one `hs_whatsapp_bsuids` value holds (HubSpot's multi-value strings use `;`). */
const bsuidsIn = (value: string | null | undefined): string[] => (value ?? '').split(/[;,\s]+/).map(lower).filter(Boolean);

/** The values a look-up searches for: every form of every phone number, and the BSUIDs. */
export function searchValuesOf(identifiers: SubjectIdentifiers): { phones: string[]; bsuids: string[] } {
  const phones = [...new Set(identifiers.phones.flatMap((waId) => phoneVariants(waId)))];
  const bsuids = [...new Set((identifiers.bsuids ?? []).map((b) => b.trim()).filter(Boolean))];
  if (phones.length > MAX_IN_VALUES || bsuids.length > MAX_IN_VALUES) throw new HubSpotError('permanent', 'a subject has more identifiers than one HubSpot search can hold');
  return { phones, bsuids };
}

/** Contacts of every tenant, by a subject's identifiers, through one HubSpotClient. */
export class HubSpotContacts {
  private readonly pending = new Map<TenantId, PendingLookup[]>();
  private readonly flushing = new Set<TenantId>();
  private readonly pendingReads = new Map<TenantId, PendingRead[]>();
  private readonly reading = new Set<TenantId>();

  constructor(private readonly client: HubSpotClient) {}

  /**
   * The contacts holding any of the subject's identifiers: a phone number (any form) in `phone`,
   * `mobilephone` or `hs_whatsapp_phone_number`, or a BSUID in `hs_whatsapp_bsuids`. Concurrent calls for
   * one tenant share search calls (each waits at most for the search in flight before it).
   */
  findContacts(tenantId: TenantId, identifiers: SubjectIdentifiers, options: CallOrder = {}): Promise<FoundContact[]> {
    let values: { phones: string[]; bsuids: string[] };
    try {
      values = searchValuesOf(identifiers);
    } catch (error) {
      return Promise.reject(error);
    }
    if (values.phones.length === 0 && values.bsuids.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const list = this.pending.get(tenantId) ?? [];
      list.push({ order: options.order ?? Date.now(), phones: new Set(values.phones.map(lower)), bsuids: new Set(values.bsuids.map(lower)), resolve, reject });
      list.sort((a, b) => a.order - b.order);
      this.pending.set(tenantId, list);
      if (!this.flushing.has(tenantId)) void this.flush(tenantId);
    });
  }

  /** The contacts holding this phone number in any form (`findContacts` with one number). */
  findByPhone(tenantId: TenantId, waId: WaId, options: CallOrder = {}): Promise<FoundContact[]> {
    return this.findContacts(tenantId, { phones: [waId] }, options);
  }

  /** GDPR delete (permanent, with what is attached to the contact). True when deleted, false when HubSpot had no such contact. */
  async gdprDelete(tenantId: TenantId, contactId: string, options: CallOrder = {}): Promise<boolean> {
    const response = await this.client.call(tenantId, 'contact GDPR delete', {
      ...options,
      method: 'POST',
      path: '/crm/v3/objects/contacts/gdpr-delete',
      body: { objectId: contactId },
      accept: [404],
    });
    return response.status !== 404;
  }

  /**
   * Creates a contact (`POST /crm/v3/objects/contacts`, `associations` being required, empty here).
   * HubSpot does not deduplicate by phone number: callers look the number up first and serialise
   * look-up-then-create per subject.
   */
  async create(tenantId: TenantId, properties: Record<string, string>): Promise<HubSpotContact> {
    const response = await this.client.call<unknown>(tenantId, 'contact create', { method: 'POST', path: '/crm/v3/objects/contacts', body: { properties, associations: [] } });
    const parsed = contactResponseSchema.safeParse(response.body);
    if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a contact Flowkeeper does not understand on contact create');
    return parsed.data;
  }

  /** Updates properties of a contact (`PATCH`); false when HubSpot has no such contact any more. */
  async update(tenantId: TenantId, contactId: string, properties: Record<string, string>): Promise<boolean> {
    const response = await this.client.call(tenantId, 'contact update', {
      method: 'PATCH',
      path: `/crm/v3/objects/contacts/${encodeURIComponent(contactId)}`,
      body: { properties },
      accept: [404],
    });
    return response.status !== 404;
  }

  /** A contact by id, or undefined when HubSpot has none (deleted or never there). */
  async get(tenantId: TenantId, contactId: string, options: CallOrder = {}): Promise<HubSpotContact | undefined> {
    const response = await this.client.call<unknown>(tenantId, 'contact read', {
      ...options,
      method: 'GET',
      path: `/crm/v3/objects/contacts/${encodeURIComponent(contactId)}?properties=${SEARCH_PROPERTIES.join(',')}`,
      accept: [404],
    });
    if (response.status === 404) return undefined;
    const parsed = contactResponseSchema.safeParse(response.body);
    if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a contact Flowkeeper does not understand on contact read', response.status);
    return parsed.data;
  }

  /**
   * Which of these contact ids HubSpot still holds (the rest are gone: GDPR-deleted, deleted, or never
   * there). Reads with the batch read, at most 100 ids a call; concurrent calls for one tenant share
   * calls (each waits at most for the call in flight before it). A contact merged into another counts
   * as present: its data lives on in the merged record. Asks for no property that holds personal data.
   */
  stillPresent(tenantId: TenantId, ids: readonly string[], options: CallOrder = {}): Promise<Set<string>> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return Promise.resolve(new Set());
    return new Promise((resolve, reject) => {
      const list = this.pendingReads.get(tenantId) ?? [];
      list.push({ order: options.order ?? Date.now(), ids: wanted, resolve, reject });
      list.sort((a, b) => a.order - b.order);
      this.pendingReads.set(tenantId, list);
      if (!this.reading.has(tenantId)) void this.flushReads(tenantId);
    });
  }

  private async flushReads(tenantId: TenantId): Promise<void> {
    this.reading.add(tenantId);
    try {
      // Let the callers of this turn of the event loop join the batch.
      await new Promise((resolve) => setImmediate(resolve));
      for (;;) {
        const queue = this.pendingReads.get(tenantId) ?? [];
        if (queue.length === 0) break;
        // While the portal is saturated, a place costs every caller a slot: give the verifications in
        // flight a moment to join this call rather than each spending one.
        if ((await this.client.backlog(tenantId).catch(() => 0)) >= READ_COLLECT_BACKLOG) await new Promise((resolve) => setTimeout(resolve, READ_COLLECT_MS));
        let reservation: Reservation;
        try {
          // The place first, the batch after: every verification that arrived while this one waited in
          // line rides along in the same call.
          reservation = await this.client.reserve(tenantId, 'contact batch read', { order: queue[0]!.order });
        } catch (error) {
          for (const read of queue.splice(0)) read.reject(error);
          break;
        }
        // Fill the calls: a caller joins while it needs no extra call (100 ids a call).
        const batch: PendingRead[] = [];
        const ids = new Set<string>();
        while (queue.length > 0) {
          const next = queue[0]!;
          const joined = new Set([...ids, ...next.ids]);
          if (batch.length > 0 && callsFor(joined.size) > callsFor(ids.size)) break;
          batch.push(queue.shift()!);
          for (const id of next.ids) ids.add(id);
        }
        try {
          const all = [...ids];
          const chunks: string[][] = [];
          for (let i = 0; i < all.length; i += MAX_BATCH_READ_IDS) chunks.push(all.slice(i, i + MAX_BATCH_READ_IDS));
          const order = batch[0]!.order;
          const present = new Set((await Promise.all(chunks.map((chunk, i) => this.batchRead(tenantId, chunk, i === 0 ? { reservation } : { order })))).flatMap((found) => [...found]));
          for (const read of batch) read.resolve(new Set(read.ids.filter((id) => present.has(id))));
        } catch (error) {
          for (const read of batch) read.reject(error);
        }
      }
    } finally {
      this.pendingReads.delete(tenantId);
      this.reading.delete(tenantId);
    }
  }

  /**
   * One batch read of at most 100 ids; the ones HubSpot still holds. Every documented answer is read:
   * 200 (all found), 207 with `OBJECT_NOT_FOUND` errors (some or all gone), and an answer that simply
   * leaves out ids (gone too). An id is present when a result has it, or lists it as merged into it.
   * Two cases stay on the safe side, since the verification must never call a contact gone that is not:
   * a result that names none of the ids asked for (a merge whose record does not list the old id) makes
   * every id not reported missing count as present, and a per-id error of another category fails the
   * call (the id's state is unknown).
   */
  private async batchRead(tenantId: TenantId, ids: string[], place: { reservation: Reservation } | CallOrder): Promise<Set<string>> {
    const operation = 'contact batch read';
    const response = await this.client.call<unknown>(tenantId, operation, {
      ...place,
      method: 'POST',
      path: '/crm/v3/objects/contacts/batch/read',
      // Every field the OpenAPI marks required: `inputs`, `properties`, `propertiesWithHistory`.
      body: { inputs: ids.map((id) => ({ id })), properties: ['hs_object_id', MERGED_IDS_PROPERTY], propertiesWithHistory: [] },
    });
    const parsed = batchReadResponseSchema.safeParse(response.body);
    if (!parsed.success) throw new HubSpotError('transient', `HubSpot sent a batch read answer Flowkeeper does not understand on ${operation}`, response.status);
    const asked = new Set(ids);
    const missing = new Set<string>();
    for (const error of parsed.data.errors ?? []) {
      if (error.category !== 'OBJECT_NOT_FOUND') {
        // Category is HubSpot's enum (no personal data).
        const category = /^[A-Z_]{1,64}$/.test(error.category ?? '') ? ` (${error.category})` : ''; // HubSpot's enum, nothing else
        throw new HubSpotError('transient', `HubSpot answered ${response.status}${category} for some contacts on ${operation}`, response.status);
      }
      for (const id of error.context?.ids ?? []) missing.add(id);
    }
    const present = new Set<string>();
    let unattributed = false;
    for (const result of parsed.data.results) {
      const merged = (result.properties[MERGED_IDS_PROPERTY] ?? '').split(/[;,]/).map((id) => id.trim());
      const matches = [result.id, ...merged].filter((id) => asked.has(id));
      for (const id of matches) present.add(id);
      if (matches.length === 0) unattributed = true;
    }
    if (unattributed) for (const id of ids) if (!missing.has(id)) present.add(id);
    // An id neither in the results nor reported missing is unexplained (a truncated or differently shaped
    // answer): it is read by id, which is exact, rather than taken for gone.
    const unexplained = ids.filter((id) => !present.has(id) && !missing.has(id));
    const order = 'order' in place ? place : {};
    const reads = await Promise.all(unexplained.map(async (id) => [id, await this.get(tenantId, id, order)] as const));
    for (const [id, contact] of reads) if (contact) present.add(id);
    return present;
  }

  private async flush(tenantId: TenantId): Promise<void> {
    this.flushing.add(tenantId);
    try {
      // Let the callers of this turn of the event loop join the batch.
      await new Promise((resolve) => setImmediate(resolve));
      for (;;) {
        const queue = this.pending.get(tenantId) ?? [];
        if (queue.length === 0) break;
        let reservation: Reservation;
        try {
          // The place first, the batch after: everything that arrived while waiting rides along.
          reservation = await this.client.reserve(tenantId, 'contact search', { search: true, order: queue[0]!.order });
        } catch (error) {
          for (const lookup of queue.splice(0)) lookup.reject(error);
          break;
        }
        const batch: PendingLookup[] = [];
        const phones = new Set<string>();
        const bsuids = new Set<string>();
        while (queue.length > 0) {
          const next = queue[0]!;
          const morePhones = new Set([...phones, ...next.phones]);
          const moreBsuids = new Set([...bsuids, ...next.bsuids]);
          if (batch.length > 0 && (morePhones.size > MAX_IN_VALUES || moreBsuids.size > MAX_IN_VALUES)) break;
          batch.push(queue.shift()!);
          for (const v of next.phones) phones.add(v);
          for (const v of next.bsuids) bsuids.add(v);
        }
        try {
          const found = await this.search(tenantId, [...phones], [...bsuids], reservation, batch[0]!.order);
          for (const lookup of batch) lookup.resolve(matchesOf(found, lookup));
        } catch (error) {
          for (const lookup of batch) lookup.reject(error);
        }
      }
    } finally {
      this.pending.delete(tenantId);
      this.flushing.delete(tenantId);
    }
  }

  /**
   * One search (and its further pages): a filter group per property, each one `IN` filter. Sends every
   * field the OpenAPI marks required (`after` "0" on the first page, no sort).
   */
  private async search(tenantId: TenantId, phones: string[], bsuids: string[], reservation: Reservation, order: number): Promise<HubSpotContact[]> {
    const filterGroups = [
      ...(phones.length > 0 ? PHONE_PROPERTIES.map((propertyName) => ({ filters: [{ propertyName, operator: 'IN', values: phones }] })) : []),
      ...(bsuids.length > 0 ? [{ filters: [{ propertyName: BSUID_PROPERTY, operator: 'IN', values: bsuids }] }] : []),
    ];
    const contacts: HubSpotContact[] = [];
    let after = '0';
    let first = true;
    for (;;) {
      const response = await this.client.call<unknown>(tenantId, 'contact search', {
        method: 'POST',
        path: '/crm/v3/objects/contacts/search',
        // The first page uses the place flush() reserved; further pages wait for their own.
        search: true,
        ...(first ? { reservation } : { order }),
        body: { filterGroups, properties: SEARCH_PROPERTIES, limit: 200, after, sorts: [] },
      });
      first = false;
      const parsed = searchResponseSchema.safeParse(response.body);
      if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a search answer Flowkeeper does not understand on contact search');
      contacts.push(...parsed.data.results);
      const next = parsed.data.paging?.next?.after;
      if (!next) return contacts;
      after = next;
    }
  }
}

/** The contacts of a merged search that belong to one look-up, with the properties that matched. */
function matchesOf(found: HubSpotContact[], lookup: Pick<PendingLookup, 'phones' | 'bsuids'>): FoundContact[] {
  const out: FoundContact[] = [];
  for (const contact of found) {
    const matchedBy: string[] = PHONE_PROPERTIES.filter((p) => lookup.phones.has(lower(contact.properties[p] ?? '')));
    if (bsuidsIn(contact.properties[BSUID_PROPERTY]).some((b) => lookup.bsuids.has(b))) matchedBy.push(BSUID_PROPERTY);
    if (matchedBy.length > 0) out.push({ ...contact, matchedBy });
  }
  return out;
}
