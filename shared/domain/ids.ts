import { createHmac } from 'node:crypto';
import { z } from 'zod';

/**
 * Narrow types for the identifiers that must never be mixed up: passing a WaId where a SubjectHash is
 * expected would put a phone number into an audit event or a queue message.
 */
export type TenantId = string & { readonly __brand: 'TenantId' };
export type WaId = string & { readonly __brand: 'WaId' };
export type SubjectHash = string & { readonly __brand: 'SubjectHash' };

/** Tenant ids end up in Key Vault secret names, partition keys and blob prefixes: keep them plain. */
export const tenantIdSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit')
  .transform((v) => v as TenantId);

/**
 * WhatsApp sends wa_id as digits without '+'; people type E.164 (+447700900123), sometimes with spaces,
 * dashes or a leading 00. All of them normalise to the wa_id form.
 */
export const waIdSchema = z
  .string({ error: 'must be a string' })
  .transform((raw, ctx) => {
    const normalised = normaliseWaId(raw);
    if (normalised === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a phone number in E.164 (+447700900123) or wa_id digits' });
      return z.NEVER;
    }
    return normalised;
  });

export function normaliseWaId(raw: string): WaId | undefined {
  const compact = raw.trim().replace(/[\s().-]/g, '');
  const digits = compact.startsWith('+') ? compact.slice(1) : compact.startsWith('00') ? compact.slice(2) : compact;
  if (!/^[1-9]\d{6,14}$/.test(digits)) return undefined;
  return digits as WaId;
}

/** E.164 form of a wa_id, as HubSpot and people write it. */
export function toE164(waId: WaId): string {
  return `+${waId}`;
}

/**
 * The keyed hash that stands for a subject wherever the subject must be referenced without being
 * identifiable: audit, queues, tombstones, blob prefixes. HMAC, because a plain SHA-256 of a phone number
 * is reversed by enumerating the number space. Scoped by tenant so two tenants' subjects never collide.
 */
export function subjectHashOf(key: string, tenantId: TenantId, waId: WaId): SubjectHash {
  return createHmac('sha256', key).update(`${tenantId}|${waId}`).digest('hex') as SubjectHash;
}

/** Cosmos partition key of a subject's documents: one logical partition per subject. */
export function subjectPartitionKey(tenantId: TenantId, waId: WaId): string {
  return `${tenantId}|${waId}`;
}
