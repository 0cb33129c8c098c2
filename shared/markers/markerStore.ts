import type { TenantId } from '../domain/ids';

/**
 * Small facts keyed by hashes and ids, never by personal data:
 * - `suppression`: the subject opted out (STOP, objection); survives erasure so they are not messaged again.
 * - `tombstone`: the subject was erased at a time; a late or retried webhook older than it must not
 *   recreate data, and after a backup restore every erasure can be re-applied from the tombstones.
 * - `seen-message`: a WhatsApp message id already processed (idempotency), with a short TTL.
 * - `checkpoint`: where a paged job (retention sweep, tenant purge) stopped, so it resumes there.
 * - `marketing-preference`: the person's own marketing stop / resume (WhatsApp `user_preferences`).
 * - `restriction`: processing restricted (Art. 18), for the person across identifiers.
 * - `fence`: an erasure of the subject is in flight (./erasureFence.ts): what arrives meanwhile is included in it.
 * Suppression, tombstone, marketing preference, restriction and fence are person markers (shared/identity):
 * written under every identifier of the person, and spread to an identifier linked later.
 */
export type MarkerKind = 'suppression' | 'tombstone' | 'seen-message' | 'checkpoint' | 'marketing-preference' | 'restriction' | 'fence';

export interface Marker {
  id: string;
  pk: string;
  kind: MarkerKind;
  tenantId: TenantId;
  key: string;
  at: string;
  /** When the marker may be swept (the retention timer removes it if TTL did not). */
  expiresAt?: string;
  ttl: number;
  data?: Record<string, string | number | boolean>;
}

/** The marker store (shared/cosmos/markerStore.ts in the app; an in-memory double in the tests). Expired markers are absent. */
export interface MarkerStore {
  get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined>;
  /** Writes (or overwrites) a marker; `ttlSeconds` -1 keeps it until deleted. */
  put(kind: MarkerKind, tenantId: TenantId, key: string, options?: { ttlSeconds?: number; data?: Marker['data']; at?: Date }): Promise<Marker>;
  /** Claims a key once: true for the first caller, false when it exists already (idempotency). */
  claim(kind: MarkerKind, tenantId: TenantId, key: string, ttlSeconds: number): Promise<boolean>;
  delete(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void>;
}
