import { openSealed } from '../crypto/subjectKeys';
import { normaliseWaId } from '../domain/ids';
import type { Tenant } from '../tenants/tenant';
import type { PrivacyDeps } from './deps';
import { StoreError } from './errors';
import type { PrivacyRequestDocument } from './privacyRequest';
import type { SubjectContext } from './registry';

/**
 * The subject of a running request, for the length of one step: the tenant, and the wa_id decrypted from
 * `subjectRef` (bound to the request id). Errors say what is wrong, never who.
 */
export async function subjectOf(deps: PrivacyDeps, doc: PrivacyRequestDocument, tenant?: Tenant): Promise<SubjectContext> {
  const found = tenant ?? (await deps.recentTenants.get(doc.tenantId));
  if (!found) throw new StoreError('permanent', 'the tenant no longer exists');
  if (!doc.subjectRef) throw new StoreError('permanent', 'the request has no subject reference left (already completed?)');
  const waId = normaliseWaId(await openSealed(deps.keyring, doc.subjectRef, doc.id));
  if (!waId) throw new StoreError('permanent', 'the subject reference does not hold a phone number');
  return { tenant: found, tenantId: doc.tenantId, waId, subjectHash: doc.subjectHash, requestedAt: doc.receivedAt };
}
