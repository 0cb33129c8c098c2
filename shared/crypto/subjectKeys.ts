import { identifierHashOf, subjectHashOf, type SubjectHash, type SubjectIdentifier, type TenantId, type WaId } from '../domain/ids';
import { requireSecret, type SecretProvider } from '../secrets/secretProvider';
import { keyringFrom, type DataKeyring } from './dataEncryption';

/** The keyed hash of a subject, with the key from the secret provider (cached there). */
export async function hashSubject(secrets: SecretProvider, tenantId: TenantId, waId: WaId): Promise<SubjectHash> {
  return subjectHashOf(await requireSecret(secrets, 'SUBJECT_HASH_KEY'), tenantId, waId);
}

/** The keyed hash of one identifier of a subject (a wa_id hashes as `hashSubject` does). */
export async function hashIdentifier(secrets: SecretProvider, tenantId: TenantId, identifier: SubjectIdentifier): Promise<SubjectHash> {
  return identifierHashOf(await requireSecret(secrets, 'SUBJECT_HASH_KEY'), tenantId, identifier);
}

/** The data keyring: DATA_ENCRYPTION_KEY now, DATA_ENCRYPTION_KEY_PREVIOUS during a rotation. */
export async function dataKeyring(secrets: SecretProvider): Promise<DataKeyring> {
  const current = await requireSecret(secrets, 'DATA_ENCRYPTION_KEY');
  const previous = await secrets.get('DATA_ENCRYPTION_KEY_PREVIOUS');
  return keyringFrom(current, previous);
}
