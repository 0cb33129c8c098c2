import { z } from 'zod';
import type { TenantId, WaId } from '../domain/ids';
import { HubSpotError, type HubSpotClient } from './hubspotClient';

/**
 * HubSpot contacts by phone number: search, read, GDPR delete.
 *
 * HubSpot keeps a phone property as it was typed unless the portal turned on phone validation (then
 * E.164 without formatting, `+447700900123`). So one person may be `+447700900123`, `447700900123`,
 * `07700 900123` or `+44 7700 900123`, in `phone` or in `mobilephone`. The search asks for every form
 * we can derive from the wa_id with the `IN` operator (exact match), one filter group per property.
 *
 * Searches are limited per token (about 4 per second), so concurrent look-ups of one tenant are merged
 * into one search call (up to `MAX_IN_VALUES` values per property) and the answer is split again by
 * the exact values that matched.
 *
 * Reads by id (`stillPresent`, the erasure's verification) use the batch read, up to
 * `MAX_BATCH_READ_IDS` ids per call, merged the same way across concurrent callers of one tenant: one
 * call where a GET per contact would spend one call of the burst limit each.
 */
export const PHONE_PROPERTIES = ['phone', 'mobilephone'] as const;
/** Values in one IN filter (kept at 100: HubSpot documents no higher figure). */
export const MAX_IN_VALUES = 100;
/** HubSpot allows 5 filter groups per search: 2 per phone property, so 200 values per search. */
const GROUPS_PER_PROPERTY = 2;
const MAX_SEARCH_VALUES = MAX_IN_VALUES * GROUPS_PER_PROPERTY;

export interface HubSpotContact {
  id: string;
  properties: Record<string, string | null>;
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

/** Country calling codes whose national form starts with a trunk 0 (the common ones; others get the international forms only). */
const TRUNK_ZERO = ['44', '49', '33', '31', '32', '41', '43', '46', '61', '64', '27', '353', '90', '92', '234', '254', '62', '66', '81', '82', '86', '34'];

/** Every form of a phone number that HubSpot may hold for this wa_id (digits without '+'). */
export function phoneVariants(waId: WaId): string[] {
  const digits = String(waId);
  const forms = new Set<string>([`+${digits}`, digits, `00${digits}`]);
  if (digits.startsWith('1') && digits.length === 11) {
    const n = digits.slice(1);
    const [a, b, c] = [n.slice(0, 3), n.slice(3, 6), n.slice(6)];
    for (const f of [n, `(${a}) ${b}-${c}`, `${a}-${b}-${c}`, `${a} ${b} ${c}`, `+1 ${a}-${b}-${c}`, `+1 (${a}) ${b}-${c}`, `+1 ${a} ${b} ${c}`, `1${n}`]) forms.add(f);
  }
  const cc = TRUNK_ZERO.filter((code) => digits.startsWith(code)).sort((x, y) => y.length - x.length)[0];
  if (cc && cc !== '34') {
    const national = digits.slice(cc.length);
    forms.add(`0${national}`);
    forms.add(`+${cc} ${national}`);
    forms.add(`+${cc} (0)${national}`);
    if (cc === '44' && national.length === 10) {
      // UK: mobiles and most numbers are written 5+6 (07700 900123); London-style 3+4+4 too (020 7946 0123).
      forms.add(`0${national.slice(0, 4)} ${national.slice(4)}`);
      forms.add(`+44 ${national.slice(0, 4)} ${national.slice(4)}`);
      forms.add(`+44 (0)${national.slice(0, 4)} ${national.slice(4)}`);
      forms.add(`0${national.slice(0, 2)} ${national.slice(2, 6)} ${national.slice(6)}`);
    }
  }
  return [...forms];
}

const SEARCH_PROPERTIES = ['phone', 'mobilephone', 'firstname', 'lastname', 'email', 'hs_object_id', 'createdate', 'lastmodifieddate'];

interface PendingLookup {
  variants: string[];
  resolve: (contacts: HubSpotContact[]) => void;
  reject: (error: unknown) => void;
}

interface PendingRead {
  ids: string[];
  resolve: (present: Set<string>) => void;
  reject: (error: unknown) => void;
}

const callsFor = (ids: number): number => Math.ceil(ids / MAX_BATCH_READ_IDS);

/** Contacts of every tenant, by phone number, through one HubSpotClient. */
export class HubSpotContacts {
  private readonly pending = new Map<TenantId, PendingLookup[]>();
  private readonly flushing = new Set<TenantId>();
  private readonly pendingReads = new Map<TenantId, PendingRead[]>();
  private readonly reading = new Set<TenantId>();

  constructor(private readonly client: HubSpotClient) {}

  /**
   * The contacts whose phone or mobile phone is any form of `waId`. Concurrent calls for one tenant
   * share search calls (each waits at most for the search in flight before it).
   */
  findByPhone(tenantId: TenantId, waId: WaId): Promise<HubSpotContact[]> {
    return new Promise((resolve, reject) => {
      const list = this.pending.get(tenantId) ?? [];
      list.push({ variants: phoneVariants(waId), resolve, reject });
      this.pending.set(tenantId, list);
      if (!this.flushing.has(tenantId)) void this.flush(tenantId);
    });
  }

  /** GDPR delete (permanent, with engagements). True when deleted, false when HubSpot had no such contact. */
  async gdprDelete(tenantId: TenantId, contactId: string): Promise<boolean> {
    const response = await this.client.call(tenantId, 'contact GDPR delete', {
      method: 'POST',
      path: '/crm/v3/objects/contacts/gdpr-delete',
      body: { objectId: contactId },
      accept: [404],
    });
    return response.status !== 404;
  }

  /**
   * Creates a contact (`POST /crm/v3/objects/contacts`). HubSpot does not deduplicate by phone number:
   * callers look the number up first and serialise look-up-then-create per subject.
   */
  async create(tenantId: TenantId, properties: Record<string, string>): Promise<HubSpotContact> {
    const response = await this.client.call<unknown>(tenantId, 'contact create', { method: 'POST', path: '/crm/v3/objects/contacts', body: { properties } });
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
  async get(tenantId: TenantId, contactId: string): Promise<HubSpotContact | undefined> {
    const response = await this.client.call<{ id: string; properties: Record<string, string | null> }>(tenantId, 'contact read', {
      method: 'GET',
      path: `/crm/v3/objects/contacts/${encodeURIComponent(contactId)}?properties=${SEARCH_PROPERTIES.join(',')}`,
      accept: [404],
    });
    if (response.status === 404 || !response.body) return undefined;
    return { id: response.body.id, properties: response.body.properties ?? {} };
  }

  /**
   * Which of these contact ids HubSpot still holds (the rest are gone: GDPR-deleted, deleted, or never
   * there). Reads with the batch read, at most 100 ids a call; concurrent calls for one tenant share
   * calls (each waits at most for the call in flight before it). A contact merged into another counts
   * as present: its data lives on in the merged record. Asks for no property that holds personal data.
   */
  stillPresent(tenantId: TenantId, ids: readonly string[]): Promise<Set<string>> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return Promise.resolve(new Set());
    return new Promise((resolve, reject) => {
      const list = this.pendingReads.get(tenantId) ?? [];
      list.push({ ids: wanted, resolve, reject });
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
          const present = new Set((await Promise.all(chunks.map((chunk) => this.batchRead(tenantId, chunk)))).flatMap((found) => [...found]));
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
  private async batchRead(tenantId: TenantId, ids: string[]): Promise<Set<string>> {
    const operation = 'contact batch read';
    const response = await this.client.call<unknown>(tenantId, operation, {
      method: 'POST',
      path: '/crm/v3/objects/contacts/batch/read',
      body: { inputs: ids.map((id) => ({ id })), properties: ['hs_object_id', MERGED_IDS_PROPERTY] },
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
    const reads = await Promise.all(unexplained.map(async (id) => [id, await this.get(tenantId, id)] as const));
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
        try {
          // The slot first, the batch after: everything that arrived while waiting rides along.
          await this.client.reserveSearch(tenantId, 'contact search');
        } catch (error) {
          for (const lookup of queue.splice(0)) lookup.reject(error);
          break;
        }
        const batch: PendingLookup[] = [];
        let values = 0;
        while (queue.length > 0 && (batch.length === 0 || values + queue[0]!.variants.length <= MAX_SEARCH_VALUES)) {
          const next = queue.shift()!;
          batch.push(next);
          values += next.variants.length;
        }
        try {
          const found = await this.search(tenantId, [...new Set(batch.flatMap((b) => b.variants))]);
          for (const lookup of batch) {
            const wanted = new Set(lookup.variants);
            lookup.resolve(found.filter((c) => PHONE_PROPERTIES.some((p) => wanted.has(c.properties[p] ?? ''))));
          }
        } catch (error) {
          for (const lookup of batch) lookup.reject(error);
        }
      }
    } finally {
      this.pending.delete(tenantId);
      this.flushing.delete(tenantId);
    }
  }

  private async search(tenantId: TenantId, values: string[]): Promise<HubSpotContact[]> {
    const contacts: HubSpotContact[] = [];
    let after: string | undefined;
    const chunks: string[][] = [];
    for (let i = 0; i < values.length; i += MAX_IN_VALUES) chunks.push(values.slice(i, i + MAX_IN_VALUES));
    const filterGroups = PHONE_PROPERTIES.flatMap((propertyName) => chunks.map((chunk) => ({ filters: [{ propertyName, operator: 'IN', values: chunk }] })));
    do {
      const response = await this.client.call<unknown>(tenantId, 'contact search', {
        method: 'POST',
        path: '/crm/v3/objects/contacts/search',
        // The first page uses the slot flush() reserved; further pages wait for their own.
        search: after ? true : 'reserved',
        body: {
          filterGroups,
          properties: SEARCH_PROPERTIES,
          limit: 200,
          ...(after ? { after } : {}),
        },
      });
      const parsed = searchResponseSchema.safeParse(response.body);
      if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a search answer Flowkeeper does not understand on contact search');
      contacts.push(...parsed.data.results);
      after = parsed.data.paging?.next?.after;
    } while (after);
    return contacts;
  }
}
