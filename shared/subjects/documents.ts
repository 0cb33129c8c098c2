import { z } from 'zod';

/**
 * The documents of a subject identifier's partition in the `subjects` container (`/pk` =
 * `<tenantId>|<identifier hash>`; `<tenantId>|<waId>` before the identity migration, docs/identity.md).
 * Every one carries a positive `ttl` (seconds, per-item TTL; the container's defaultTtl is -1) and an
 * `expiresAt` (ISO) that the retention sweep uses where TTL was lost or is not honoured (the emulator).
 *
 * The store registry (shared/privacy/registry.ts) declares how each type is exported, erased and
 * verified; a test fails when a type here is missing from it.
 */
export const SUBJECT_DOCUMENT_TYPES = ['contact', 'flowResponse', 'message', 'mediaRef', 'consent'] as const;
export type SubjectDocumentType = (typeof SUBJECT_DOCUMENT_TYPES)[number];

export const subjectDocumentBase = z.object({
  id: z.string(),
  pk: z.string(),
  tenantId: z.string(),
  type: z.enum(SUBJECT_DOCUMENT_TYPES),
  ttl: z.number().int().positive(),
  expiresAt: z.string(),
  createdAt: z.string(),
});

/**
 * One per (tenant, identifier): who they are to the business, and nothing more. `waId` in a phone
 * number's partition, `userId` (the BSUID) in a BSUID's: the identifier the partition's hash stands for,
 * so the workers can address the subject (HubSpot, sends) from the partition alone.
 */
export const contactDocument = subjectDocumentBase.extend({
  type: z.literal('contact'),
  waId: z.string().optional(),
  userId: z.string().optional(),
  profileName: z.string().optional(),
  optIn: z.enum(['opted_in', 'opted_out', 'unknown']).default('unknown'),
  /** Art. 18: processing restricted; stored but not used (no HubSpot sync, no messages). */
  restricted: z.boolean().default(false),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  /** Set on rectification, so the audit trail can say that it happened (not what it was). */
  rectifiedAt: z.string().optional(),
});
export type ContactDocument = z.infer<typeof contactDocument>;

/** A completed flow (`nfm_reply`): the answers, parsed from response_json. */
export const flowResponseDocument = subjectDocumentBase.extend({
  type: z.literal('flowResponse'),
  messageId: z.string(),
  flowToken: z.string().optional(),
  /** Name of the screen the answer came from, when the flow says (for screen-level metrics). */
  screen: z.string().optional(),
  answers: z.record(z.string(), z.unknown()),
  receivedAt: z.string(),
});
export type FlowResponseDocument = z.infer<typeof flowResponseDocument>;

/** Message content, only in the `encrypted` storage mode: AES-256-GCM ciphertext with its key id. */
export const messageDocument = subjectDocumentBase.extend({
  type: z.literal('message'),
  messageId: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  messageType: z.string(),
  ciphertext: z.string(),
  keyId: z.string(),
  sentAt: z.string(),
  /**
   * `pending`: in the `hubspot` mode the content waits here (encrypted, in the subject's partition so
   * erasure reaches it) until HubSpot confirms, then the document is deleted. Absent: stored (encrypted mode).
   */
  syncState: z.enum(['pending']).optional(),
});
export type MessageDocument = z.infer<typeof messageDocument>;

/** A media file the subject sent, stored in Blob under the subject's prefix. */
export const mediaRefDocument = subjectDocumentBase.extend({
  type: z.literal('mediaRef'),
  mediaId: z.string(),
  messageId: z.string(),
  mimeType: z.string().optional(),
  sha256: z.string().optional(),
  blobName: z.string().optional(),
  status: z.enum(['queued', 'stored', 'failed']),
});
export type MediaRefDocument = z.infer<typeof mediaRefDocument>;

/** Consents given or withdrawn (marketing), with when. */
export const consentDocument = subjectDocumentBase.extend({
  type: z.literal('consent'),
  purpose: z.enum(['marketing']),
  granted: z.boolean(),
  at: z.string(),
});
export type ConsentDocument = z.infer<typeof consentDocument>;

export const subjectDocument = z.discriminatedUnion('type', [contactDocument, flowResponseDocument, messageDocument, mediaRefDocument, consentDocument]);
export type SubjectDocument = z.infer<typeof subjectDocument>;

/** `ttl` and `expiresAt` for a document written now that must live `seconds`. */
export function lifetime(now: Date, seconds: number): { ttl: number; expiresAt: string } {
  return { ttl: seconds, expiresAt: new Date(now.getTime() + seconds * 1000).toISOString() };
}
