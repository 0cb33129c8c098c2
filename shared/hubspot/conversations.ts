import { z } from 'zod';
import type { TenantId } from '../domain/ids';
import { HubSpotError, type HubSpotClient } from './hubspotClient';

/**
 * HubSpot Conversations, custom channels (Sales Hub or Service Hub Professional/Enterprise): Flowkeeper
 * publishes each WhatsApp message of a `hubspot`-mode tenant to the tenant's custom channel, where the
 * inbox shows it in the contact's thread.
 *
 * `POST /conversations/v3/custom-channels/{channelId}/messages` with the body HubSpot documents for
 * "Publish a message": `text`, `messageDirection` (INCOMING / OUTGOING), `channelAccountId`,
 * `senders` and `recipients` (each a delivery identifier: `HS_PHONE_NUMBER` for the person,
 * `CHANNEL_SPECIFIC_OPAQUE_ID` for the business's channel account; a name; an actor id for an agent),
 * `timestamp`, `integrationThreadId`, `associateWithContactId`, `attachments`, and
 * `integrationIdempotencyId`: the WhatsApp message id, so a redelivered queue message cannot publish a
 * message twice. A 409 is read as "already published" too.
 *
 * Media is published as a text placeholder with its caption: attachments would need the file uploaded to
 * HubSpot's file manager first, which Flowkeeper does not do (the media stays in Blob under its own
 * retention).
 */
export type DeliveryIdentifierType = 'HS_PHONE_NUMBER' | 'HS_EMAIL_ADDRESS' | 'CHANNEL_SPECIFIC_OPAQUE_ID';

export interface ConversationActor {
  deliveryIdentifier: { type: DeliveryIdentifierType; value: string };
  name?: string;
  /** An agent (`A-<user id>`) or bot actor, for messages the business sent. */
  senderActorId?: string;
}

export interface CustomChannelMessage {
  text: string;
  messageDirection: 'INCOMING' | 'OUTGOING';
  channelAccountId: string;
  integrationIdempotencyId: string;
  integrationThreadId?: string;
  senders: ConversationActor[];
  recipients: ConversationActor[];
  /** ISO 8601: when the message was sent on WhatsApp. */
  timestamp: string;
  associateWithContactId?: number;
  attachments: never[];
}

export interface PublishedMessage {
  /** HubSpot's message id (absent when HubSpot said "already published" without one). */
  id?: string;
  threadId?: string;
  alreadyPublished: boolean;
}

const publishedSchema = z.object({ id: z.union([z.string(), z.number()]).transform(String), conversationsThreadId: z.union([z.string(), z.number()]).transform(String).optional() });

export class HubSpotConversations {
  constructor(private readonly client: HubSpotClient) {}

  /** Publishes one message to the tenant's custom channel. Errors are `HubSpotError`s (no bodies in them). */
  async publish(tenantId: TenantId, channelId: string, message: CustomChannelMessage): Promise<PublishedMessage> {
    const response = await this.client.call<unknown>(tenantId, 'custom channel publish', {
      method: 'POST',
      path: `/conversations/v3/custom-channels/${encodeURIComponent(channelId)}/messages`,
      body: message,
      accept: [409],
    });
    if (response.status === 409) return { alreadyPublished: true };
    const parsed = publishedSchema.safeParse(response.body);
    // HubSpot confirmed (2xx): an answer we cannot read does not undo that.
    if (!parsed.success) return { alreadyPublished: false };
    return { id: parsed.data.id, ...(parsed.data.conversationsThreadId ? { threadId: parsed.data.conversationsThreadId } : {}), alreadyPublished: false };
  }

  /** Fails with a permanent HubSpotError unless the tenant's settings name a channel and a channel account. */
  static channelOf(settings: { customChannelId?: string | undefined; channelAccountId?: string | undefined }): { channelId: string; channelAccountId: string } {
    if (!settings.customChannelId || !settings.channelAccountId) {
      throw new HubSpotError('permanent', 'the tenant is in hubspot mode without hubspot.customChannelId and hubspot.channelAccountId');
    }
    return { channelId: settings.customChannelId, channelAccountId: settings.channelAccountId };
  }
}

const str = z.string().trim().min(1);
const media = z.object({ caption: str.optional(), filename: str.optional(), voice: z.boolean().optional() });
const contentSchemas = {
  text: z.object({ text: z.object({ body: z.string() }) }),
  location: z.object({ location: z.object({ latitude: z.number(), longitude: z.number(), name: str.optional(), address: str.optional() }) }),
  interactive: z.object({
    interactive: z.object({
      button_reply: z.object({ title: z.string() }).optional(),
      list_reply: z.object({ title: z.string(), description: z.string().optional() }).optional(),
    }),
  }),
  button: z.object({ button: z.object({ text: z.string() }) }),
  reaction: z.object({ reaction: z.object({ emoji: z.string().optional() }) }),
  order: z.object({ order: z.object({ text: str.optional(), product_items: z.array(z.unknown()).default([]) }) }),
};
const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;

/**
 * The text a WhatsApp message shows in the HubSpot inbox. Content is `{ type, [type]: ... }` as the
 * webhook stores it. A shared contact card is other people's data: only that one was shared goes out.
 */
export function conversationText(content: unknown): string {
  const type = z.object({ type: z.string() }).safeParse(content);
  if (!type.success) return '[message]';
  const kind = type.data.type;
  if ((MEDIA_TYPES as readonly string[]).includes(kind)) {
    const parsed = z.object({ [kind]: media }).safeParse(content);
    const part = parsed.success ? (parsed.data[kind] as z.infer<typeof media>) : {};
    const label = kind === 'audio' && part.voice ? 'voice message' : kind;
    return [`[${label}${part.filename ? `: ${part.filename}` : ''}]`, part.caption].filter(Boolean).join(' ');
  }
  switch (kind) {
    case 'text': {
      const parsed = contentSchemas.text.safeParse(content);
      return parsed.success && parsed.data.text.body.trim() !== '' ? parsed.data.text.body : '[empty message]';
    }
    case 'location': {
      const parsed = contentSchemas.location.safeParse(content);
      if (!parsed.success) return '[location]';
      const l = parsed.data.location;
      const place = [l.name, l.address].filter(Boolean).join(', ');
      return `[location]${place ? ` ${place}` : ''} (${l.latitude}, ${l.longitude})`;
    }
    case 'interactive': {
      const parsed = contentSchemas.interactive.safeParse(content);
      const reply = parsed.success ? (parsed.data.interactive.button_reply ?? parsed.data.interactive.list_reply) : undefined;
      return reply ? reply.title : '[interactive reply]';
    }
    case 'button': {
      const parsed = contentSchemas.button.safeParse(content);
      return parsed.success ? parsed.data.button.text : '[button]';
    }
    case 'reaction': {
      const parsed = contentSchemas.reaction.safeParse(content);
      return parsed.success && parsed.data.reaction.emoji ? `[reaction ${parsed.data.reaction.emoji}]` : '[reaction removed]';
    }
    case 'order': {
      const parsed = contentSchemas.order.safeParse(content);
      if (!parsed.success) return '[order]';
      const items = parsed.data.order.product_items.length;
      return [`[order: ${items} item${items === 1 ? '' : 's'}]`, parsed.data.order.text].filter(Boolean).join(' ');
    }
    case 'contacts':
      return '[shared contact card]';
    default:
      return `[${kind}]`;
  }
}
