import { z } from 'zod';
import { isScreenId } from '../domain/allowList';
import { tenantIdSchema } from '../domain/ids';

const DAY = 86_400;

/**
 * How long each kind of personal data lives, per tenant. Bounds keep a typo from keeping data for
 * decades or deleting it before it can be used.
 */
export const retentionSchema = z
  .object({
    /** A contact is forgotten this many days after the last activity (TTL refreshed on each activity). */
    contactDays: z.number().int().min(1).max(730).default(365),
    flowResponseDays: z.number().int().min(1).max(730).default(90),
    /** Stored message content (encrypted mode only). */
    messageDays: z.number().int().min(1).max(365).default(30),
    mediaDays: z.number().int().min(1).max(365).default(30),
    /** Access exports are a copy of everything: short-lived. */
    exportDays: z.number().int().min(1).max(30).default(7),
  })
  .strict();
export type Retention = z.infer<typeof retentionSchema>;

export const hubspotSettingsSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Conversations custom channel (Sales/Service Hub Professional or Enterprise) for the `hubspot` mode. */
    customChannelId: z.string().min(1).max(100).optional(),
    channelAccountId: z.string().min(1).max(100).optional(),
  })
  .strict();

export const messageStorageSchema = z.enum(['none', 'hubspot', 'encrypted'], {
  error: 'must be one of none, hubspot, encrypted',
});
export type MessageStorage = z.infer<typeof messageStorageSchema>;

/** The body of PUT /api/tenants/{tenantId}: what an operator sets. */
export const tenantInputSchema = z
  .object({
    name: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200),
    phoneNumberIds: z
      .array(z.string().regex(/^\d{5,20}$/, 'must be a WhatsApp phone number id (digits)'), { error: 'is required' })
      .min(1, 'must list at least one phone number id')
      .max(50),
    messageStorage: messageStorageSchema,
    jurisdiction: z.enum(['gdpr', 'ccpa'], { error: 'must be gdpr or ccpa' }).default('gdpr'),
    retention: retentionSchema.default(retentionSchema.parse({})),
    hubspot: hubspotSettingsSchema.default({ enabled: false }),
    /** Send the subject a WhatsApp confirmation when their erasure completes, before the number is forgotten. */
    confirmErasureByMessage: z.boolean().default(false),
    /**
     * The screen ids of the tenant's own WhatsApp Flows, as their Flow JSON declares them. A flow
     * completion's `screen` is kept in the audit trail and the metrics only when it is one of these or a
     * Privacy Centre screen; any other value is recorded as `(other)` (shared/domain/allowList.ts).
     */
    flowScreens: z
      .array(z.string().refine(isScreenId, 'must be a flow screen id: a letter, then letters, digits or underscores (no run of 5 digits), at most 64'))
      .max(200, 'must list at most 200 screens')
      .default([]),
    /** Erasure drills (docs/operations.md): a synthetic subject written to every store and erased, on ERASURE_DRILL_SCHEDULE. */
    drills: z
      .object({ enabled: z.boolean({ error: 'must be true or false' }) }, { error: 'must be {"enabled": true} or {"enabled": false}' })
      .strict()
      .default({ enabled: false }),
  })
  .strict();
export type TenantInput = z.infer<typeof tenantInputSchema>;

/** A stored tenant; a fresh object (not strict), so Cosmos' system properties are dropped on read. */
export const tenantSchema = z.object({
  ...tenantInputSchema.shape,
  id: tenantIdSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Set while an account cancellation erases the tenant: no new data is accepted. */
  cancelledAt: z.string().optional(),
});
export type Tenant = z.infer<typeof tenantSchema>;

export function ttlSeconds(days: number): number {
  return Math.round(days * DAY);
}
