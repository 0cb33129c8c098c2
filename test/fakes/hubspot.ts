import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A loopback HTTP server that behaves like HubSpot's CRM API where Flowkeeper touches it: contacts
 * create, read, search (filterGroups with EQ and IN on any property, paging, HubSpot's search limits and
 * its per-token rate limit of 4 searches a second, answered with HubSpot's own 429 body and
 * Retry-After), GDPR delete (204; 404 for an unknown id), bearer-token checks (401), and switches for
 * faults: the next N requests answer 500, 429 or hang.
 *
 * Extensible: `route(method, pattern, handler)` adds endpoints (custom channels, conversations) without
 * touching this file's routes; later routes are tried first.
 *
 * Conversations custom channels: `POST /conversations/v3/custom-channels/{channelId}/messages` (the
 * "Publish a message" body, validated: direction, channel account, senders and recipients with
 * delivery identifiers, text, timestamp; `integrationIdempotencyId` makes a second publish answer the
 * first message instead of creating one), threads per channel account and `integrationThreadId`, the
 * contact association, and a GDPR delete that removes the contact's conversations with it. Contact
 * update (PATCH). The general limit is N requests per rolling window (10 s by default, shorter in tests:
 * same semantics) with HubSpot's `X-HubSpot-RateLimit-*` headers on every answer and an exact
 * Retry-After on the 429; a daily limit answers 429 `DAILY`; `searchLagMs` hides created contacts from
 * search for a while, as HubSpot's search index does.
 *
 * Batch read (`POST /crm/v3/objects/contacts/batch/read`, `{inputs: [{id}], properties?,
 * propertiesWithHistory?, idProperty?}`): 200 with `results` when every id was found, 207 Multi-Status
 * with an `OBJECT_NOT_FOUND` error listing the missing ids in `context.ids` when some or all were not
 * (`results` then holds the found ones, possibly none); 400 `VALIDATION_ERROR` for a body HubSpot would
 * refuse (no `inputs`, an input without a string `id`, more than 100 inputs). One call counts once
 * against the general limit, as every call does. `batchReadMissing = 'omit'` answers the other form
 * HubSpot clients meet: 200 with the missing ids simply left out of `results`. `mergeContacts` merges
 * two contacts as HubSpot does now: a new record with a new id that lists both old ids in
 * `hs_merged_object_ids`, and a read of an old id answers the new record.
 */
export interface FakeContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  /** When the fake answered (ms since epoch). */
  at?: number;
  token?: string;
  body?: unknown;
}

export interface FakeRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  token: string;
}

export type FakeReply = { status: number; body?: unknown; headers?: Record<string, string> };
export type RouteHandler = (request: FakeRequest) => FakeReply | Promise<FakeReply>;

type Fault = { kind: 'status'; status: number; remaining: number; match?: RegExp } | { kind: 'hang'; remaining: number; match?: RegExp } | { kind: 'rate-limit'; remaining: number; retryAfterSeconds: number; match?: RegExp };

export interface FakeConversationActor {
  deliveryIdentifier: { type: string; value: string };
  name?: string;
  senderActorId?: string;
}

/** A message published over a custom channel, as the fake keeps it. */
export interface FakeConversationMessage {
  id: string;
  channelId: string;
  channelAccountId: string;
  threadId: string;
  direction: 'INCOMING' | 'OUTGOING';
  text: string;
  senders: FakeConversationActor[];
  recipients: FakeConversationActor[];
  timestamp: string;
  integrationIdempotencyId?: string;
  contactId?: string;
  createdAt: string;
}

export interface FakeThread {
  id: string;
  channelId: string;
  channelAccountId: string;
  key: string;
  contactId?: string;
  archived: boolean;
}

export interface HubSpotFakeOptions {
  /** Tokens accepted (any non-empty token when omitted). */
  tokens?: string[];
  /** Search requests per second per token before 429 (HubSpot: about 4-5). 0 turns the limit off. */
  searchesPerSecond?: number;
  /** General requests per 10 seconds per token before 429 (HubSpot: 100-190 by tier). 0 (default) is off. */
  requestsPerTenSeconds?: number;
  /** The rolling window of that limit (default 10 000 ms; tests shorten it, the semantics are the same). */
  rateLimitWindowMs?: number;
  /** Requests per day per token before 429 DAILY. 0 (default) is off. */
  requestsPerDay?: number;
  /** A contact created through the API is invisible to search for this long (HubSpot's index lag). */
  searchLagMs?: number;
  /** How a batch read reports ids it did not find: `'207'` (default, HubSpot's documented form) or `'omit'` (200, left out). */
  batchReadMissing?: '207' | 'omit';
}

const batchReadSchema = z.object({
  inputs: z.array(z.object({ id: z.string().min(1) })),
  properties: z.array(z.string()).optional(),
  propertiesWithHistory: z.array(z.string()).optional(),
  idProperty: z.string().min(1).optional(),
});

/** HubSpot's batch read takes at most 100 inputs. */
const MAX_BATCH_INPUTS = 100;

const actorSchema = z.object({
  deliveryIdentifier: z.object({ type: z.enum(['HS_EMAIL_ADDRESS', 'HS_PHONE_NUMBER', 'CHANNEL_SPECIFIC_OPAQUE_ID']), value: z.string().min(1) }),
  name: z.string().optional(),
  senderActorId: z.string().optional(),
});

/** The "Publish a message" body (conversations custom channels v3), as HubSpot validates it. */
const publishSchema = z
  .object({
    messageDirection: z.enum(['INCOMING', 'OUTGOING']),
    channelAccountId: z.string().min(1),
    senders: z.array(actorSchema).min(1),
    recipients: z.array(actorSchema).min(1),
    text: z.string().optional(),
    richText: z.string().optional(),
    attachments: z.array(z.object({ type: z.string(), fileId: z.string().optional() })).default([]),
    timestamp: z.iso.datetime(),
    integrationIdempotencyId: z.string().min(1).optional(),
    integrationThreadId: z.string().min(1).optional(),
    inReplyToId: z.string().optional(),
    associateWithContactId: z.number().int().positive().optional(),
  })
  .refine((m) => (m.text ?? '').trim() !== '' || m.attachments.length > 0, { message: 'a message needs text or attachments', path: ['text'] });

const RATE_LIMIT_BODY = (policyName: string) => ({
  status: 'error',
  message: 'You have reached your secondly limit.',
  errorType: 'RATE_LIMIT',
  correlationId: randomUUID(),
  policyName,
  groupName: 'publicapi:private-app:search',
});

export class HubSpotFake {
  readonly contacts = new Map<string, FakeContact>();
  /** GDPR-deleted ids (HubSpot keeps no trace of them; the fake keeps the ids for assertions). */
  readonly gdprDeleted: string[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Custom channels: channel id -> its connected channel account ids. */
  readonly customChannels = new Map<string, Set<string>>();
  readonly conversationMessages = new Map<string, FakeConversationMessage>();
  readonly threads = new Map<string, FakeThread>();
  /** Idempotency ids published again (answered with the first message, nothing created). */
  readonly republished: string[] = [];
  rateLimitWindowMs: number;
  requestsPerDay: number;
  searchLagMs: number;
  batchReadMissing: '207' | 'omit';
  /** Old id -> the id of the record it was merged into (HubSpot keeps answering old ids with it). */
  private readonly mergedInto = new Map<string, string>();
  private readonly searchableAt = new Map<string, number>();
  private readonly dayCounts = new Map<string, number>();
  private nextConversationId = 5000;
  url = '';
  private server: Server | undefined;
  private nextId = 1000;
  private readonly tokens: Set<string> | undefined;
  private readonly revoked = new Set<string>();
  private readonly faults: Fault[] = [];
  private readonly searchTimes = new Map<string, number[]>();
  private readonly requestTimes = new Map<string, number[]>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly routes: { method: string; pattern: RegExp; keys: string[]; handler: RouteHandler }[] = [];
  searchesPerSecond: number;
  requestsPerTenSeconds: number;

  constructor(options: HubSpotFakeOptions = {}) {
    this.tokens = options.tokens ? new Set(options.tokens) : undefined;
    this.searchesPerSecond = options.searchesPerSecond ?? 4;
    this.requestsPerTenSeconds = options.requestsPerTenSeconds ?? 0;
    this.rateLimitWindowMs = options.rateLimitWindowMs ?? 10_000;
    this.requestsPerDay = options.requestsPerDay ?? 0;
    this.searchLagMs = options.searchLagMs ?? 0;
    this.batchReadMissing = options.batchReadMissing ?? '207';
    this.route('PATCH', '/crm/v3/objects/contacts/:id', (r) => this.updateContact(r));
    this.route('POST', '/conversations/v3/custom-channels/:channelId/messages', (r) => this.publishMessage(r));
    this.route('GET', '/conversations/v3/custom-channels/:channelId/messages/:messageId', (r) => this.readMessage(r));
    this.route('GET', '/conversations/v3/conversations/threads/:threadId', (r) => this.readThread(r));
    this.route('POST', '/crm/v3/objects/contacts', (r) => this.createContact(r));
    this.route('POST', '/crm/v3/objects/contacts/search', (r) => this.search(r));
    this.route('POST', '/crm/v3/objects/contacts/gdpr-delete', (r) => this.gdprDelete(r));
    this.route('GET', '/crm/v3/objects/contacts/:id', (r) => this.readContact(r));
    this.route('POST', '/crm/v3/objects/contacts/batch/read', (r) => this.batchRead(r));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    if (!this.server) return;
    await new Promise<void>((resolve) => {
      this.server!.close(() => resolve());
      this.server!.closeAllConnections();
    });
  }

  /** Adds an endpoint (`:name` segments become params). Later routes win over earlier ones. */
  route(method: string, path: string, handler: RouteHandler): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/:([A-Za-z]+)/g, (_, key: string) => (keys.push(key), '([^/]+)'))}$`);
    this.routes.unshift({ method, pattern, keys, handler });
  }

  /** The next `count` requests (matching `path`, when given) answer `status`. */
  failNext(count: number, status = 500, path?: RegExp): void {
    this.faults.push({ kind: 'status', status, remaining: count, ...(path ? { match: path } : {}) });
  }

  /** The next `count` requests answer 429 with Retry-After. */
  rateLimitNext(count: number, retryAfterSeconds = 1, path?: RegExp): void {
    this.faults.push({ kind: 'rate-limit', remaining: count, retryAfterSeconds, ...(path ? { match: path } : {}) });
  }

  /** The next `count` requests never get an answer (until the client gives up or the fake closes). */
  hangNext(count: number, path?: RegExp): void {
    this.faults.push({ kind: 'hang', remaining: count, ...(path ? { match: path } : {}) });
  }

  /** Drops the connections of hanging requests (the client sees a network error). */
  releaseHanging(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  allowToken(token: string): void {
    this.tokens?.add(token);
    this.revoked.delete(token);
  }

  /** The token stops working (the customer uninstalled the private app): 401 from now on. */
  revokeToken(token: string): void {
    this.tokens?.delete(token);
    this.revoked.add(token);
  }

  /** Seeds a contact as HubSpot would hold it (phone exactly as typed). */
  addContact(properties: Record<string, string>): FakeContact {
    const now = new Date().toISOString();
    const contact: FakeContact = { id: String(this.nextId++), properties: { ...properties }, createdAt: now, updatedAt: now };
    this.contacts.set(contact.id, contact);
    return contact;
  }

  /** Number of search calls answered (any status). */
  searchCalls(): number {
    return this.requests.filter((r) => r.path === '/crm/v3/objects/contacts/search').length;
  }

  /** The batch read calls answered (any status), optionally only those of one token. */
  batchReads(token?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/crm/v3/objects/contacts/batch/read' && (token === undefined || r.token === token));
  }

  /**
   * Merges two contacts as HubSpot does: a new record with a new id, the primary's properties winning,
   * `hs_merged_object_ids` listing both old ids; reads of an old id answer the new record.
   */
  mergeContacts(primaryId: string, mergedId: string): FakeContact {
    const primary = this.contacts.get(primaryId);
    const other = this.contacts.get(mergedId);
    if (!primary || !other) throw new Error('both contacts must exist');
    const merged = this.addContact({ ...other.properties, ...primary.properties, hs_merged_object_ids: [primaryId, mergedId].join(';') });
    for (const id of [primaryId, mergedId]) {
      this.contacts.delete(id);
      this.mergedInto.set(id, merged.id);
    }
    for (const [old, into] of this.mergedInto) if (into === primaryId || into === mergedId) this.mergedInto.set(old, merged.id);
    return merged;
  }

  /** The contact an id stands for now (following merges), if HubSpot still has it. */
  private resolve(id: string): FakeContact | undefined {
    return this.contacts.get(this.mergedInto.get(id) ?? id);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return this.reply(res, method, url.pathname, undefined, undefined, { status: 400, body: { status: 'error', message: 'Invalid input JSON', category: 'VALIDATION_ERROR' } });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];

    const fault = this.takeFault(url.pathname);
    if (fault?.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      this.requests.push({ method, path: url.pathname, status: 0, ...(token ? { token } : {}), body });
      return;
    }
    if (fault?.kind === 'status') return this.reply(res, method, url.pathname, token, body, { status: fault.status, body: { status: 'error', message: 'internal error', category: 'INTERNAL_ERROR', correlationId: randomUUID() } });
    if (fault?.kind === 'rate-limit') return this.reply(res, method, url.pathname, token, body, { status: 429, body: RATE_LIMIT_BODY('TEN_SECONDLY_ROLLING'), headers: { 'retry-after': String(fault.retryAfterSeconds) } });

    if (!token || this.revoked.has(token) || (this.tokens && !this.tokens.has(token))) {
      return this.reply(res, method, url.pathname, token, body, {
        status: 401,
        body: { status: 'error', message: 'Authentication credentials not found. This API supports OAuth 2.0 authentication.', category: 'INVALID_AUTHENTICATION', correlationId: randomUUID() },
      });
    }
    const { limited, headers: limitHeaders } = this.rateLimited(token, url.pathname);
    if (limited) return this.reply(res, method, url.pathname, token, body, limited);

    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      const params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)]));
      const reply = await route.handler({ method, path: url.pathname, params, query: url.searchParams, body, token });
      return this.reply(res, method, url.pathname, token, body, { ...reply, headers: { ...limitHeaders, ...(reply.headers ?? {}) } });
    }
    return this.reply(res, method, url.pathname, token, body, { status: 404, body: { status: 'error', message: 'not found', category: 'OBJECT_NOT_FOUND' } });
  }

  private reply(res: ServerResponse, method: string, path: string, token: string | undefined, body: unknown, reply: FakeReply): void {
    this.requests.push({ method, path, status: reply.status, at: Date.now(), ...(token ? { token } : {}), body });
    res.writeHead(reply.status, { ...(reply.body !== undefined ? { 'content-type': 'application/json;charset=utf-8' } : {}), ...(reply.headers ?? {}) });
    res.end(reply.body !== undefined ? JSON.stringify(reply.body) : undefined);
  }

  private takeFault(path: string): Fault | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.match || f.match.test(path)));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  /**
   * HubSpot's general limit: `requestsPerTenSeconds` per rolling `rateLimitWindowMs` per token, with the
   * rate-limit headers on every answer (search answers carry none, as HubSpot documents) and, on a 429,
   * Retry-After = when the oldest request leaves the window. Then the daily limit and the search limit.
   */
  private rateLimited(token: string, path: string): { limited?: FakeReply; headers: Record<string, string> } {
    const now = Date.now();
    const search = path.endsWith('/search');
    let headers: Record<string, string> = {};
    if (this.requestsPerTenSeconds > 0) {
      const window = this.rateLimitWindowMs;
      const times = (this.requestTimes.get(token) ?? []).filter((t) => t > now - window);
      this.requestTimes.set(token, times);
      if (times.length >= this.requestsPerTenSeconds) {
        const retryAfterSeconds = Math.max(1, Math.ceil((times[times.length - this.requestsPerTenSeconds]! + window - now) / 1000));
        return {
          limited: {
            status: 429,
            body: { ...RATE_LIMIT_BODY('TEN_SECONDLY_ROLLING'), message: 'You have reached your ten_secondly_rolling limit.', groupName: 'publicapi:private-app' },
            headers: { 'retry-after': String(retryAfterSeconds), ...this.limitHeaders(0) },
          },
          headers: {},
        };
      }
      times.push(now);
      if (!search) headers = this.limitHeaders(this.requestsPerTenSeconds - times.length);
    }
    if (this.requestsPerDay > 0) {
      const used = this.dayCounts.get(token) ?? 0;
      if (used >= this.requestsPerDay) {
        return { limited: { status: 429, body: { ...RATE_LIMIT_BODY('DAILY'), message: 'You have reached your daily limit.', groupName: 'publicapi:private-app' } }, headers: {} };
      }
      this.dayCounts.set(token, used + 1);
      if (!search) headers = { ...headers, 'x-hubspot-ratelimit-daily': String(this.requestsPerDay), 'x-hubspot-ratelimit-daily-remaining': String(this.requestsPerDay - used - 1) };
    }
    if (search && this.searchesPerSecond > 0) {
      const times = (this.searchTimes.get(token) ?? []).filter((t) => t > now - 1000);
      this.searchTimes.set(token, times);
      if (times.length >= this.searchesPerSecond) return { limited: { status: 429, body: RATE_LIMIT_BODY('SECONDLY'), headers: { 'retry-after': '1' } }, headers: {} };
      times.push(now);
    }
    return { headers };
  }

  private limitHeaders(remaining: number): Record<string, string> {
    return {
      'x-hubspot-ratelimit-interval-milliseconds': String(this.rateLimitWindowMs),
      'x-hubspot-ratelimit-max': String(this.requestsPerTenSeconds),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, remaining)),
    };
  }

  /** Registers a custom channel with its connected channel accounts (what an installed app has). */
  addCustomChannel(channelId: string, ...channelAccountIds: string[]): void {
    const accounts = this.customChannels.get(channelId) ?? new Set<string>();
    for (const id of channelAccountIds) accounts.add(id);
    this.customChannels.set(channelId, accounts);
  }

  /** The messages of a contact's conversations (what a GDPR delete must remove). */
  messagesOfContact(contactId: string): FakeConversationMessage[] {
    return [...this.conversationMessages.values()].filter((m) => m.contactId === contactId);
  }

  private publishMessage(request: FakeRequest): FakeReply {
    const channelId = request.params.channelId!;
    const accounts = this.customChannels.get(channelId);
    if (!accounts) return { status: 404, body: { status: 'error', message: `Custom channel ${channelId} not found`, category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    const parsed = publishSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { status: 400, body: { status: 'error', message: `Invalid input JSON: ${issue.path.join('.')} ${issue.message}`, category: 'VALIDATION_ERROR', correlationId: randomUUID() } };
    }
    const m = parsed.data;
    if (!accounts.has(m.channelAccountId)) {
      return { status: 400, body: { status: 'error', message: 'The channel account is not connected to this channel', category: 'VALIDATION_ERROR', correlationId: randomUUID() } };
    }
    if (m.integrationIdempotencyId) {
      const first = [...this.conversationMessages.values()].find((x) => x.channelId === channelId && x.integrationIdempotencyId === m.integrationIdempotencyId);
      if (first) {
        this.republished.push(m.integrationIdempotencyId);
        return { status: 200, body: this.messageView(first) };
      }
    }
    const external = m.messageDirection === 'INCOMING' ? m.senders[0]! : m.recipients[0]!;
    let contactId: string | undefined;
    if (m.associateWithContactId !== undefined) {
      contactId = String(m.associateWithContactId);
      if (!this.contacts.has(contactId)) return { status: 400, body: { status: 'error', message: `Contact ${contactId} does not exist`, category: 'VALIDATION_ERROR', correlationId: randomUUID() } };
    } else if (external.deliveryIdentifier.type === 'HS_PHONE_NUMBER') {
      contactId = [...this.contacts.values()].find((c) => c.properties.phone === external.deliveryIdentifier.value || c.properties.mobilephone === external.deliveryIdentifier.value)?.id;
    }
    const key = `${m.channelAccountId}|${m.integrationThreadId ?? `${external.deliveryIdentifier.type}:${external.deliveryIdentifier.value}`}`;
    let thread = [...this.threads.values()].find((t) => t.channelId === channelId && t.key === key && !t.archived);
    if (!thread) {
      thread = { id: String(this.nextConversationId++), channelId, channelAccountId: m.channelAccountId, key, ...(contactId ? { contactId } : {}), archived: false };
      this.threads.set(thread.id, thread);
    }
    const message: FakeConversationMessage = {
      id: `${this.nextConversationId++}`,
      channelId,
      channelAccountId: m.channelAccountId,
      threadId: thread.id,
      direction: m.messageDirection,
      text: m.text ?? '',
      senders: m.senders,
      recipients: m.recipients,
      timestamp: m.timestamp,
      ...(m.integrationIdempotencyId ? { integrationIdempotencyId: m.integrationIdempotencyId } : {}),
      ...(contactId ?? thread.contactId ? { contactId: (contactId ?? thread.contactId)! } : {}),
      createdAt: new Date().toISOString(),
    };
    this.conversationMessages.set(message.id, message);
    return { status: 200, body: this.messageView(message) };
  }

  private readMessage(request: FakeRequest): FakeReply {
    const message = this.conversationMessages.get(request.params.messageId!);
    if (!message || message.channelId !== request.params.channelId) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    return { status: 200, body: this.messageView(message) };
  }

  private readThread(request: FakeRequest): FakeReply {
    const thread = this.threads.get(request.params.threadId!);
    if (!thread) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    return { status: 200, body: { id: thread.id, archived: thread.archived, ...(thread.contactId ? { associatedContactId: thread.contactId } : {}), originalChannelId: thread.channelId, originalChannelAccountId: thread.channelAccountId, status: 'OPEN' } };
  }

  private messageView(m: FakeConversationMessage): Record<string, unknown> {
    return {
      id: m.id,
      type: 'MESSAGE',
      conversationsThreadId: m.threadId,
      channelId: m.channelId,
      channelAccountId: m.channelAccountId,
      direction: m.direction,
      text: m.text,
      senders: m.senders.map((a, i) => ({ ...a, actorId: a.senderActorId ?? `V-${m.contactId ?? i}` })),
      recipients: m.recipients,
      createdAt: m.createdAt,
      archived: false,
      truncationStatus: 'NOT_TRUNCATED',
      client: { clientType: 'INTEGRATION', integrationAppId: 1 },
    };
  }

  private updateContact(request: FakeRequest): FakeReply {
    const contact = this.contacts.get(request.params.id!);
    if (!contact) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    const properties = (request.body as { properties?: Record<string, string> } | undefined)?.properties;
    if (!properties || typeof properties !== 'object') return { status: 400, body: { status: 'error', message: 'properties is required', category: 'VALIDATION_ERROR' } };
    Object.assign(contact.properties, properties);
    contact.updatedAt = new Date().toISOString();
    return { status: 200, body: this.view(contact) };
  }

  private createContact(request: FakeRequest): FakeReply {
    const properties = (request.body as { properties?: Record<string, string> } | undefined)?.properties;
    if (!properties || typeof properties !== 'object') return { status: 400, body: { status: 'error', message: 'properties is required', category: 'VALIDATION_ERROR' } };
    const contact = this.addContact(properties);
    if (this.searchLagMs > 0) this.searchableAt.set(contact.id, Date.now() + this.searchLagMs);
    return { status: 201, body: this.view(contact), headers: { location: `/crm/v3/objects/contacts/${contact.id}` } };
  }

  private readContact(request: FakeRequest): FakeReply {
    const contact = this.resolve(request.params.id!);
    if (!contact) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    const wanted = request.query.get('properties')?.split(',');
    return { status: 200, body: this.view(contact, wanted) };
  }

  private batchRead(request: FakeRequest): FakeReply {
    const parsed = batchReadSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { status: 400, body: { status: 'error', message: `Invalid input JSON: ${issue.path.join('.')} ${issue.message}`, category: 'VALIDATION_ERROR', correlationId: randomUUID() } };
    }
    const { inputs, properties, idProperty } = parsed.data;
    if (inputs.length > MAX_BATCH_INPUTS) {
      return { status: 400, body: { status: 'error', message: `Batch input cannot contain more than ${MAX_BATCH_INPUTS} inputs`, category: 'VALIDATION_ERROR', correlationId: randomUUID() } };
    }
    const startedAt = new Date().toISOString();
    const found = new Map<string, FakeContact>();
    const missing: string[] = [];
    for (const { id } of inputs) {
      const contact =
        idProperty && idProperty !== 'hs_object_id'
          ? [...this.contacts.values()].find((c) => (c.properties[idProperty] ?? '').toLowerCase() === id.toLowerCase())
          : this.resolve(id);
      if (contact) found.set(contact.id, contact);
      else if (!missing.includes(id)) missing.push(id);
    }
    const results = [...found.values()].map((c) => this.view(c, properties));
    const base = { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() };
    if (missing.length === 0 || this.batchReadMissing === 'omit') return { status: 200, body: base };
    return {
      status: 207,
      body: {
        ...base,
        numErrors: 1,
        errors: [
          {
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
            context: { ids: missing },
            errors: [],
            links: {},
          },
        ],
      },
    };
  }

  private gdprDelete(request: FakeRequest): FakeReply {
    const objectId = (request.body as { objectId?: unknown } | undefined)?.objectId;
    if (typeof objectId !== 'string') return { status: 400, body: { status: 'error', message: 'objectId is required', category: 'VALIDATION_ERROR' } };
    const contact = this.resolve(objectId);
    if (!contact) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    // An id merged away stands for the merged record: that is what gets deleted.
    if (contact.id !== objectId) return this.gdprDelete({ ...request, body: { objectId: contact.id } });
    this.contacts.delete(objectId);
    for (const [old, into] of this.mergedInto) if (into === objectId) this.mergedInto.delete(old);
    this.gdprDeleted.push(objectId);
    // "Permanently deletes the contact and its engagements and conversations" (HubSpot finishes within 30 days; the fake at once).
    for (const message of this.messagesOfContact(objectId)) this.conversationMessages.delete(message.id);
    for (const thread of [...this.threads.values()].filter((t) => t.contactId === objectId)) this.threads.delete(thread.id);
    return { status: 204 };
  }

  private search(request: FakeRequest): FakeReply {
    const body = (request.body ?? {}) as { filterGroups?: { filters?: { propertyName: string; operator: string; value?: string; values?: string[] }[] }[]; properties?: string[]; limit?: number; after?: string };
    const groups = body.filterGroups ?? [];
    const filterCount = groups.reduce((n, g) => n + (g.filters?.length ?? 0), 0);
    if (groups.length > 5 || filterCount > 25 || groups.some((g) => (g.filters?.length ?? 0) > 10)) {
      return { status: 400, body: { status: 'error', message: 'Too many filter groups or filters (max 5 groups, 10 filters per group, 25 in total)', category: 'VALIDATION_ERROR' } };
    }
    for (const g of groups) {
      for (const f of g.filters ?? []) {
        if (f.operator === 'IN' && (f.values?.length ?? 0) > 100) return { status: 400, body: { status: 'error', message: 'IN accepts at most 100 values', category: 'VALIDATION_ERROR' } };
        if (!['EQ', 'IN'].includes(f.operator)) return { status: 400, body: { status: 'error', message: `operator ${f.operator} is not supported by this fake`, category: 'VALIDATION_ERROR' } };
      }
    }
    const now = Date.now();
    const matches = [...this.contacts.values()].filter(
      (c) =>
        (this.searchableAt.get(c.id) ?? 0) <= now &&
        (groups.length === 0 ||
        groups.some((g) =>
          (g.filters ?? []).every((f) => {
            const value = c.properties[f.propertyName];
            if (value === undefined) return false;
            return f.operator === 'EQ' ? value.toLowerCase() === String(f.value).toLowerCase() : (f.values ?? []).some((v) => v.toLowerCase() === value.toLowerCase());
          }),
        )),
    );
    const limit = Math.min(body.limit ?? 10, 200);
    const offset = Number(body.after ?? 0);
    const page = matches.slice(offset, offset + limit);
    return {
      status: 200,
      body: {
        total: matches.length,
        results: page.map((c) => this.view(c, body.properties)),
        ...(offset + limit < matches.length ? { paging: { next: { after: String(offset + limit) } } } : {}),
      },
    };
  }

  private view(contact: FakeContact, wanted?: string[]): { id: string; properties: Record<string, string | null>; createdAt: string; updatedAt: string; archived: boolean } {
    const names = wanted ?? ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
    const all: Record<string, string> = { ...contact.properties, hs_object_id: contact.id, createdate: contact.createdAt, lastmodifieddate: contact.updatedAt };
    return { id: contact.id, properties: Object.fromEntries(names.map((n) => [n, all[n] ?? null])), createdAt: contact.createdAt, updatedAt: contact.updatedAt, archived: false };
  }
}

export async function startHubSpotFake(options: HubSpotFakeOptions = {}): Promise<HubSpotFake> {
  return new HubSpotFake(options).start();
}
