import type { AuditEventInput } from '../audit/auditLog';
import { identifierHashOf, legacyPartitionKey, legacyWaIdOfPartitionKey, subjectPartitionKey, type TenantId, type WaId } from '../domain/ids';

/**
 * Moves a tenant's subject documents from the legacy partition keys (`<tenantId>|<waId>`, before BSUIDs)
 * to the identifier-hash keys (`<tenantId>|<hash of the wa_id>`): docs/identity.md.
 *
 * Copy, then delete, one document at a time, keyed by its id: the copy is created under the new key
 * with the same id (a copy already there, from a run that stopped half-way, is kept), then the
 * original is deleted. A crash between the two leaves both; the next run finds the original, sees the
 * copy and deletes the original: nothing is lost and nothing is duplicated. Contacts merge instead when
 * the new partition already has one (written by a webhook since the change): the earliest first-seen,
 * the latest last-seen, and a restriction or an opt-out on either side is kept.
 *
 * Until a tenant is migrated, every read, erasure and export also looks under the legacy key of the
 * phone number it names (shared/identity/partitions.ts). Media blobs, exports, markers and HubSpot
 * records are keyed by the subject hash, which for a phone number is unchanged: they need no move.
 */
export interface LegacyDocumentStore {
  /** Every document of the tenant under a legacy key, page by page (ids and keys only). */
  legacyKeys(tenantId: TenantId): AsyncIterable<{ id: string; pk: string }[]>;
  /** The ids of the documents in one partition. */
  idsIn(pk: string): Promise<string[]>;
  read(pk: string, id: string): Promise<Record<string, unknown> | undefined>;
  /** Creates the document; false when one with its id is already in its partition. */
  createIfAbsent(doc: Record<string, unknown>): Promise<boolean>;
  replace(doc: Record<string, unknown>): Promise<void>;
  /** Deletes it; one already gone is done. */
  delete(pk: string, id: string): Promise<void>;
}

export interface MigrationDeps {
  legacy: LegacyDocumentStore;
  subjectHashKey: () => Promise<string>;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  clock: { now(): Date };
}

export interface MigrationResult {
  tenantId: TenantId;
  dryRun: boolean;
  /** Documents found under a legacy key. */
  documents: number;
  /** Legacy partitions (phone numbers) they were in. */
  partitions: number;
  /** Copied to the new key (0 in a dry run). */
  moved: number;
  /** Whose copy was already there (a re-run after a crash), or a contact merged into a newer one. */
  alreadyThere: number;
  merged: number;
  /** Under a legacy-looking key that holds no phone number: left alone, counted. */
  skipped: number;
}

const SYSTEM_FIELDS = ['_rid', '_self', '_etag', '_attachments', '_ts'];

export async function migrateTenant(deps: MigrationDeps, tenantId: TenantId, options: { dryRun: boolean; actor: string }): Promise<MigrationResult> {
  const key = await deps.subjectHashKey();
  const result: MigrationResult = { tenantId, dryRun: options.dryRun, documents: 0, partitions: 0, moved: 0, alreadyThere: 0, merged: 0, skipped: 0 };
  const partitions = new Set<string>();
  const started = deps.clock.now();
  for await (const page of deps.legacy.legacyKeys(tenantId)) {
    for (const { id, pk } of page) {
      const waId = legacyWaIdOfPartitionKey(tenantId, pk);
      if (!waId) {
        result.skipped += 1;
        continue;
      }
      result.documents += 1;
      partitions.add(pk);
      if (options.dryRun) continue;
      const outcome = await moveDocument(deps.legacy, key, tenantId, waId, pk, id);
      if (outcome) result[outcome] += 1;
    }
  }
  result.partitions = partitions.size;
  await deps.audit.record({
    tenantId,
    type: options.dryRun ? 'identity.migration.planned' : 'identity.migration.completed',
    actor: options.actor,
    details: {
      documents: result.documents,
      partitions: result.partitions,
      moved: result.moved,
      alreadyThere: result.alreadyThere,
      merged: result.merged,
      skipped: result.skipped,
      durationMs: deps.clock.now().getTime() - started.getTime(),
    },
  });
  return result;
}

/** Copy then delete one document; what happened, or undefined when it was already moved by another run. */
async function moveDocument(legacy: LegacyDocumentStore, key: string, tenantId: TenantId, waId: WaId, pk: string, id: string): Promise<'moved' | 'merged' | 'alreadyThere' | undefined> {
  const original = await legacy.read(pk, id);
  if (!original) return undefined;
  const newPk = subjectPartitionKey(tenantId, identifierHashOf(key, tenantId, { kind: 'waId', value: waId }));
  const copy: Record<string, unknown> = Object.fromEntries(Object.entries(original).filter(([k]) => !SYSTEM_FIELDS.includes(k)));
  copy.pk = newPk;
  if (copy.type === 'contact') copy.waId = waId;
  let outcome: 'moved' | 'merged' | 'alreadyThere';
  if (await legacy.createIfAbsent(copy)) {
    outcome = 'moved';
  } else if (copy.type === 'contact') {
    const current = await legacy.read(newPk, id);
    if (current) await legacy.replace(mergeContacts(current, copy));
    outcome = 'merged';
  } else {
    outcome = 'alreadyThere';
  }
  await legacy.delete(pk, id);
  return outcome;
}

/**
 * Moves one phone number's legacy partition (the webhook does it when the number is linked to another
 * identifier, so an erasure that reaches the number only through the link finds its older documents).
 * Returns how many documents moved; 0 when there is nothing under the legacy key.
 */
export async function migratePhonePartition(legacy: LegacyDocumentStore, key: string, tenantId: TenantId, waId: WaId): Promise<number> {
  const pk = legacyPartitionKey(tenantId, waId);
  let moved = 0;
  for (const id of await legacy.idsIn(pk)) if (await moveDocument(legacy, key, tenantId, waId, pk, id)) moved += 1;
  return moved;
}

/** Two contacts of one phone number: the newer document, with the earliest first-seen and any restriction or opt-out kept. */
function mergeContacts(current: Record<string, unknown>, legacy: Record<string, unknown>): Record<string, unknown> {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const first = [text(current.firstSeenAt), text(legacy.firstSeenAt)].filter((v): v is string => v !== undefined).sort()[0];
  const merged: Record<string, unknown> = Object.fromEntries(Object.entries(current).filter(([k]) => !SYSTEM_FIELDS.includes(k) || k === '_etag'));
  if (first) merged.firstSeenAt = first;
  if (legacy.restricted === true) merged.restricted = true;
  if (legacy.optIn === 'opted_out' && !(text(current.optInEventAt) && text(current.optInEventAt)! > (text(legacy.optInEventAt) ?? ''))) merged.optIn = 'opted_out';
  if (!merged.profileName && legacy.profileName) merged.profileName = legacy.profileName;
  return merged;
}
