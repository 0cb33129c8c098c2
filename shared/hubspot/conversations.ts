import { z } from 'zod';
import type { TenantId } from '../domain/ids';
import type { CallOrder } from './contacts';
import { HubSpotError, type HubSpotClient } from './hubspotClient';

/**
 * HubSpot Conversations: the custom channel Flowkeeper publishes each WhatsApp message of a
 * `hubspot`-mode tenant to (Sales Hub or Service Hub Professional/Enterprise), and the inbox threads those
 * messages make, which an erasure archives.
 *
 * Sources (read 2026-12-04):
 * - Custom channels OpenAPI, github.com/HubSpot/HubSpot-public-api-spec-collection
 *   `PublicApiSpecs/Conversations/Custom Channels/Rollouts/160898/v3/customChannels.json` (2026-08-18):
 *   `POST /conversations/v3/custom-channels/{channelId}/messages` ("Publish a message"), body
 *   `ChannelIntegrationMessageEgg` with `attachments`, `channelAccountId`, `messageDirection`,
 *   `recipients`, `senders`, `text`, `timestamp` required; `integrationIdempotencyId`,
 *   `integrationThreadId`, `preResolvedContacts: {contacts: [{contactVid, contactPropertiesLeadingToMatch}]}`
 *   optional; answer 201 `PublicConversationsMessage` with its `conversationsThreadId`. Scope
 *   `conversations.custom_channels.write`.
 * - Custom channels guide, https://developers.hubspot.com/docs/api-reference/conversations-custom-channels-v3/guide
 *   (undated): `preResolvedContacts` links a message to a contact; `associateWithContactId` is in the
 *   legacy reference only (the spec still lists it): Flowkeeper never sends it.
 * - Conversations inbox OpenAPI, `PublicApiSpecs/Conversations/Conversations/Rollouts/54902/v3/conversations.json`
 *   (2026-08-14): `DELETE /conversations/v3/conversations/threads/{threadId}` "Archives a single thread.
 *   The thread will be permanently deleted 30 days after placed in an archived state" (204; there is no
 *   other delete, and no per-message delete); `GET .../threads/{threadId}` (`archived=true` to see an
 *   archived one); `GET .../threads?associatedContactId=&threadStatus=` (`threadStatus` "must be provided"
 *   with `associatedContactId`, which "cannot be used in conjunction with the `inboxId`" parameter, as the
 *   parameter descriptions of the same spec state). Scopes `conversations.read`, `conversations.write`.
 *
 * The message body: `text` (media as a placeholder with its caption: attachments would need the file in
 * HubSpot's file manager first; the media stays in Blob under its own retention), `attachments: []`,
 * `integrationIdempotencyId` (the WhatsApp message id: a redelivered queue message cannot publish twice;
 * a 409 is read as "already published" too), and the contact through `preResolvedContacts`.
 */
export type DeliveryIdentifierType = 'HS_PHONE_NUMBER' | 'HS_EMAIL_ADDRESS' | 'CHANNEL_SPECIFIC_OPAQUE_ID';

export interface ConversationActor {
  deliveryIdentifier: { type: DeliveryIdentifierType; value: string };
  name?: string;
  /** An agent (`A-<user id>`) or bot actor, for messages the business sent. */
  senderActorId?: string;
}

export interface PreResolvedContact {
  contactVid: number;
  /** The contact properties whose value identified the person (HubSpot's enum of contact property names). */
  contactPropertiesLeadingToMatch: string[];
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
  preResolvedContacts?: { contacts: PreResolvedContact[] };
  attachments: never[];
}

export interface PublishedMessage {
  /** HubSpot's message id (absent when HubSpot said "already published" without one). */
  id?: string;
  threadId?: string;
  alreadyPublished: boolean;
}

/** A thread as Flowkeeper reads it: which channel account it came in on, and whether it is archived. */
export interface ThreadState {
  id: string;
  channelAccountId: string;
  archived: boolean;
}

const id = z.union([z.string(), z.number()]).transform(String);
const publishedSchema = z.object({ id, conversationsThreadId: id.optional() });
const threadSchema = z.object({ id, archived: z.boolean().default(false), originalChannelAccountId: id.optional() });
const threadPageSchema = z.object({ results: z.array(threadSchema), paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional() });

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

  /** Archives a thread (HubSpot deletes it for good 30 days later). False when HubSpot had no such thread. */
  async archiveThread(tenantId: TenantId, threadId: string, options: CallOrder = {}): Promise<boolean> {
    const response = await this.client.call(tenantId, 'thread archive', { ...options, method: 'DELETE', path: `/conversations/v3/conversations/threads/${encodeURIComponent(threadId)}`, accept: [404] });
    return response.status !== 404;
  }

  /**
   * Whether a thread is still open to read in the inbox: `undefined` when HubSpot shows no unarchived
   * thread of that id (archived or deleted: a read without `archived=true` does not see archived threads).
   */
  async liveThread(tenantId: TenantId, threadId: string, options: CallOrder = {}): Promise<ThreadState | undefined> {
    const response = await this.client.call<unknown>(tenantId, 'thread read', { ...options, method: 'GET', path: `/conversations/v3/conversations/threads/${encodeURIComponent(threadId)}`, accept: [404] });
    if (response.status === 404) return undefined;
    const parsed = threadSchema.safeParse(response.body);
    if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a thread Flowkeeper does not understand on thread read', response.status);
    if (parsed.data.archived) return undefined;
    return { id: parsed.data.id, channelAccountId: parsed.data.originalChannelAccountId ?? '', archived: false };
  }

  /**
   * The unarchived threads associated with a contact, open and closed (`threadStatus` is required with
   * `associatedContactId`: two listings, each paged).
   */
  async threadsOfContact(tenantId: TenantId, contactId: string, options: CallOrder = {}): Promise<ThreadState[]> {
    if (!/^\d+$/.test(contactId)) return [];
    const threads: ThreadState[] = [];
    for (const status of ['OPEN', 'CLOSED'] as const) {
      let after: string | undefined;
      do {
        const query = new URLSearchParams({ associatedContactId: contactId, threadStatus: status, limit: '100', ...(after ? { after } : {}) });
        const response = await this.client.call<unknown>(tenantId, 'thread list', { ...options, method: 'GET', path: `/conversations/v3/conversations/threads?${query.toString()}` });
        const parsed = threadPageSchema.safeParse(response.body);
        if (!parsed.success) throw new HubSpotError('transient', 'HubSpot sent a thread list Flowkeeper does not understand on thread list', response.status);
        for (const t of parsed.data.results) if (!t.archived) threads.push({ id: t.id, channelAccountId: t.originalChannelAccountId ?? '', archived: false });
        after = parsed.data.paging?.next?.after;
      } while (after);
    }
    return threads;
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
