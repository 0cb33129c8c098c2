import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { decryptText, encryptText, keyIdOf, type DataKeyring } from '../crypto/dataEncryption';
import { identifierHashOf, identifierOf, tenantIdSchema, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';

/**
 * Flow tokens: issued by Flowkeeper when it sends a flow, echoed back by WhatsApp in every endpoint
 * request, so the endpoint knows whose request it is without trusting anything the client says.
 *
 * Format: `v1.<payload b64url>.<HMAC-SHA256 b64url>`; the payload is JSON
 * `{t: tenantId, s: subjectHash, r: subjectRef, p: purpose, e: expiry (epoch seconds)}` where `r` is the
 * wa_id encrypted with the data keyring (AES-256-GCM, bound to the tenant and purpose), so the token
 * carries no readable phone number and the endpoint can still act for the subject. The HMAC key is
 * derived from SUBJECT_HASH_KEY with HKDF (info `flowkeeper/flow-token`): a token cannot be forged or
 * altered without that key, and the derived key is never the subject-hash key itself.
 */
export const FLOW_PURPOSES = ['privacy-centre'] as const;
export type FlowPurpose = (typeof FLOW_PURPOSES)[number];

const VERSION = 'v1';
const HKDF_INFO = 'flowkeeper/flow-token';

const payloadSchema = z
  .object({
    t: tenantIdSchema,
    s: z.string().regex(/^[0-9a-f]{64}$/),
    r: z.string().min(1),
    p: z.enum(FLOW_PURPOSES),
    e: z.number().int().positive(),
  })
  .strict();

export interface FlowTokenClaims {
  tenantId: TenantId;
  subjectHash: SubjectHash;
  /** The phone number or BSUID the token was issued to. */
  subject: SubjectIdentifier;
  purpose: FlowPurpose;
  expiresAt: Date;
}

export type FlowTokenCheck =
  | { ok: true; claims: FlowTokenClaims }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'tenant' | 'subject' };

export interface FlowTokenKeys {
  /** SUBJECT_HASH_KEY: keys the subject hash, and (through HKDF) the token's HMAC. */
  subjectHashKey: string;
  dataKeyring: DataKeyring;
}

function macKey(subjectHashKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(subjectHashKey, 'utf8'), Buffer.alloc(0), Buffer.from(HKDF_INFO), 32));
}

function mac(subjectHashKey: string, signed: string): Buffer {
  return createHmac('sha256', macKey(subjectHashKey)).update(signed).digest();
}

function refAssociatedData(tenantId: string, purpose: string): string {
  return `flow-token|${tenantId}|${purpose}`;
}

export function issueFlowToken(
  keys: FlowTokenKeys,
  input: { tenantId: TenantId; subject: SubjectIdentifier; purpose: FlowPurpose; now: Date; ttlSeconds: number },
): string {
  const payload = {
    t: input.tenantId,
    s: identifierHashOf(keys.subjectHashKey, input.tenantId, input.subject),
    r: encryptText(keys.dataKeyring, input.subject.value, refAssociatedData(input.tenantId, input.purpose)),
    p: input.purpose,
    e: Math.floor(input.now.getTime() / 1000) + input.ttlSeconds,
  };
  const signed = `${VERSION}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signed}.${mac(keys.subjectHashKey, signed).toString('base64url')}`;
}

/** The data key id the token's subject reference was sealed with (unverified: only to pick the keyring). */
export function flowTokenKeyId(token: unknown): string | undefined {
  if (typeof token !== 'string' || token.length > 2048) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { r?: unknown };
    return typeof payload.r === 'string' ? keyIdOf(payload.r) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a token for the tenant of the URL it arrived on: signature (constant-time), expiry, tenant.
 * A token of another tenant is invalid even when its signature is good.
 */
export function verifyFlowToken(keys: FlowTokenKeys, token: unknown, expected: { tenantId: TenantId; now: Date }): FlowTokenCheck {
  if (typeof token !== 'string' || token.length > 2048) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !parts[1] || !parts[2]) return { ok: false, reason: 'malformed' };
  const signed = `${parts[0]}.${parts[1]}`;
  const given = Buffer.from(parts[2], 'base64url');
  const wanted = mac(keys.subjectHashKey, signed);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return { ok: false, reason: 'signature' };

  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const payload = payloadSchema.safeParse(decoded);
  if (!payload.success) return { ok: false, reason: 'malformed' };
  const { t, s, r, p, e } = payload.data;
  if (t !== expected.tenantId) return { ok: false, reason: 'tenant' };
  if (e * 1000 <= expected.now.getTime()) return { ok: false, reason: 'expired' };

  let subject: SubjectIdentifier;
  try {
    const parsed = identifierOf(decryptText(keys.dataKeyring, r, refAssociatedData(t, p)));
    if (!parsed) return { ok: false, reason: 'subject' };
    subject = parsed;
  } catch {
    // A data key that was rotated out since the token was issued: the token cannot be honoured.
    return { ok: false, reason: 'subject' };
  }
  if (identifierHashOf(keys.subjectHashKey, t, subject) !== s) return { ok: false, reason: 'subject' };
  return { ok: true, claims: { tenantId: t, subjectHash: s as SubjectHash, subject, purpose: p, expiresAt: new Date(e * 1000) } };
}
