import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for stored message content and in-flight subject references. Each ciphertext records the
 * id of its key (a fingerprint, not the key), so keys rotate: new writes use the current key, old
 * ciphertext is read with the previous one until it expires.
 *
 * Format: `v1.<keyId>.<iv b64url>.<ciphertext+tag b64url>`.
 */
export interface DataKeyring {
  current: DataKey;
  all: Map<string, DataKey>;
}

export interface DataKey {
  id: string;
  key: Buffer;
}

export function dataKeyFrom(base64: string): DataKey {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('a data encryption key must be 32 bytes');
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
}

export function keyringFrom(current: string, previous?: string): DataKeyring {
  const currentKey = dataKeyFrom(current);
  const all = new Map([[currentKey.id, currentKey]]);
  if (previous) {
    const previousKey = dataKeyFrom(previous);
    all.set(previousKey.id, previousKey);
  }
  return { current: currentKey, all };
}

export function encryptText(keyring: DataKeyring, plaintext: string, associatedData = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.current.key, iv);
  cipher.setAAD(Buffer.from(associatedData));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return ['v1', keyring.current.id, iv.toString('base64url'), body.toString('base64url')].join('.');
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export function decryptText(keyring: DataKeyring, sealed: string, associatedData = ''): string {
  const [version, keyId, ivText, bodyText] = sealed.split('.');
  if (version !== 'v1' || !keyId || !ivText || !bodyText) throw new DecryptionError('not a v1 ciphertext');
  const key = keyring.all.get(keyId);
  if (!key) throw new DecryptionError(`no key with id ${keyId}`);
  const body = Buffer.from(bodyText, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(ivText, 'base64url'));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(body.subarray(body.length - 16));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionError('ciphertext does not authenticate');
  }
}

/** The key id a ciphertext was written with (for rotation reports). */
export function keyIdOf(sealed: string): string | undefined {
  return sealed.split('.')[1];
}
