import { createHmac } from 'node:crypto';
import { z } from 'zod';

/**
 * Narrow types for the identifiers that must never be mixed up: passing a WaId where a SubjectHash is
 * expected would put a phone number into an audit event or a queue message.
 */
export type TenantId = string & { readonly __brand: 'TenantId' };
export type WaId = string & { readonly __brand: 'WaId' };
export type SubjectHash = string & { readonly __brand: 'SubjectHash' };
/** A business-scoped user id (BSUID), e.g. `US.13491208655302741918`, or a parent BSUID (`US.ENT.…`). */
export type UserId = string & { readonly __brand: 'UserId' };

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

/**
 * A BSUID as Meta documents it ("Business-scoped user IDs", updated Jun 29 2026): an ISO 3166 alpha-2
 * country code and a period, then up to 128 alphanumeric characters; a parent BSUID has `ENT.` after
 * the country code. Kept byte for byte (Meta: changing any character makes a send fail). The case of the
 * country code is not stated, so both cases are accepted.
 */
const USER_ID = /^[A-Za-z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/;

export function normaliseUserId(raw: string): UserId | undefined {
  const trimmed = raw.trim();
  return USER_ID.test(trimmed) ? (trimmed as UserId) : undefined;
}

export const userIdSchema = z
  .string({ error: 'must be a string' })
  .transform((raw, ctx) => {
    const normalised = normaliseUserId(raw);
    if (normalised === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a business-scoped user id such as US.13491208655302741918' });
      return z.NEVER;
    }
    return normalised;
  });

/**
 * One identifier of a subject: a phone number (wa_id) or a business-scoped user id. A subject (a person)
 * has one or more, linked when Meta shows them together (shared/identity).
 */
export type SubjectIdentifier = { kind: 'waId'; value: WaId } | { kind: 'userId'; value: UserId };

/** The identifier written as text (a wa_id is digits, a BSUID starts with letters: never ambiguous). */
export function identifierText(identifier: SubjectIdentifier): string {
  return identifier.value;
}

/** The identifier a text holds: digits are a wa_id, `CC.…` a BSUID; undefined when it is neither. */
export function identifierOf(text: string): SubjectIdentifier | undefined {
  const userId = normaliseUserId(text);
  if (userId) return { kind: 'userId', value: userId };
  const waId = normaliseWaId(text);
  return waId ? { kind: 'waId', value: waId } : undefined;
}

/**
 * The keyed hash of one identifier. A wa_id hashes as it always did (so tombstones, suppressions, media
 * prefixes and HubSpot records written before BSUIDs stay valid); a BSUID with its kind in the input,
 * so no BSUID and phone number can ever hash alike.
 */
export function identifierHashOf(key: string, tenantId: TenantId, identifier: SubjectIdentifier): SubjectHash {
  if (identifier.kind === 'waId') return subjectHashOf(key, tenantId, identifier.value);
  return createHmac('sha256', key).update(`${tenantId}|userId|${identifier.value}`).digest('hex') as SubjectHash;
}

/**
 * Cosmos partition key of one identifier's documents: `<tenantId>|<identifier hash>`, so no key holds a
 * phone number or a BSUID. A person with several identifiers has several partitions (shared/identity).
 */
export function subjectPartitionKey(tenantId: TenantId, identifierHash: SubjectHash): string {
  return `${tenantId}|${identifierHash}`;
}

/** The partition key documents had before identifiers were hashed (`<tenantId>|<waId>`): read until migrated. */
export function legacyPartitionKey(tenantId: TenantId, waId: WaId): string {
  return `${tenantId}|${waId}`;
}

/** The identifier hash of a current partition key, or undefined for a legacy (phone number) key. */
export function hashOfPartitionKey(tenantId: TenantId, pk: string): SubjectHash | undefined {
  const rest = pk.startsWith(`${tenantId}|`) ? pk.slice(tenantId.length + 1) : '';
  return /^[0-9a-f]{64}$/.test(rest) ? (rest as SubjectHash) : undefined;
}

/** The phone number of a legacy partition key (`<tenantId>|<waId>`), or undefined for any other key. */
export function legacyWaIdOfPartitionKey(tenantId: TenantId, pk: string): WaId | undefined {
  if (!pk.startsWith(`${tenantId}|`) || hashOfPartitionKey(tenantId, pk) !== undefined) return undefined;
  const rest = pk.slice(tenantId.length + 1);
  return /^\d+$/.test(rest) ? normaliseWaId(rest) : undefined;
}
