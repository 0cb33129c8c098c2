import { legacyPartitionKey, subjectPartitionKey, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';

/**
 * The partitions a person's documents are in: one per identifier (`<tenantId>|<identifier hash>`), and
 * the legacy `<tenantId>|<waId>` partition of the phone number the request names, read until the
 * identity migration has moved it (docs/identity.md).
 */
export function partitionsOf(subject: { tenantId: TenantId; identifier: SubjectIdentifier; subjectHash: SubjectHash; subjectHashes: readonly SubjectHash[] }): string[] {
  const hashes = new Set<SubjectHash>([subject.subjectHash, ...subject.subjectHashes]);
  const pks = [...hashes].map((h) => subjectPartitionKey(subject.tenantId, h));
  if (subject.identifier.kind === 'waId') pks.push(legacyPartitionKey(subject.tenantId, subject.identifier.value));
  return pks;
}

