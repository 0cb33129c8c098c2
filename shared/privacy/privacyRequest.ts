import { z } from 'zod';
import { tenantIdSchema, userIdSchema, waIdSchema, type SubjectHash, type TenantId } from '../domain/ids';

/**
 * The privacy request model shared by the admin API, the webhook (flow completions and messages) and the
 * Flows endpoint. The request document lives in the `privacyRequests` container (partition `/id`); the
 * subject appears only as a keyed hash, plus the wa_id encrypted (`subjectRef`) while the request runs,
 * wiped at completion.
 */
export const PRIVACY_REQUEST_TYPES = ['erasure', 'access', 'rectification', 'restriction', 'objection'] as const;
export type PrivacyRequestType = (typeof PRIVACY_REQUEST_TYPES)[number];

export const ERASURE_SCOPES = ['all', 'messages', 'media', 'flow_responses', 'marketing'] as const;
export type ErasureScope = (typeof ERASURE_SCOPES)[number];

export const REQUEST_STATUSES = ['received', 'in_progress', 'verifying', 'completed', 'failed'] as const;
export type PrivacyRequestStatus = (typeof REQUEST_STATUSES)[number];

/** Where a request came from: the admin API, a WhatsApp Flow, or a WhatsApp message. */
export const REQUEST_CHANNELS = ['admin', 'flow', 'message'] as const;
export type RequestChannel = (typeof REQUEST_CHANNELS)[number];

/** The stores an erasure fans out to, one task each. */
export const STORE_NAMES = ['cosmos', 'blob', 'hubspot'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

const SUBJECT_EXAMPLE = '{"waId": "+447700900123"} or {"userId": "US.13491208655302741918"}';
const SUBJECT_REQUIRED = `is required: ${SUBJECT_EXAMPLE}`;

/** Body of POST /api/privacy-requests. */
export const privacyRequestInputSchema = z
  .object({
    tenantId: tenantIdSchema,
    type: z.enum(PRIVACY_REQUEST_TYPES, { error: `must be one of ${PRIVACY_REQUEST_TYPES.join(', ')}` }),
    /** A phone number, or a business-scoped user id (a WhatsApp username user may have no number). */
    subject: z
      .object({ waId: waIdSchema.optional(), userId: userIdSchema.optional() }, { error: SUBJECT_REQUIRED })
      .strict()
      .superRefine((v, ctx) => {
        if ((v.waId === undefined) === (v.userId === undefined)) ctx.addIssue({ code: 'custom', message: `must have exactly one of waId, userId: ${SUBJECT_EXAMPLE}` });
      })
      .transform((v) => (v.waId !== undefined ? { waId: v.waId } : { userId: v.userId! })),
    scope: z.enum(ERASURE_SCOPES, { error: `must be one of ${ERASURE_SCOPES.join(', ')}` }).default('all'),
    /** Rectification: the corrected profile name. */
    rectification: z.object({ profileName: z.string().trim().min(1).max(200) }).strict().optional(),
  })
  .strict()
  .refine((v) => v.type !== 'rectification' || v.rectification !== undefined, {
    path: ['rectification'],
    message: 'is required for a rectification: {"profileName": "..."}',
  });
export type PrivacyRequestInput = z.infer<typeof privacyRequestInputSchema>;



/**
 * The stores a request touches, one task each. The first three are where an erasure fans out to; the
 * access exports (`exports` container) are a copy of everything and are erased with the subject too.
 */
export const TASK_STORES = [...STORE_NAMES, 'exports'] as const;
export type TaskStore = (typeof TASK_STORES)[number];

export const TASK_STATUSES = ['pending', 'running', 'done', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** One store's part of a request: what an operator needs to see where it is and why it is stuck. */
export const privacyTaskSchema = z.object({
  store: z.enum(TASK_STORES),
  status: z.enum(TASK_STATUSES),
  /** Attempts that counted towards the retry budget (a 429 answer with Retry-After does not). */
  attempts: z.number().int().min(0),
  /** Raised by each retry from the admin API: messages of an earlier generation are stale and ignored. */
  generation: z.number().int().min(0).default(0),
  /** How often the store asked us to slow down (HubSpot 429). */
  rateLimited: z.number().int().min(0).default(0),
  /** Readable, without personal data: "HubSpot answered 500 on contact search". */
  lastError: z.string().optional(),
  /** For example "not applicable: HubSpot is not enabled for this tenant". */
  note: z.string().optional(),
  counts: z.object({ found: z.number().int().min(0), deleted: z.number().int().min(0) }),
  startedAt: z.string().optional(),
  lastAttemptAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().min(0).optional(),
  /** Store-side ids of what was erased (HubSpot object ids) while verification needs them; wiped at completion. */
  refs: z.array(z.string()).optional(),
});
export type PrivacyTask = z.infer<typeof privacyTaskSchema>;

/**
 * The request document in `privacyRequests` (partition `/id`). Personal data appears only encrypted
 * (`subjectRef`: the wa_id; `rectificationRef`: the corrected name), and both are removed when the
 * request completes. `openKey` names the (tenant, subject, type, scope) an open request holds, so an
 * identical request made while it runs returns it instead of starting another.
 */
export const privacyRequestDocumentSchema = z.object({
  id: z.string(),
  docType: z.literal('request'),
  tenantId: tenantIdSchema,
  type: z.enum(PRIVACY_REQUEST_TYPES),
  scope: z.enum(ERASURE_SCOPES),
  channel: z.enum(REQUEST_CHANNELS),
  screen: z.string().optional(),
  actor: z.string().optional(),
  /** An erasure drill's request (shared/drills): excluded from the privacy figures. */
  drill: z.literal(true).optional(),
  subjectHash: z.string().transform((v) => v as SubjectHash),
  /** Every identifier hash of the person, recorded at planning (shared/identity); the erasers work on all. */
  subjectHashes: z.array(z.string().transform((v) => v as SubjectHash)).optional(),
  subjectRef: z.string().optional(),
  rectificationRef: z.string().optional(),
  openKey: z.string(),
  /** The etag the open-request lock was taken at: releasing it is then one conditional delete. */
  openLockEtag: z.string().optional(),
  status: z.enum(REQUEST_STATUSES),
  receivedAt: z.string(),
  dueAt: z.string(),
  enqueuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  failedAt: z.string().optional(),
  updatedAt: z.string(),
  failure: z.object({ store: z.string(), reason: z.string() }).optional(),
  /** Attempts of the request-level step (planning, access export, rectification...). */
  attempts: z.number().int().min(0).default(0),
  tasks: z.array(privacyTaskSchema),
  verification: z
    .object({
      checkedAt: z.string(),
      reruns: z.number().int().min(0),
      leftovers: z.record(z.string(), z.number()),
    })
    .optional(),
  export: z
    .object({
      blobName: z.string(),
      expiresAt: z.string(),
      bytes: z.number().int().min(0),
      deletedAt: z.string().optional(),
      /** An erasure of the subject covered the export's data (erasureFence.ts): it was withheld or deleted. */
      erasedBy: z.string().optional(),
    })
    .optional(),
  /** What a direct request (rectification, restriction, objection) changed: counts and flags only. */
  outcome: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  ttl: z.number().int(),
});
export type PrivacyRequestDocument = z.infer<typeof privacyRequestDocumentSchema>;

/** What GET /api/privacy-requests/{id} returns (and the Flows privacy centre shows): no subject, no secrets. */
export interface PrivacyRequestView {
  id: string;
  tenantId: TenantId;
  type: PrivacyRequestType;
  scope: ErasureScope;
  channel: RequestChannel;
  screen?: string;
  status: PrivacyRequestStatus;
  receivedAt: string;
  dueAt: string;
  startedAt?: string;
  completedAt?: string;
  failedAt?: string;
  failure?: { store: string; reason: string };
  tasks: Omit<PrivacyTask, 'refs' | 'generation'>[];
  verification?: PrivacyRequestDocument['verification'];
  /** `erasedBy`: an erasure of the subject covered the export (withheld or deleted; GET .../export answers 410). */
  export?: { expiresAt: string; bytes: number; href: string; erasedBy?: string };
  outcome?: PrivacyRequestDocument['outcome'];
}

export function viewOf(doc: PrivacyRequestDocument): PrivacyRequestView {
  return {
    id: doc.id,
    tenantId: doc.tenantId,
    type: doc.type,
    scope: doc.scope,
    channel: doc.channel,
    ...(doc.screen ? { screen: doc.screen } : {}),
    status: doc.status,
    receivedAt: doc.receivedAt,
    dueAt: doc.dueAt,
    ...(doc.startedAt ? { startedAt: doc.startedAt } : {}),
    ...(doc.completedAt ? { completedAt: doc.completedAt } : {}),
    ...(doc.failedAt ? { failedAt: doc.failedAt } : {}),
    ...(doc.failure ? { failure: doc.failure } : {}),
    tasks: doc.tasks.map(({ refs: _refs, generation: _generation, ...task }) => task),
    ...(doc.verification ? { verification: doc.verification } : {}),
    ...(doc.export ? { export: { expiresAt: doc.export.expiresAt, bytes: doc.export.bytes, href: `/api/privacy-requests/${doc.id}/export`, ...(doc.export.erasedBy ? { erasedBy: doc.export.erasedBy } : {}) } } : {}),
    ...(doc.outcome ? { outcome: doc.outcome } : {}),
  };
}

export const OPEN_REQUEST_STATUSES: readonly PrivacyRequestStatus[] = ['received', 'in_progress', 'verifying'];

/**
 * The legal due date of a request received at `receivedAt`. GDPR (Art. 12(3)): one month, which ends on
 * the same date of the next month, or on its last day when that month is shorter (Regulation 1182/71).
 * CCPA (1798.130): 45 calendar days.
 */
export function dueDateOf(receivedAt: Date, jurisdiction: 'gdpr' | 'ccpa'): Date {
  if (jurisdiction === 'ccpa') return new Date(receivedAt.getTime() + 45 * 86_400_000);
  const year = receivedAt.getUTCFullYear();
  const month = receivedAt.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const due = new Date(receivedAt);
  due.setUTCDate(1);
  due.setUTCMonth(month);
  due.setUTCDate(Math.min(receivedAt.getUTCDate(), lastDay));
  return due;
}

/** Queue message of `privacy-requests`: the request id only. */
export const privacyRequestMessageSchema = z.object({
  requestId: z.string().min(1),
  attempt: z.number().int().min(1).default(1),
  /** Times a store asked us to slow down (429) for this step: not failed attempts, capped on their own. */
  rateLimited: z.number().int().min(0).default(0),
});
export type PrivacyRequestMessage = z.infer<typeof privacyRequestMessageSchema>;

/** Queue message of `erasure-tasks`: the request id and the store, never the subject. */
export const erasureTaskMessageSchema = z.object({
  requestId: z.string().min(1),
  store: z.enum(TASK_STORES),
  attempt: z.number().int().min(1).default(1),
  generation: z.number().int().min(0).default(0),
});
export type ErasureTaskMessage = z.infer<typeof erasureTaskMessageSchema>;
