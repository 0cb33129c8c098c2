import { createHmac, timingSafeEqual } from 'node:crypto';
import { refreshSecrets, type SecretProvider } from '../secrets/secretProvider';

export type SignatureCheck = { ok: true; secret: 'current' | 'previous' } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'no-secret' };

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/** `sha256=<hex>` of the raw bytes with the given secret, as Meta signs `X-Hub-Signature-256`. */
export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const APP_SECRETS = ['WHATSAPP_APP_SECRET', 'WHATSAPP_APP_SECRET_PREVIOUS'] as const;

/**
 * Checks `X-Hub-Signature-256` against the raw request bytes (never a re-serialised body), in constant
 * time, with the current app secret and, during a rotation, the previous one. A signature that matches
 * neither makes the secrets be read again once (rate-limited by the secret provider: at most once per 30 s,
 * shared by concurrent callers) before it is refused: the secret may have been rotated in Key Vault after
 * this instance cached it. A forged signature therefore costs at most one Key Vault read per 30 s.
 */
export async function verifySignature(secrets: SecretProvider, body: Buffer, header: string | null): Promise<SignatureCheck> {
  if (header === null || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = SIGNATURE.exec(header.trim());
  if (!match) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(match[1]!, 'hex');
  const first = await check(secrets, body, given);
  if (first.ok || first.reason !== 'mismatch') return first;
  return (await refreshSecrets(secrets, APP_SECRETS)) ? check(secrets, body, given) : first;
}

async function check(secrets: SecretProvider, body: Buffer, given: Buffer): Promise<SignatureCheck> {
  const [current, previous] = await Promise.all([secrets.get('WHATSAPP_APP_SECRET'), secrets.get('WHATSAPP_APP_SECRET_PREVIOUS')]);
  if (current === undefined && previous === undefined) return { ok: false, reason: 'no-secret' };
  // Both are computed and compared whatever the first result, so timing does not tell which secret matched.
  const matchesCurrent = current !== undefined && timingSafeEqual(hmac(current, body), given);
  const matchesPrevious = previous !== undefined && timingSafeEqual(hmac(previous, body), given);
  if (matchesCurrent) return { ok: true, secret: 'current' };
  if (matchesPrevious) return { ok: true, secret: 'previous' };
  return { ok: false, reason: 'mismatch' };
}

function hmac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** Constant-time comparison of two strings of any length (the verify token). */
export function sameText(a: string, b: string): boolean {
  const left = createHmac('sha256', 'compare').update(a).digest();
  const right = createHmac('sha256', 'compare').update(b).digest();
  return timingSafeEqual(left, right);
}
