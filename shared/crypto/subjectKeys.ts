import { identifierHashOf, subjectHashOf, type SubjectHash, type SubjectIdentifier, type TenantId, type WaId } from '../domain/ids';
import { refreshSecrets, requireSecret, type SecretProvider } from '../secrets/secretProvider';
import { decryptText, keyIdOf, keyringFrom, type DataKeyring } from './dataEncryption';

/** The keyed hash of a subject, with the key from the secret provider (cached there). */
export async function hashSubject(secrets: SecretProvider, tenantId: TenantId, waId: WaId): Promise<SubjectHash> {
  return subjectHashOf(await requireSecret(secrets, 'SUBJECT_HASH_KEY'), tenantId, waId);
}

/** The keyed hash of one identifier of a subject (a wa_id hashes as `hashSubject` does). */
export async function hashIdentifier(secrets: SecretProvider, tenantId: TenantId, identifier: SubjectIdentifier): Promise<SubjectHash> {
  return identifierHashOf(await requireSecret(secrets, 'SUBJECT_HASH_KEY'), tenantId, identifier);
}

const DATA_KEYS = ['DATA_ENCRYPTION_KEY', 'DATA_ENCRYPTION_KEY_PREVIOUS'] as const;

/**
 * The data keyring: DATA_ENCRYPTION_KEY now, DATA_ENCRYPTION_KEY_PREVIOUS during a rotation. Given the key id
 * a ciphertext names (`needs`), a ring that does not know it is read again from the source first (rate-limited
 * in the secret provider): another instance may already write with a key rotated in after this one cached
 * its secrets, and this instance must not take that for a broken ciphertext.
 */
export async function dataKeyring(secrets: SecretProvider, needs?: string): Promise<DataKeyring> {
  const ring = await readKeyring(secrets);
  if (needs === undefined || ring.all.has(needs)) return ring;
  return (await refreshSecrets(secrets, DATA_KEYS)) ? readKeyring(secrets) : ring;
}

/** A keyring port: the ring, refreshed first when it does not hold the key id asked for. */
export type KeyringSource = (needs?: string) => Promise<DataKeyring>;

/** Decrypts with a ring that knows the ciphertext's key (see dataKeyring): what every reader of ciphertext calls. */
export async function openSealed(keyring: KeyringSource, sealed: string, associatedData = ''): Promise<string> {
  return decryptText(await keyring(keyIdOf(sealed)), sealed, associatedData);
}

async function readKeyring(secrets: SecretProvider): Promise<DataKeyring> {
  const current = await requireSecret(secrets, 'DATA_ENCRYPTION_KEY');
  const previous = await secrets.get('DATA_ENCRYPTION_KEY_PREVIOUS');
  return keyringFrom(current, previous);
}
