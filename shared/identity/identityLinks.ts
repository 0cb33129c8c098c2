import type { SubjectHash, TenantId } from '../domain/ids';

/**
 * What links one identifier of a subject to the others (a phone number and a BSUID Meta showed in one
 * contact block, an old and a new BSUID from `user_id_update`, an old and a new number from a
 * `user_changed_number` system message). Keyed hashes only: a link holds no phone number, BSUID or name.
 * In the app: one document per identifier in the Cosmos `markers` container (shared/cosmos/identityLinkStore.ts).
 */
export type LinkCause = 'contact' | 'user_id_update' | 'user_changed_number' | 'user_changed_user_id' | 'parent_user_id';
export const LINK_CAUSES: readonly LinkCause[] = ['contact', 'user_id_update', 'user_changed_number', 'user_changed_user_id', 'parent_user_id'];

export interface IdentityLinkStore {
  /** The identifiers linked directly to `hash` (none when it was never linked). */
  neighbours(tenantId: TenantId, hash: SubjectHash): Promise<SubjectHash[]>;
  /**
   * Adds links from `hash` to `others` (a guarded read-modify-write: concurrent additions are all kept).
   * Returns the ones that were not linked before.
   */
  addLinks(tenantId: TenantId, hash: SubjectHash, others: readonly SubjectHash[]): Promise<SubjectHash[]>;
}

/** A person has a handful of identifiers; far more means something is wrong, and the walk stops there. */
export const MAX_PERSON_IDENTIFIERS = 64;

/**
 * Every identifier linked to `start`, directly or through others (the person), `start` first. A
 * breadth-first walk over point reads.
 */
export async function closure(links: Pick<IdentityLinkStore, 'neighbours'>, tenantId: TenantId, start: readonly SubjectHash[]): Promise<SubjectHash[]> {
  const seen = new Set<SubjectHash>(start);
  let frontier = [...seen];
  while (frontier.length > 0 && seen.size < MAX_PERSON_IDENTIFIERS) {
    const next: SubjectHash[] = [];
    for (const found of await Promise.all(frontier.map((h) => links.neighbours(tenantId, h)))) {
      for (const h of found) {
        if (seen.has(h) || seen.size >= MAX_PERSON_IDENTIFIERS) continue;
        seen.add(h);
        next.push(h);
      }
    }
    frontier = next;
  }
  return [...seen];
}
