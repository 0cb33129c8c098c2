import { z } from 'zod';

/**
 * The WhatsApp Cloud API webhook payload (`object: whatsapp_business_account`), as zod schemas.
 *
 * Meta adds fields and message types over time: objects are not strict (unknown keys are stripped, which
 * also keeps whatever we do not use out of storage), and a message of a type we do not know, or a known
 * type in a shape we do not expect, is parsed to `{ type: 'unknown' }` / `{ type: 'invalid' }` and
 * ignored instead of failing the whole delivery. Only an envelope that is not a WhatsApp event is a 400.
 */

const digits = z.string().regex(/^\d+$/, 'must be digits');
/** Unix seconds as a string, as Meta sends them. */
const unixSeconds = z.union([digits, z.number().int().nonnegative().transform(String)]);

export const metadataSchema = z.object({
  display_phone_number: z.string({ error: 'is required' }),
  phone_number_id: z.string({ error: 'is required' }).min(1, 'must not be empty'),
});

/**
 * A contact block (`contacts[]`): `wa_id` is omitted (or, in older drafts, empty) for a username user
 * whose number Meta withholds; `user_id` (BSUID) is always sent since April 2026, `parent_user_id` only
 * for enrolled managed businesses, `profile.username` when the user has one (Meta, "Business-scoped user
 * IDs", updated Jun 29 2026; docs/research/meta-identity-2026.md §3).
 */
export const contactSchema = z.object({
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  parent_user_id: z.string().optional(),
  profile: z.object({ name: z.string().optional(), username: z.string().optional() }).optional(),
});
export type WebhookContactBlock = z.infer<typeof contactSchema>;

const mediaObject = z.object({
  id: z.string(),
  mime_type: z.string().optional(),
  /** Base64 SHA-256 of the file, as Meta sends it in the webhook. */
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional(),
  voice: z.boolean().optional(),
  animated: z.boolean().optional(),
});

const errorSchema = z.object({
  code: z.number(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.object({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
});
export type WhatsAppError = z.infer<typeof errorSchema>;

const messageBase = {
  /** The sender's phone number: omitted for a username user whose number Meta withholds. */
  from: z.string().optional(),
  /** The sender's BSUID (always, since April 2026) and parent BSUID (enrolled businesses only). */
  from_user_id: z.string().optional(),
  from_parent_user_id: z.string().optional(),
  id: z.string().min(1),
  timestamp: unixSeconds,
  context: z
    .object({
      from: z.string().optional(),
      id: z.string().optional(),
      forwarded: z.boolean().optional(),
      frequently_forwarded: z.boolean().optional(),
    })
    .optional(),
  errors: z.array(errorSchema).optional(),
};

/** One schema per message type Meta documents; the `type` field says which property holds the content. */
export const messageSchemas = {
  text: z.object({ ...messageBase, type: z.literal('text'), text: z.object({ body: z.string() }) }),
  image: z.object({ ...messageBase, type: z.literal('image'), image: mediaObject }),
  audio: z.object({ ...messageBase, type: z.literal('audio'), audio: mediaObject }),
  video: z.object({ ...messageBase, type: z.literal('video'), video: mediaObject }),
  document: z.object({ ...messageBase, type: z.literal('document'), document: mediaObject }),
  sticker: z.object({ ...messageBase, type: z.literal('sticker'), sticker: mediaObject }),
  location: z.object({
    ...messageBase,
    type: z.literal('location'),
    location: z.object({
      latitude: z.number(),
      longitude: z.number(),
      name: z.string().optional(),
      address: z.string().optional(),
      url: z.string().optional(),
    }),
  }),
  contacts: z.object({
    ...messageBase,
    type: z.literal('contacts'),
    // Shared contact cards (name, phones, emails, ...): other people's data, kept only as opaque content.
    contacts: z.array(z.record(z.string(), z.unknown())),
  }),
  interactive: z.object({
    ...messageBase,
    type: z.literal('interactive'),
    interactive: z.object({
      type: z.string(),
      button_reply: z.object({ id: z.string(), title: z.string() }).optional(),
      list_reply: z.object({ id: z.string(), title: z.string(), description: z.string().optional() }).optional(),
      /** A completed WhatsApp Flow: the answers are a JSON string. */
      nfm_reply: z.object({ response_json: z.string(), body: z.string().optional(), name: z.string().optional() }).optional(),
    }),
  }),
  button: z.object({ ...messageBase, type: z.literal('button'), button: z.object({ payload: z.string().optional(), text: z.string() }) }),
  reaction: z.object({
    ...messageBase,
    type: z.literal('reaction'),
    // `emoji` is absent when the reaction is removed.
    reaction: z.object({ message_id: z.string(), emoji: z.string().optional() }),
  }),
  order: z.object({
    ...messageBase,
    type: z.literal('order'),
    order: z.object({
      catalog_id: z.string(),
      text: z.string().optional(),
      product_items: z.array(
        z.object({
          product_retailer_id: z.string(),
          quantity: z.union([z.number(), z.string()]),
          item_price: z.union([z.number(), z.string()]),
          currency: z.string(),
        }),
      ),
    }),
  }),
  system: z.object({
    ...messageBase,
    type: z.literal('system'),
    system: z.object({
      body: z.string().optional(),
      type: z.string().optional(),
      /** The new number (`user_changed_number`); `new_wa_id` in webhooks before v12. */
      new_wa_id: z.string().optional(),
      wa_id: z.string().optional(),
      /** The new BSUID and parent BSUID (a number change always makes a new BSUID). */
      user_id: z.string().optional(),
      parent_user_id: z.string().optional(),
      identity: z.string().optional(),
      customer: z.string().optional(),
    }),
  }),
  /** The user deleted one of their messages for everyone (Coexistence numbers; Meta, "Revoke", May 21 2026). */
  revoke: z.object({ ...messageBase, type: z.literal('revoke'), revoke: z.object({ original_message_id: z.string().min(1) }) }),
  /** The user edited one of their messages (Coexistence numbers; Meta, "Edit", Jul 20 2026): `message` is the new one. */
  edit: z.object({
    ...messageBase,
    type: z.literal('edit'),
    edit: z.object({
      original_message_id: z.string().min(1),
      message: z.object({ type: z.string() }).catchall(z.unknown()),
    }),
  }),
  /** Meta's own "we could not show this" types (`unsupported`, older `unknown`), read as one. */
  unsupported: z.object({ ...messageBase, type: z.enum(['unsupported', 'unknown']).transform(() => 'unsupported' as const) }),
} as const;

export type KnownMessageType = keyof typeof messageSchemas;
export type KnownMessage = { [K in KnownMessageType]: z.infer<(typeof messageSchemas)[K]> }[KnownMessageType];
/** A message of a type this version does not know: acknowledged and ignored. */
export interface UnknownMessage {
  type: 'unknown';
  /** The type Meta named (a short word, never content), for counting. */
  reportedType: string;
}
/** A message of a known type whose shape did not match: acknowledged, counted, ignored. */
export interface InvalidMessage {
  type: 'invalid';
  reportedType: string;
}
export type InboundMessage = KnownMessage | UnknownMessage | InvalidMessage;

export const MEDIA_TYPES = ['image', 'audio', 'video', 'document', 'sticker'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

function reportedTypeOf(raw: unknown): string {
  const type = (raw as { type?: unknown } | null)?.type;
  return typeof type === 'string' && /^[a-z_]{1,32}$/.test(type) ? type : 'missing';
}

export function parseMessage(raw: unknown): InboundMessage {
  const reportedType = reportedTypeOf(raw);
  const key = reportedType === 'unknown' ? 'unsupported' : reportedType;
  if (!Object.hasOwn(messageSchemas, key)) return { type: 'unknown', reportedType };
  const parsed = messageSchemas[key as KnownMessageType].safeParse(raw);
  return parsed.success ? (parsed.data as KnownMessage) : { type: 'invalid', reportedType };
}

export const statusSchema = z.object({
  id: z.string(),
  /** sent, delivered, read, failed (and whatever Meta adds later). */
  status: z.string(),
  timestamp: unixSeconds,
  recipient_id: z.string().optional(),
  /** The recipient's BSUID (Meta, "Business-scoped user IDs": always, except `failed` for a phone send). */
  recipient_user_id: z.string().optional(),
  errors: z.array(errorSchema).optional(),
});
export type StatusUpdate = z.infer<typeof statusSchema>;

/** The `value` of a change whose `field` is `messages`. */
export const messagesValueSchema = z.object({
  messaging_product: z.literal('whatsapp', { error: 'must be "whatsapp"' }).optional(),
  metadata: metadataSchema,
  contacts: z.array(contactSchema).optional(),
  messages: z.array(z.unknown().transform(parseMessage)).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(errorSchema).optional(),
});
export type MessagesValue = z.infer<typeof messagesValueSchema>;

/**
 * The `value` of a `user_id_update` change: a user's BSUID changed (Meta, "Business-scoped user IDs",
 * updated Jun 29 2026, "user_id_update webhook"). A malformed entry is skipped, not fatal.
 */
const changeOf = z.object({ previous: z.string().optional(), current: z.string().optional() });
export const userIdUpdateSchema = z.object({
  wa_id: z.string().optional(),
  user_id: changeOf.optional(),
  parent_user_id: changeOf.optional(),
  timestamp: unixSeconds.optional(),
});
export type UserIdUpdate = z.infer<typeof userIdUpdateSchema>;
export const userIdUpdateValueSchema = z.object({
  metadata: metadataSchema,
  contacts: z.array(contactSchema).optional(),
  user_id_update: z.array(z.unknown()).optional(),
});

/**
 * The `value` of a `user_preferences` change: the user stopped or resumed marketing messages (Meta,
 * "user_preferences webhook reference", updated May 21 2026). `value` is `stop` or `resume`.
 */
export const userPreferenceSchema = z.object({
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  parent_user_id: z.string().optional(),
  category: z.string(),
  value: z.string(),
  timestamp: unixSeconds,
});
export type UserPreference = z.infer<typeof userPreferenceSchema>;
export const userPreferencesValueSchema = z.object({
  metadata: metadataSchema,
  contacts: z.array(contactSchema).optional(),
  user_preferences: z.array(z.unknown()).optional(),
});

/** The envelope: what makes a body a WhatsApp Business Account event at all. */
export const webhookEnvelopeSchema = z.object({
  object: z.literal('whatsapp_business_account', { error: 'must be "whatsapp_business_account"' }),
  entry: z.array(
    z.object({
      id: z.string({ error: 'is required' }),
      changes: z.array(z.object({ field: z.string({ error: 'is required' }), value: z.unknown() }), { error: 'must be an array' }),
    }),
    { error: 'must be an array' },
  ),
});
export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>;

export type ParsedChange =
  | { entryIndex: number; changeIndex: number; field: 'messages'; value: MessagesValue }
  | { entryIndex: number; changeIndex: number; field: 'user_id_update'; value: z.infer<typeof userIdUpdateValueSchema> }
  | { entryIndex: number; changeIndex: number; field: 'user_preferences'; value: z.infer<typeof userPreferencesValueSchema> }
  | { entryIndex: number; changeIndex: number; field: 'other'; name: string };

/** Fields besides `messages` that Flowkeeper reads (the app must be subscribed to each in Meta's app dashboard). */
const IDENTITY_FIELDS = { user_id_update: userIdUpdateValueSchema, user_preferences: userPreferencesValueSchema } as const;

export type ParsedWebhook =
  | { ok: true; changes: ParsedChange[] }
  | { ok: false; field: string; message: string };

/** Parses a delivery: the envelope strictly, `messages` changes by their schema, other fields only named. */
export function parseWebhook(body: unknown): ParsedWebhook {
  const envelope = webhookEnvelopeSchema.safeParse(body);
  if (!envelope.success) return firstProblem(envelope.error, '');
  const changes: ParsedChange[] = [];
  for (const [entryIndex, entry] of envelope.data.entry.entries()) {
    for (const [changeIndex, change] of entry.changes.entries()) {
      if (change.field === 'user_id_update' || change.field === 'user_preferences') {
        const value = IDENTITY_FIELDS[change.field].safeParse(change.value);
        if (!value.success) return firstProblem(value.error, `entry.${entryIndex}.changes.${changeIndex}.value`);
        changes.push({ entryIndex, changeIndex, field: change.field, value: value.data } as ParsedChange);
        continue;
      }
      if (change.field !== 'messages') {
        changes.push({ entryIndex, changeIndex, field: 'other', name: change.field.slice(0, 64) });
        continue;
      }
      const value = messagesValueSchema.safeParse(change.value);
      if (!value.success) return firstProblem(value.error, `entry.${entryIndex}.changes.${changeIndex}.value`);
      changes.push({ entryIndex, changeIndex, field: 'messages', value: value.data });
    }
  }
  return { ok: true, changes };
}

function firstProblem(error: z.ZodError, prefix: string): { ok: false; field: string; message: string } {
  const issue = error.issues[0];
  const field = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.') || '(body)';
  return { ok: false, field, message: `${field} ${issue?.message ?? 'is invalid'}` };
}

/** Parses the entries of a `user_id_update` / `user_preferences` change one by one (a malformed one is skipped). */
export function parseEntries<T>(schema: z.ZodType<T>, raw: unknown[] | undefined): T[] {
  return (raw ?? []).flatMap((e) => {
    const parsed = schema.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Parses the statuses of a change one by one (a malformed status is ignored, not fatal). */
export function parseStatuses(raw: unknown[] | undefined): StatusUpdate[] {
  return (raw ?? []).flatMap((s) => {
    const parsed = statusSchema.safeParse(s);
    return parsed.success ? [parsed.data] : [];
  });
}
