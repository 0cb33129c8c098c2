import { z } from 'zod';
import { tenantIdSchema, waIdSchema } from '../domain/ids';

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

/** Body of POST /api/privacy-requests. */
export const privacyRequestInputSchema = z
  .object({
    tenantId: tenantIdSchema,
    type: z.enum(PRIVACY_REQUEST_TYPES, { error: `must be one of ${PRIVACY_REQUEST_TYPES.join(', ')}` }),
    subject: z.object({ waId: waIdSchema }, { error: 'is required: {"waId": "+447700900123"}' }).strict(),
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
