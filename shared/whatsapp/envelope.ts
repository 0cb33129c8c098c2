import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { contactSchema, messagesValueSchema, statusSchema, webhookEnvelopeSchema } from './payload';

/**
 * Builds the WhatsApp Cloud API `messages` webhook payload, as Meta documents it in "messages webhook
 * reference" (WhatsApp Business Platform, Webhooks > Reference > messages, updated Jun 17, 2026:
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages):
 *
 *     { object: 'whatsapp_business_account',
 *       entry: [{ id: <WABA id>, changes: [{ field: 'messages',
 *         value: { messaging_product: 'whatsapp', metadata: { display_phone_number, phone_number_id },
 *                  contacts: [{ profile: { name }, wa_id }], messages: [...], statuses: [...] } }] }] }
 *
 * The one builder of that shape for the tests' fixtures, the simulator (`npm run simulate`) and the
 * benchmarks. It lives beside the parser (payload.ts) rather than under test/ because the simulator and
 * the benchmarks are compiled into dist/ with the app, and because its types are checked against the
 * parser's own input types below: a change of one that the other does not follow fails to compile.
 *
 * Who sent a message is one `Sender`, turned into the change's `contacts` entry by `contactOf` and into a
 * message's `from` by `inboundMessage`: a new identifier Meta adds (the business-scoped user id,
 * `user_id` / `from_user_id`) is a field of `Sender` and a line in each of those two functions.
 */

/** Meta's documented example WhatsApp Business Account id. */
export const EXAMPLE_WABA_ID = '102290129340398';
/** The business number our fixtures show as `display_phone_number` (a UK drama number, never a real one). */
export const EXAMPLE_DISPLAY_PHONE_NUMBER = '447700900000';

/**
 * The WhatsApp user a message comes from (Meta, "Business-scoped user IDs", updated Jun 29 2026): the
 * phone number (omitted for a username user whose number Meta withholds), the BSUID (always sent since
 * April 2026), the parent BSUID (enrolled businesses only) and the username (when the user has one).
 */
export interface Sender {
  /** The user's WhatsApp id: their phone number as digits, without `+`; absent for a username user. */
  waId?: string;
  /** Their business-scoped user id (`GB.1349…`): `contacts[].user_id`, `messages[].from_user_id`. */
  userId?: string;
  parentUserId?: string;
  username?: string;
  /** Their WhatsApp profile name. */
  name?: string;
}

export type WebhookContact = {
  profile?: { name?: string; username?: string };
  wa_id?: string;
  user_id?: string;
  parent_user_id?: string;
};

/** An incoming message: `from` (or only `from_user_id`), `id`, `timestamp` (Unix seconds as a string) and `type`, then its type's object. */
export type WebhookMessage = { from?: string; from_user_id?: string; id: string; timestamp: string; type: string } & Record<string, unknown>;

export type WebhookMessagesValue = {
  messaging_product: 'whatsapp';
  metadata: { display_phone_number: string; phone_number_id: string };
  contacts?: WebhookContact[];
  messages?: Record<string, unknown>[];
  statuses?: Record<string, unknown>[];
  errors?: WebhookError[];
};

/** An error Meta reports for a change (`code`, `title`, `message`, `error_data.details`). */
export type WebhookError = NonNullable<z.input<typeof messagesValueSchema>['errors']>[number];

export type WebhookChange = {
  value: WebhookMessagesValue;
  field: 'messages';
};

/** A change of another field (`account_update`, `message_template_status_update`...): Flowkeeper counts and ignores those. */
export type OtherChange = {
  value: Record<string, unknown>;
  field: string;
};

export type WebhookDelivery = {
  object: 'whatsapp_business_account';
  entry: { id: string; changes: (WebhookChange | OtherChange)[] }[];
};

export interface ChangeInput {
  /** The business phone number the change is for (how Flowkeeper finds the tenant). */
  phoneNumberId: string;
  displayPhoneNumber?: string;
  /** The senders whose profiles come with the messages. */
  contacts?: Sender[];
  messages?: Record<string, unknown>[];
  statuses?: Record<string, unknown>[];
  errors?: WebhookError[];
}

/** A sender as the change's `contacts` entry. */
export function contactOf(sender: Sender): WebhookContact {
  const profile = { ...(sender.name !== undefined ? { name: sender.name } : {}), ...(sender.username !== undefined ? { username: sender.username } : {}) };
  return {
    ...(Object.keys(profile).length > 0 ? { profile } : {}),
    ...(sender.waId !== undefined ? { wa_id: sender.waId } : {}),
    ...(sender.userId !== undefined ? { user_id: sender.userId } : {}),
    ...(sender.parentUserId !== undefined ? { parent_user_id: sender.parentUserId } : {}),
  };
}

/** An incoming message from `sender`: the common fields, then the type's own (`{ text: { body } }`...). */
export function inboundMessage(sender: Sender | string, message: { type: string; id?: string; at?: Date } & Record<string, unknown>): WebhookMessage {
  const { type, id, at, ...content } = message;
  const who: Sender = typeof sender === 'string' ? { waId: sender } : sender;
  return {
    ...(who.waId !== undefined ? { from: who.waId } : {}),
    ...(who.userId !== undefined ? { from_user_id: who.userId } : {}),
    ...(who.parentUserId !== undefined ? { from_parent_user_id: who.parentUserId } : {}),
    id: typeof id === 'string' ? id : messageIdFor(who.waId ?? who.userId ?? ''),
    timestamp: unixSeconds(at instanceof Date ? at : undefined),
    type,
    ...content,
  };
}

/** One `messages` change: the value with its metadata, and only the arrays that are given. */
export function messagesChange(input: ChangeInput): WebhookChange {
  return {
    value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: input.displayPhoneNumber ?? EXAMPLE_DISPLAY_PHONE_NUMBER, phone_number_id: input.phoneNumberId },
      ...(input.contacts ? { contacts: input.contacts.map(contactOf) } : {}),
      ...(input.messages ? { messages: input.messages } : {}),
      ...(input.statuses ? { statuses: input.statuses } : {}),
      ...(input.errors ? { errors: input.errors } : {}),
    },
    field: 'messages',
  };
}

/** A delivery: one entry per array of changes (Meta batches several), all of one WhatsApp Business Account. */
export function webhookDelivery(entries: (WebhookChange | OtherChange)[][], wabaId = EXAMPLE_WABA_ID): WebhookDelivery {
  return { object: 'whatsapp_business_account', entry: entries.map((changes) => ({ id: wabaId, changes })) };
}

/**
 * A message id shaped like Meta's: `wamid.` + base64 of a structure that holds the sender's number, which
 * is why Flowkeeper never stores one outside the subject's partition. `unique` makes it distinct (random
 * by default; the benchmarks pass a counter so a run is repeatable).
 */
export function messageIdFor(waId: string, unique: string = randomBytes(10).toString('hex').toUpperCase()): string {
  const inner = Buffer.concat([Buffer.from([0x1c, 0x18, waId.length]), Buffer.from(waId), Buffer.from([0x15, 0x02, 0x00, 0x12, 0x18, 0x14]), Buffer.from(unique), Buffer.from([0x00])]);
  return `wamid.${inner.toString('base64')}`;
}

/** Unix seconds as a string, as Meta sends every timestamp. */
export function unixSeconds(at: Date = new Date()): string {
  return String(Math.floor(at.getTime() / 1000));
}

// What this module builds is what the parser reads: these fail to compile when the two drift apart.
type Assignable<T extends U, U> = T;
type _DeliveryIsParsed = Assignable<WebhookDelivery, z.input<typeof webhookEnvelopeSchema>>;
type _ValueIsParsed = Assignable<WebhookMessagesValue, z.input<typeof messagesValueSchema>>;
type _ContactIsParsed = Assignable<WebhookContact, z.input<typeof contactSchema>>;
type _StatusFieldsAreParsed = Assignable<{ id: string; status: string; timestamp: string }, z.input<typeof statusSchema>>;
