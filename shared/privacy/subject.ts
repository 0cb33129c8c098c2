import { openSealed } from '../crypto/subjectKeys';
import { identifierOf, type SubjectHash } from '../domain/ids';
import { personOf } from '../identity/person';
import type { Tenant } from '../tenants/tenant';
import type { PrivacyDeps } from './deps';
import { StoreError } from './errors';
import type { PrivacyRequestDocument } from './privacyRequest';
import type { SubjectContext } from './registry';

/**
 * The subject of a running request, for the length of one step: the tenant, the identifier decrypted
 * from `subjectRef` (bound to the request id: a wa_id, or a BSUID), and the person: the identifier
 * hashes recorded at planning together with those linked since (shared/identity), so a number change
 * while the request runs is covered too. Errors say what is wrong, never who.
 */
export async function subjectOf(deps: PrivacyDeps, doc: PrivacyRequestDocument, tenant?: Tenant): Promise<SubjectContext> {
  const found = tenant ?? (await deps.recentTenants.get(doc.tenantId));
  if (!found) throw new StoreError('permanent', 'the tenant no longer exists');
  if (!doc.subjectRef) throw new StoreError('permanent', 'the request has no subject reference left (already completed?)');
  const identifier = identifierOf(await openSealed(deps.keyring, doc.subjectRef, doc.id));
  if (!identifier) throw new StoreError('permanent', 'the subject reference does not hold a phone number or a business-scoped user id');
  const subjectHashes = await subjectHashesOf(deps, doc);
  return { tenant: found, tenantId: doc.tenantId, identifier, subjectHash: doc.subjectHash, subjectHashes, requestedAt: doc.receivedAt };
}

/** The request's identifier hashes with every one linked to them now (the person). */
export async function subjectHashesOf(deps: Pick<PrivacyDeps, 'links'>, doc: Pick<PrivacyRequestDocument, 'tenantId' | 'subjectHash' | 'subjectHashes'>): Promise<SubjectHash[]> {
  return personOf(deps, doc.tenantId, [doc.subjectHash, ...(doc.subjectHashes ?? [])]);
}
