import type { AuditEventInput } from '../audit/auditLog';
import type { SubjectHash, TenantId } from '../domain/ids';
import type { Marker, MarkerKind } from '../markers/markerStore';
import { closure, type IdentityLinkStore, type LinkCause } from './identityLinks';

/**
 * The markers that belong to the person rather than to one identifier: written under every identifier
 * of the person, and spread to an identifier when it is linked later. So a check needs only the
 * identifiers a message carries (no walk over the links on the hot path).
 * - `suppression`: STOP, objection, a marketing erasure;
 * - `tombstone`: the person was erased (a late webhook under any identifier is dropped);
 * - `marketing-preference`: the person's own stop / resume from WhatsApp (`user_preferences`);
 * - `restriction`: processing restricted (Art. 18);
 * - `fence`: an erasure of the person is in flight (markers/erasureFence.ts).
 */
export const PERSON_MARKER_KINDS = ['suppression', 'tombstone', 'marketing-preference', 'restriction', 'fence'] as const satisfies readonly MarkerKind[];
export type PersonMarkerKind = (typeof PERSON_MARKER_KINDS)[number];

export interface PersonMarkers {
  get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined>;
  put(kind: MarkerKind, tenantId: TenantId, key: string, options?: { ttlSeconds?: number; data?: Marker['data']; at?: Date }): Promise<Marker>;
  delete?(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void>;
}

export interface PersonDeps {
  links: IdentityLinkStore;
  markers: PersonMarkers;
  audit: { record(input: AuditEventInput): Promise<unknown> };
}

/** Every identifier hash of the person `hashes` belong to. */
export function personOf(deps: Pick<PersonDeps, 'links'>, tenantId: TenantId, hashes: readonly SubjectHash[]): Promise<SubjectHash[]> {
  return closure(deps.links, tenantId, hashes);
}

/**
 * Writes a person marker under every identifier of the person, then reads the person again and writes
 * it under any identifier linked meanwhile (a link made concurrently spreads the markers it finds, so
 * between the two, no identifier is missed). Returns the identifiers it was written under.
 *
 * `person`: the person as the caller read it just before (shared/privacy reads it at every step); the
 * argument above needs only that it was read before these writes, so it stands in for the first read.
 */
export async function markPerson(
  deps: Pick<PersonDeps, 'links' | 'markers'>,
  tenantId: TenantId,
  hashes: readonly SubjectHash[],
  kind: PersonMarkerKind,
  options: { ttlSeconds?: number; data?: Marker['data']; at?: Date },
  person?: readonly SubjectHash[],
): Promise<SubjectHash[]> {
  const first = person ? [...new Set([...person, ...hashes])] : await closure(deps.links, tenantId, hashes);
  await Promise.all(first.map((h) => deps.markers.put(kind, tenantId, h, options)));
  const again = await closure(deps.links, tenantId, first);
  const added = again.filter((h) => !first.includes(h));
  await Promise.all(added.map((h) => deps.markers.put(kind, tenantId, h, options)));
  return again;
}

/** Removes a person marker under every identifier of the person (START after STOP, a resume). */
export async function unmarkPerson(deps: Pick<PersonDeps, 'links' | 'markers'>, tenantId: TenantId, hashes: readonly SubjectHash[], kind: PersonMarkerKind): Promise<void> {
  const del = deps.markers.delete?.bind(deps.markers);
  if (!del) throw new Error('this marker store cannot delete');
  const first = await closure(deps.links, tenantId, hashes);
  await Promise.all(first.map((h) => del(kind, tenantId, h)));
  const again = await closure(deps.links, tenantId, first);
  await Promise.all(again.filter((h) => !first.includes(h)).map((h) => del(kind, tenantId, h)));
}

/** The newest marker of `kind` under any of `hashes` (the identifiers a message carries). */
export async function personMarker(deps: Pick<PersonDeps, 'markers'>, tenantId: TenantId, hashes: readonly SubjectHash[], kind: MarkerKind): Promise<Marker | undefined> {
  const found = (await Promise.all([...new Set(hashes)].map((h) => deps.markers.get(kind, tenantId, h)))).filter((m): m is Marker => m !== undefined);
  return found.sort((a, b) => markerTime(b).localeCompare(markerTime(a)))[0];
}

/** When a marker's fact happened: a tombstone's erasure time, else when it was written. */
function markerTime(marker: Marker): string {
  const erasedAt = marker.data?.erasedAt;
  return typeof erasedAt === 'string' ? erasedAt : marker.at;
}

/**
 * Links identifiers Meta showed together (same person). Each new link is audited by keyed hashes only;
 * then the person markers any of them holds are spread to the others, so a STOP, a marketing stop, a
 * restriction or an erasure recorded under one identifier holds for the new one too. Idempotent: links
 * already there are not audited again, and spreading writes only what is missing.
 */
export async function linkIdentifiers(deps: PersonDeps, tenantId: TenantId, hashes: readonly SubjectHash[], cause: LinkCause): Promise<{ linked: number }> {
  const distinct = [...new Set(hashes)];
  if (distinct.length < 2) return { linked: 0 };
  let linked = 0;
  for (const hash of distinct) {
    const added = await deps.links.addLinks(
      tenantId,
      hash,
      distinct.filter((h) => h !== hash),
    );
    for (const other of added) {
      // One event per pair (from the smaller hash), by keyed hash only.
      if (hash > other) continue;
      linked += 1;
      await deps.audit.record({ tenantId, type: 'identity.linked', subjectHash: hash, details: { linkedTo: other, cause }, idempotencyKey: `identity-linked-${hash}-${other}` });
    }
  }
  if (linked > 0) await spreadPersonMarkers(deps, tenantId, distinct);
  return { linked };
}

/** Copies each person marker found under any identifier of the person to those that lack it. */
export async function spreadPersonMarkers(deps: Pick<PersonDeps, 'links' | 'markers'>, tenantId: TenantId, hashes: readonly SubjectHash[]): Promise<void> {
  const person = await closure(deps.links, tenantId, hashes);
  for (const kind of PERSON_MARKER_KINDS) {
    const found = await Promise.all(person.map(async (h) => ({ h, marker: await deps.markers.get(kind, tenantId, h) })));
    const newest = found
      .map((f) => f.marker)
      .filter((m): m is Marker => m !== undefined)
      .sort((a, b) => markerTime(b).localeCompare(markerTime(a)))[0];
    if (!newest) continue;
    const missing = found.filter((f) => f.marker === undefined || markerTime(f.marker) < markerTime(newest));
    await Promise.all(
      missing.map((f) =>
        deps.markers.put(kind, tenantId, f.h, {
          ttlSeconds: newest.ttl,
          at: new Date(newest.at),
          ...(newest.data ? { data: { ...newest.data, spreadFrom: 'link' } } : { data: { spreadFrom: 'link' } }),
        }),
      ),
    );
  }
}

/**
 * The erasure fence over the person (markers/erasureFence.ts): written under every identifier, so a
 * writer checking the identifier it writes under sees it; spread to an identifier linked meanwhile.
 */
export function fencePerson(
  deps: Pick<PersonDeps, 'links' | 'markers'>,
  tenantId: TenantId,
  hashes: readonly SubjectHash[],
  fence: { requestId: string; since: string; scope: string },
  person?: readonly SubjectHash[],
): Promise<SubjectHash[]> {
  return markPerson(deps, tenantId, hashes, 'fence', { ttlSeconds: -1, data: fence }, person);
}

/** Lifts this request's fence under every identifier of the person; a fence of another erasure stays. */
export async function liftPersonFence(deps: Pick<PersonDeps, 'links' | 'markers'>, tenantId: TenantId, hashes: readonly SubjectHash[], requestId: string): Promise<void> {
  const del = deps.markers.delete?.bind(deps.markers);
  if (!del) throw new Error('this marker store cannot delete');
  for (const hash of await closure(deps.links, tenantId, hashes)) {
    const fence = await deps.markers.get('fence', tenantId, hash);
    if (fence && fence.data?.requestId === requestId) await del('fence', tenantId, hash);
  }
}
