import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A loopback HubSpot, written from HubSpot's published reference (never from Flowkeeper's code), for the
 * calls Flowkeeper makes. Sources, read on 2026-12-04:
 *
 * - OpenAPI specs, github.com/HubSpot/HubSpot-public-api-spec-collection (HEAD 9989379, 2026-08-21):
 *   - `PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json` (last changed 2026-06-23): create
 *     (`SimplePublicObjectInputForCreate`: `properties` and `associations` required, 201), read, update,
 *     search (`PublicObjectSearchRequest`: `after`, `filterGroups`, `limit` (up to 200), `properties`,
 *     `sorts` required; operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY,
 *     NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN), batch read (`BatchReadInputSimplePublicObjectId`:
 *     `inputs`, `properties`, `propertiesWithHistory` all required; 200, or 207 with `errors`), GDPR delete
 *     (`PublicGdprDeleteInput`: `objectId` required, 204, "Permanently delete a contact and all associated
 *     content").
 *   - `PublicApiSpecs/Conversations/Custom Channels/Rollouts/160898/v3/customChannels.json` (2026-08-18):
 *     publish (`ChannelIntegrationMessageEgg`: `attachments`, `channelAccountId`, `messageDirection`,
 *     `recipients`, `senders`, `text`, `timestamp` required; `preResolvedContacts: {contacts:
 *     [{contactVid, contactPropertiesLeadingToMatch}]}`; 201 with a `PublicConversationsMessage` naming
 *     its `conversationsThreadId`). The contact properties HubSpot lists there include `phone`,
 *     `mobilephone`, `hs_whatsapp_phone_number` and `hs_whatsapp_bsuids`.
 *   - `PublicApiSpecs/Conversations/Conversations/Rollouts/54902/v3/conversations.json` (2026-08-14):
 *     threads (`PublicThread`), `GET /conversations/v3/conversations/threads` (`associatedContactId`,
 *     `threadStatus`, `archived`, `inboxId`, `after`, `limit`), `GET/PATCH/DELETE .../threads/{threadId}`
 *     ("Archives a single thread. The thread will be permanently deleted 30 days after placed in an
 *     archived state"; PATCH `{archived: false}` restores), `GET .../threads/{threadId}/messages`. The
 *     parameter descriptions of the same spec as generated clients carry them: `associatedContactId`
 *     "cannot be used in conjunction with the `inboxId` property", `threadStatus` "must be provided if
 *     you're including the `associatedContactId` query parameter".
 * - Custom channels guide, https://developers.hubspot.com/docs/api-reference/conversations-custom-channels-v3/guide
 *   (undated): a message is linked to a contact with `preResolvedContacts`; `associateWithContactId`
 *   appears in the legacy reference only. The fake accepts the legacy field (the spec still lists it)
 *   and ignores it: a message without `preResolvedContacts` is not attached to any contact.
 * - Search guide, https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm (undated):
 *   "rate limited to five requests per second per account", 200 objects per page, 10,000 results per
 *   query, newly created objects take "a few moments" to appear. Filter limits: the developer changelog
 *   "Expanded filtering capabilities" (2024-08-26) says 5 groups, 10 filters per group, 25 in all; the
 *   OpenAPI description says "up to 6 groups"; the fake enforces the strictest reading: 5 groups, 6
 *   filters per group, 18 in all. HubSpot documents no cap on the values of one IN filter: the fake
 *   refuses more than `maxInValues` (default 100) so a client that relies on more is caught.
 * - API usage guidelines, https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
 *   (undated), and the developer changelog "Increasing our API limits": privately distributed apps get
 *   100 (Free/Starter) or 190 (Professional/Enterprise) requests per 10 s per app and account, "this
 *   excludes the CRM Search API"; a 429 body carries `errorType: "RATE_LIMIT"` and a `policyName`
 *   (`TEN_SECONDLY_ROLLING`, `DAILY`; search answers `SECONDLY`); answers carry
 *   `X-HubSpot-RateLimit-Interval-Milliseconds`, `-Max`, `-Remaining` (and `-Daily`, `-Daily-Remaining`
 *   where a daily limit applies); "Responses from the search API endpoints will not include any of the
 *   rate limit headers".
 * - Knowledge base, "Perform a permanent delete in HubSpot" (updated 2025-06-09) and "Understand
 *   restorable and permanent contact deletions" (updated 2025-02-14): the purge completes within 30
 *   days (the fake purges at once), conversations go with the contact, anonymised analytics stay.
 *
 * Faults: the next N requests (optionally on matching paths) answer a status (5xx), a 429 of any policy
 * with or without Retry-After, or hang. `route(method, path, handler)` adds endpoints; later routes win.
 * Every answer is recorded with the time the request arrived, so a test can count accepted calls in
 * any rolling window (`maxAcceptedInWindow`).
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
  /** When the request arrived (ms since epoch): HubSpot counts a call when it arrives. */
  at?: number;
  token?: string;
  body?: unknown;
  /** Whether the call counted against the burst limit (accepted and not a search). */
  counted?: boolean;
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

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY';

type Fault =
  | { kind: 'status'; status: number; remaining: number; match?: RegExp }
  | { kind: 'hang'; remaining: number; match?: RegExp }
  | { kind: 'rate-limit'; remaining: number; retryAfterSeconds: number | undefined; policy: RateLimitPolicy; match?: RegExp };

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
  /** The contact the message is attached to (only through `preResolvedContacts`). */
  contactId?: string;
  createdAt: string;
}

export interface FakeThread {
  id: string;
  channelId: string;
  channelAccountId: string;
  inboxId: string;
  /** Which conversation the thread is (channel account + integration thread id or the other party). */
  key: string;
  contactId?: string;
  /** A visitor id stands in for the contact of a thread attached to none (HubSpot: `associatedContactId`). */
  visitorId: string;
  status: 'OPEN' | 'CLOSED';
  archived: boolean;
  archivedAt?: number;
  createdAt: string;
  latestMessageTimestamp: string;
}

export interface HubSpotFakeOptions {
  /** Tokens accepted (any non-empty token when omitted). */
  tokens?: string[];
  /** Search requests per second per account before 429 `SECONDLY` (HubSpot: 5). 0 turns the limit off. */
  searchesPerSecond?: number;
  /** Whether a search 429 carries Retry-After (HubSpot documents none either way; default true). */
  searchRetryAfter?: boolean;
  /** General requests per window per token before 429 (HubSpot: 100 or 190 per 10 s). 0 (default) is off. */
  requestsPerTenSeconds?: number;
  /** The rolling window of that limit (default 10 000 ms; tests shorten it, the semantics are the same). */
  rateLimitWindowMs?: number;
  /** Whether a burst-limit 429 carries Retry-After (default true). */
  burstRetryAfter?: boolean;
  /** Requests per day per token before 429 `DAILY` (no Retry-After). 0 (default) is off. */
  requestsPerDay?: number;
  /** A contact created through the API is invisible to search for this long (HubSpot's index lag). */
  searchLagMs?: number;
  /** How a batch read reports ids it did not find: `'207'` (default, HubSpot's documented form) or `'omit'`. */
  batchReadMissing?: '207' | 'omit';
  /** Values one IN filter may hold (HubSpot documents no figure; default 100). */
  maxInValues?: number;
  /** Tokens of the same HubSpot account (portal): the search limit is per account. Default: one per token. */
  accountOf?: (token: string) => string;
}

const SEARCH_PATH = /^\/crm\/v3\/objects\/contacts\/search$/;
const MAX_BATCH_INPUTS = 100;
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const MAX_SEARCH_PAGE = 200;
const MAX_SEARCH_RESULTS = 10_000;
const ARCHIVED_THREAD_LIFETIME_MS = 30 * 24 * 3600_000;

const error = (status: number, category: string, message: string, extra: Record<string, unknown> = {}): FakeReply => ({
  status,
  body: { status: 'error', message, correlationId: randomUUID(), category, ...extra },
});
const notFound = () => error(404, 'OBJECT_NOT_FOUND', 'resource not found');
const invalid = (issue: string) => error(400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: ${issue}`);
const firstIssue = (e: z.ZodError) => `${e.issues[0]!.path.join('.') || 'body'} ${e.issues[0]!.message}`;

const filterSchema = z.object({
  propertyName: z.string().min(1),
  operator: z.enum(['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN']),
  value: z.string().optional(),
  highValue: z.string().optional(),
  values: z.array(z.string()).optional(),
});
type Filter = z.infer<typeof filterSchema>;

/** `PublicObjectSearchRequest`: every field the OpenAPI marks required must be there. */
const searchSchema = z.object({
  after: z.union([z.string(), z.number()]).transform(String),
  filterGroups: z.array(z.object({ filters: z.array(filterSchema) })),
  limit: z.number().int().min(0).max(MAX_SEARCH_PAGE),
  properties: z.array(z.string()),
  sorts: z.array(z.unknown()),
  query: z.string().max(3000).optional(),
});

const batchReadSchema = z.object({
  inputs: z.array(z.object({ id: z.string().min(1) })),
  properties: z.array(z.string()),
  propertiesWithHistory: z.array(z.string()),
  idProperty: z.string().min(1).optional(),
});

const createSchema = z.object({
  properties: z.record(z.string(), z.string()),
  associations: z.array(z.unknown()),
});

const gdprDeleteSchema = z.object({ objectId: z.string().min(1), idProperty: z.string().min(1).optional() });

const participantSchema = z.object({
  deliveryIdentifier: z.object({ type: z.enum(['CHANNEL_SPECIFIC_OPAQUE_ID', 'HS_EMAIL_ADDRESS', 'HS_PHONE_NUMBER', 'HS_SHORT_CODE']), value: z.string().min(1) }),
  name: z.string().optional(),
  senderActorId: z.string().optional(),
});

/** `ChannelIntegrationMessageEgg`, its required fields as the current spec states them. */
const publishSchema = z.object({
  attachments: z.array(z.object({ type: z.string() }).passthrough()),
  channelAccountId: z.string().min(1),
  messageDirection: z.enum(['INCOMING', 'OUTGOING']),
  recipients: z.array(participantSchema).min(1),
  senders: z.array(participantSchema).min(1),
  text: z.string(),
  timestamp: z.iso.datetime({ offset: true }),
  inReplyToId: z.string().optional(),
  integrationIdempotencyId: z.string().min(1).optional(),
  integrationThreadId: z.string().min(1).optional(),
  richText: z.string().optional(),
  preResolvedContacts: z
    .object({ contacts: z.array(z.object({ contactVid: z.number().int().positive(), contactPropertiesLeadingToMatch: z.array(z.string()) })) })
    .optional(),
  /** Listed by the spec, documented as legacy by the guide: accepted, never acted on. */
  associateWithContactId: z.number().int().optional(),
});

const threadPatchSchema = z.object({ archived: z.boolean().optional(), status: z.enum(['OPEN', 'CLOSED']).optional() });

const rateLimitBody = (policyName: RateLimitPolicy) => ({
  status: 'error',
  message: policyName === 'DAILY' ? 'You have reached your daily limit.' : policyName === 'SECONDLY' ? 'You have reached your secondly limit.' : 'You have reached your ten_secondly_rolling limit.',
  errorType: 'RATE_LIMIT',
  correlationId: randomUUID(),
  policyName,
  groupName: policyName === 'SECONDLY' ? 'publicapi:private-app:search' : 'publicapi:private-app',
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
  searchesPerSecond: number;
  searchRetryAfter: boolean;
  requestsPerTenSeconds: number;
  rateLimitWindowMs: number;
  burstRetryAfter: boolean;
  requestsPerDay: number;
  searchLagMs: number;
  batchReadMissing: '207' | 'omit';
  maxInValues: number;
  url = '';
  private readonly accountOf: (token: string) => string;
  private readonly mergedInto = new Map<string, string>();
  private readonly searchableAt = new Map<string, number>();
  private readonly dayCounts = new Map<string, number>();
  private readonly burstTimes = new Map<string, number[]>();
  private readonly searchTimes = new Map<string, number[]>();
  private readonly tokens: Set<string> | undefined;
  private readonly revoked = new Set<string>();
  private readonly faults: Fault[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private readonly routes: { method: string; pattern: RegExp; keys: string[]; handler: RouteHandler }[] = [];
  private server: Server | undefined;
  private nextId = 1000;
  private nextConversationId = 5000;
  private nextVisitor = 1;

  constructor(options: HubSpotFakeOptions = {}) {
    this.tokens = options.tokens ? new Set(options.tokens) : undefined;
    this.searchesPerSecond = options.searchesPerSecond ?? 5;
    this.searchRetryAfter = options.searchRetryAfter ?? true;
    this.requestsPerTenSeconds = options.requestsPerTenSeconds ?? 0;
    this.rateLimitWindowMs = options.rateLimitWindowMs ?? 10_000;
    this.burstRetryAfter = options.burstRetryAfter ?? true;
    this.requestsPerDay = options.requestsPerDay ?? 0;
    this.searchLagMs = options.searchLagMs ?? 0;
    this.batchReadMissing = options.batchReadMissing ?? '207';
    this.maxInValues = options.maxInValues ?? 100;
    this.accountOf = options.accountOf ?? ((token) => token);
    this.route('POST', '/crm/v3/objects/contacts', (r) => this.createContact(r));
    this.route('GET', '/crm/v3/objects/contacts/:id', (r) => this.readContact(r));
    this.route('PATCH', '/crm/v3/objects/contacts/:id', (r) => this.updateContact(r));
    this.route('POST', '/crm/v3/objects/contacts/search', (r) => this.search(r));
    this.route('POST', '/crm/v3/objects/contacts/batch/read', (r) => this.batchRead(r));
    this.route('POST', '/crm/v3/objects/contacts/gdpr-delete', (r) => this.gdprDelete(r));
    this.route('POST', '/conversations/v3/custom-channels/:channelId/messages', (r) => this.publishMessage(r));
    this.route('GET', '/conversations/v3/custom-channels/:channelId/messages/:messageId', (r) => this.readChannelMessage(r));
    this.route('GET', '/conversations/v3/conversations/threads', (r) => this.listThreads(r));
    this.route('GET', '/conversations/v3/conversations/threads/:threadId', (r) => this.readThread(r));
    this.route('PATCH', '/conversations/v3/conversations/threads/:threadId', (r) => this.updateThread(r));
    this.route('DELETE', '/conversations/v3/conversations/threads/:threadId', (r) => this.archiveThread(r));
    this.route('GET', '/conversations/v3/conversations/threads/:threadId/messages', (r) => this.threadMessages(r));
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

  /** The next `count` requests (matching `path`, when given) answer `status` (a 5xx: HubSpot or its gateway failed). */
  failNext(count: number, status = 500, path?: RegExp): void {
    this.faults.push({ kind: 'status', status, remaining: count, ...(path ? { match: path } : {}) });
  }

  /**
   * The next `count` requests answer 429 with HubSpot's body for `policy` (default the burst limit) and,
   * unless `retryAfterSeconds` is undefined, a Retry-After.
   */
  rateLimitNext(count: number, retryAfterSeconds: number | undefined = 1, path?: RegExp, policy: RateLimitPolicy = 'TEN_SECONDLY_ROLLING'): void {
    this.faults.push({ kind: 'rate-limit', remaining: count, retryAfterSeconds, policy, ...(path ? { match: path } : {}) });
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

  /** The token stops working (the customer uninstalled the app): 401 from now on. */
  revokeToken(token: string): void {
    this.tokens?.delete(token);
    this.revoked.add(token);
  }

  /** Seeds a contact as someone else made it (a person, an import, another integration): values exactly as typed. */
  addContact(properties: Record<string, string>): FakeContact {
    const now = new Date().toISOString();
    const contact: FakeContact = { id: String(this.nextId++), properties: { ...properties }, createdAt: now, updatedAt: now };
    this.contacts.set(contact.id, contact);
    return contact;
  }

  /** Registers a custom channel with its connected channel accounts (what an installed app has). */
  addCustomChannel(channelId: string, ...channelAccountIds: string[]): void {
    const accounts = this.customChannels.get(channelId) ?? new Set<string>();
    for (const id of channelAccountIds) accounts.add(id);
    this.customChannels.set(channelId, accounts);
  }

  /** Number of search calls answered (any status). */
  searchCalls(token?: string): number {
    return this.requests.filter((r) => SEARCH_PATH.test(r.path) && (token === undefined || r.token === token)).length;
  }

  /** The batch read calls answered (any status), optionally only those of one token. */
  batchReads(token?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/crm/v3/objects/contacts/batch/read' && (token === undefined || r.token === token));
  }

  /** The messages attached to a contact (what its GDPR delete takes with it). */
  messagesOfContact(contactId: string): FakeConversationMessage[] {
    return [...this.conversationMessages.values()].filter((m) => m.contactId === contactId);
  }

  /** Threads on a channel account that are not archived. */
  openThreads(channelAccountId?: string): FakeThread[] {
    return [...this.threads.values()].filter((t) => !t.archived && (channelAccountId === undefined || t.channelAccountId === channelAccountId));
  }

  /**
   * The most calls accepted against the burst limit (not searches, not 429s) in any rolling window of
   * `windowMs` (default the fake's window), for one token or all.
   */
  maxAcceptedInWindow(token?: string, windowMs = this.rateLimitWindowMs): number {
    const times = this.requests.filter((r) => r.counted && (token === undefined || r.token === token)).map((r) => r.at!).sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= windowMs) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  }

  /** HubSpot deletes archived threads 30 days after they were archived; the fake does it when asked. */
  purgeArchivedThreads(now = Date.now() + ARCHIVED_THREAD_LIFETIME_MS): number {
    let purged = 0;
    for (const thread of [...this.threads.values()]) {
      if (thread.archived && thread.archivedAt !== undefined && thread.archivedAt + ARCHIVED_THREAD_LIFETIME_MS <= now) {
        this.dropThread(thread.id);
        purged += 1;
      }
    }
    return purged;
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
    for (const thread of this.threads.values()) if (thread.contactId === primaryId || thread.contactId === mergedId) thread.contactId = merged.id;
    for (const message of this.conversationMessages.values()) if (message.contactId === primaryId || message.contactId === mergedId) message.contactId = merged.id;
    return merged;
  }

  private resolve(id: string): FakeContact | undefined {
    return this.contacts.get(this.mergedInto.get(id) ?? id);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const record = (reply: FakeReply, body: unknown, counted = false) => this.reply(res, { method, path: url.pathname, status: reply.status, at: arrived, ...(token ? { token } : {}), body, counted }, reply);

    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return record(invalid('the body is not JSON'), undefined);
    }

    const fault = this.takeFault(url.pathname);
    if (fault?.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      this.requests.push({ method, path: url.pathname, status: 0, at: arrived, ...(token ? { token } : {}), body });
      return;
    }
    if (fault?.kind === 'status') return record(error(fault.status, 'INTERNAL_ERROR', 'internal error'), body);
    if (fault?.kind === 'rate-limit') {
      return record({ status: 429, body: rateLimitBody(fault.policy), headers: fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) } }, body);
    }

    if (!token || this.revoked.has(token) || (this.tokens && !this.tokens.has(token))) {
      return record(error(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication.'), body);
    }
    const search = SEARCH_PATH.test(url.pathname);
    const limit = this.admit(token, search, arrived);
    if (limit.limited) return record(limit.limited, body);

    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      const params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)]));
      const reply = await route.handler({ method, path: url.pathname, params, query: url.searchParams, body, token });
      return record({ ...reply, headers: { ...limit.headers, ...(reply.headers ?? {}) } }, body, !search);
    }
    return record(error(404, 'OBJECT_NOT_FOUND', 'not found'), body, !search);
  }

  private reply(res: ServerResponse, recorded: RecordedRequest, reply: FakeReply): void {
    this.requests.push(recorded);
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
   * HubSpot's limits, in the order a call meets them: the daily limit (every call), then searches against
   * the search limit (per account, per rolling second; not counted in the burst limit), every other call
   * against the burst limit (per token, per rolling window; Retry-After = when the oldest call in the
   * window leaves it). Non-search answers carry the rate-limit headers; a 429 is not counted.
   */
  private admit(token: string, search: boolean, now: number): { limited?: FakeReply; headers: Record<string, string> } {
    let headers: Record<string, string> = {};
    if (this.requestsPerDay > 0) {
      const used = this.dayCounts.get(token) ?? 0;
      if (used >= this.requestsPerDay) return { limited: { status: 429, body: rateLimitBody('DAILY') }, headers };
    }
    if (search) {
      if (this.searchesPerSecond > 0) {
        const account = this.accountOf(token);
        const times = (this.searchTimes.get(account) ?? []).filter((t) => t > now - 1000);
        this.searchTimes.set(account, times);
        if (times.length >= this.searchesPerSecond) {
          return { limited: { status: 429, body: rateLimitBody('SECONDLY'), headers: this.searchRetryAfter ? { 'retry-after': '1' } : {} }, headers };
        }
        times.push(now);
      }
    } else if (this.requestsPerTenSeconds > 0) {
      const window = this.rateLimitWindowMs;
      const times = (this.burstTimes.get(token) ?? []).filter((t) => t > now - window);
      this.burstTimes.set(token, times);
      if (times.length >= this.requestsPerTenSeconds) {
        const retryAfterSeconds = Math.max(1, Math.ceil((times[times.length - this.requestsPerTenSeconds]! + window - now) / 1000));
        return {
          limited: { status: 429, body: rateLimitBody('TEN_SECONDLY_ROLLING'), headers: { ...(this.burstRetryAfter ? { 'retry-after': String(retryAfterSeconds) } : {}), ...this.burstHeaders(0) } },
          headers,
        };
      }
      times.push(now);
      headers = this.burstHeaders(this.requestsPerTenSeconds - times.length);
    }
    if (this.requestsPerDay > 0) {
      const used = (this.dayCounts.get(token) ?? 0) + 1;
      this.dayCounts.set(token, used);
      if (!search) headers = { ...headers, 'x-hubspot-ratelimit-daily': String(this.requestsPerDay), 'x-hubspot-ratelimit-daily-remaining': String(this.requestsPerDay - used) };
    }
    return { headers };
  }

  private burstHeaders(remaining: number): Record<string, string> {
    return {
      'x-hubspot-ratelimit-interval-milliseconds': String(this.rateLimitWindowMs),
      'x-hubspot-ratelimit-max': String(this.requestsPerTenSeconds),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, remaining)),
    };
  }

  // ---- contacts -------------------------------------------------------------------------------

  private view(contact: FakeContact, wanted?: string[]): Record<string, unknown> {
    const names = wanted && wanted.length > 0 ? wanted : ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
    const all: Record<string, string> = { ...contact.properties, hs_object_id: contact.id, createdate: contact.createdAt, lastmodifieddate: contact.updatedAt };
    return { id: contact.id, properties: Object.fromEntries(names.map((n) => [n, all[n] ?? null])), createdAt: contact.createdAt, updatedAt: contact.updatedAt, archived: false };
  }

  private createContact(request: FakeRequest): FakeReply {
    const parsed = createSchema.safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    const contact = this.addContact(parsed.data.properties);
    if (this.searchLagMs > 0) this.searchableAt.set(contact.id, Date.now() + this.searchLagMs);
    return { status: 201, body: this.view(contact), headers: { location: `/crm/v3/objects/contacts/${contact.id}` } };
  }

  private readContact(request: FakeRequest): FakeReply {
    const contact = this.resolve(request.params.id!);
    if (!contact) return notFound();
    return { status: 200, body: this.view(contact, request.query.get('properties')?.split(',').filter(Boolean)) };
  }

  private updateContact(request: FakeRequest): FakeReply {
    const contact = this.contacts.get(request.params.id!);
    if (!contact) return notFound();
    const parsed = z.object({ properties: z.record(z.string(), z.string()) }).safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    Object.assign(contact.properties, parsed.data.properties);
    contact.updatedAt = new Date().toISOString();
    return { status: 200, body: this.view(contact) };
  }

  private search(request: FakeRequest): FakeReply {
    const parsed = searchSchema.safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    const { filterGroups: groups, properties, limit, after } = parsed.data;
    const filterCount = groups.reduce((n, g) => n + g.filters.length, 0);
    if (groups.length > MAX_FILTER_GROUPS || filterCount > MAX_FILTERS || groups.some((g) => g.filters.length > MAX_FILTERS_PER_GROUP)) {
      return error(400, 'VALIDATION_ERROR', `Too many filters: at most ${MAX_FILTER_GROUPS} filter groups, ${MAX_FILTERS_PER_GROUP} filters per group and ${MAX_FILTERS} in all`);
    }
    const tooMany = groups.flatMap((g) => g.filters).find((f) => (f.values?.length ?? 0) > this.maxInValues);
    if (tooMany) return error(400, 'VALIDATION_ERROR', `${tooMany.operator} on ${tooMany.propertyName} takes at most ${this.maxInValues} values`);
    const now = Date.now();
    const compiled = groups.map((g) => g.filters.map((f) => ({ ...f, set: f.values ? new Set(f.values.map((v) => v.toLowerCase())) : undefined })));
    const matches = [...this.contacts.values()]
      .filter((c) => (this.searchableAt.get(c.id) ?? 0) <= now)
      .filter((c) => compiled.length === 0 || compiled.some((g) => g.every((f) => matchesFilter(c.properties[f.propertyName], f))))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const offset = Number(after) || 0;
    if (offset >= MAX_SEARCH_RESULTS) return error(400, 'VALIDATION_ERROR', 'The search endpoints are limited to 10,000 total results for any given query');
    const page = matches.slice(offset, offset + limit);
    return {
      status: 200,
      body: {
        total: matches.length,
        results: page.map((c) => this.view(c, properties)),
        ...(offset + limit < matches.length ? { paging: { next: { after: String(offset + limit) } } } : {}),
      },
    };
  }

  private batchRead(request: FakeRequest): FakeReply {
    const parsed = batchReadSchema.safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    const { inputs, properties, idProperty } = parsed.data;
    if (inputs.length > MAX_BATCH_INPUTS) return error(400, 'VALIDATION_ERROR', `Batch input cannot contain more than ${MAX_BATCH_INPUTS} inputs`);
    const startedAt = new Date().toISOString();
    const found = new Map<string, FakeContact>();
    const missing: string[] = [];
    for (const { id } of inputs) {
      const contact =
        idProperty && idProperty !== 'hs_object_id' ? [...this.contacts.values()].find((c) => (c.properties[idProperty] ?? '').toLowerCase() === id.toLowerCase()) : this.resolve(id);
      if (contact) found.set(contact.id, contact);
      else if (!missing.includes(id)) missing.push(id);
    }
    const base = { status: 'COMPLETE', results: [...found.values()].map((c) => this.view(c, properties)), startedAt, completedAt: new Date().toISOString() };
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

  /** GDPR delete: the contact, with everything attached to it (its threads and their messages), goes. */
  private gdprDelete(request: FakeRequest): FakeReply {
    const parsed = gdprDeleteSchema.safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    const { objectId, idProperty } = parsed.data;
    const contact =
      idProperty && idProperty !== 'hs_object_id' ? [...this.contacts.values()].find((c) => (c.properties[idProperty] ?? '').toLowerCase() === objectId.toLowerCase()) : this.resolve(objectId);
    if (!contact) return notFound();
    this.contacts.delete(contact.id);
    for (const [old, into] of this.mergedInto) if (into === contact.id) this.mergedInto.delete(old);
    this.gdprDeleted.push(contact.id);
    for (const message of this.messagesOfContact(contact.id)) this.conversationMessages.delete(message.id);
    for (const thread of [...this.threads.values()].filter((t) => t.contactId === contact.id)) this.dropThread(thread.id);
    return { status: 204 };
  }

  // ---- custom channels and threads -----------------------------------------------------------

  private publishMessage(request: FakeRequest): FakeReply {
    const channelId = request.params.channelId!;
    if (!/^\d+$/.test(channelId)) return invalid('channelId must be an integer');
    const accounts = this.customChannels.get(channelId);
    if (!accounts) return error(404, 'OBJECT_NOT_FOUND', `Custom channel ${channelId} not found`);
    const parsed = publishSchema.safeParse(request.body);
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    const m = parsed.data;
    if (m.text.trim() === '' && m.attachments.length === 0) return invalid('a message needs text or attachments');
    if (!accounts.has(m.channelAccountId)) return error(400, 'VALIDATION_ERROR', 'The channel account is not connected to this channel');
    if (m.integrationIdempotencyId) {
      const first = [...this.conversationMessages.values()].find((x) => x.channelId === channelId && x.integrationIdempotencyId === m.integrationIdempotencyId);
      if (first) {
        this.republished.push(m.integrationIdempotencyId);
        return { status: 201, body: this.messageView(first) };
      }
    }
    const resolved = m.preResolvedContacts?.contacts ?? [];
    for (const c of resolved) if (!this.contacts.has(String(c.contactVid))) return error(400, 'VALIDATION_ERROR', `Contact ${c.contactVid} does not exist`);
    const contactId = resolved[0] ? String(resolved[0].contactVid) : undefined;
    return { status: 201, body: this.messageView(this.storeMessage(channelId, m, contactId)) };
  }

  /**
   * Seeds a message as a publish over the channel would leave it (for benchmarks and tests that need a
   * conversation without making the calls): attached to `contactId` when given, as `preResolvedContacts` does.
   */
  addPublishedMessage(input: { channelId: string; channelAccountId: string; contactId?: string; integrationThreadId: string; phone: string; text: string }): FakeConversationMessage {
    this.addCustomChannel(input.channelId, input.channelAccountId);
    const person = { deliveryIdentifier: { type: 'HS_PHONE_NUMBER' as const, value: input.phone } };
    const business = { deliveryIdentifier: { type: 'CHANNEL_SPECIFIC_OPAQUE_ID' as const, value: input.channelAccountId } };
    return this.storeMessage(
      input.channelId,
      { attachments: [], channelAccountId: input.channelAccountId, messageDirection: 'INCOMING', recipients: [business], senders: [person], text: input.text, timestamp: new Date().toISOString(), integrationThreadId: input.integrationThreadId },
      input.contactId,
    );
  }

  private storeMessage(channelId: string, m: z.infer<typeof publishSchema>, contactId: string | undefined): FakeConversationMessage {
    const external = m.messageDirection === 'INCOMING' ? m.senders[0]! : m.recipients[0]!;
    const key = `${m.channelAccountId}|${m.integrationThreadId ?? `${external.deliveryIdentifier.type}:${external.deliveryIdentifier.value}`}`;
    const now = new Date().toISOString();
    let thread = [...this.threads.values()].find((t) => t.channelId === channelId && t.key === key && !t.archived);
    if (!thread) {
      thread = {
        id: String(this.nextConversationId++),
        channelId,
        channelAccountId: m.channelAccountId,
        inboxId: '1',
        key,
        visitorId: `V-${this.nextVisitor++}`,
        status: 'OPEN',
        archived: false,
        createdAt: now,
        latestMessageTimestamp: m.timestamp,
      };
      this.threads.set(thread.id, thread);
    }
    if (contactId && !thread.contactId) thread.contactId = contactId;
    thread.latestMessageTimestamp = m.timestamp;
    const message: FakeConversationMessage = {
      id: String(this.nextConversationId++),
      channelId,
      channelAccountId: m.channelAccountId,
      threadId: thread.id,
      direction: m.messageDirection,
      text: m.text,
      senders: m.senders,
      recipients: m.recipients,
      timestamp: m.timestamp,
      ...(m.integrationIdempotencyId ? { integrationIdempotencyId: m.integrationIdempotencyId } : {}),
      ...(contactId ? { contactId } : {}),
      createdAt: now,
    };
    this.conversationMessages.set(message.id, message);
    return message;
  }

  private readChannelMessage(request: FakeRequest): FakeReply {
    const message = this.conversationMessages.get(request.params.messageId!);
    if (!message || message.channelId !== request.params.channelId) return notFound();
    return { status: 200, body: this.messageView(message) };
  }

  private threadView(t: FakeThread): Record<string, unknown> {
    return {
      id: t.id,
      archived: t.archived,
      associatedContactId: t.contactId ?? t.visitorId,
      createdAt: t.createdAt,
      inboxId: t.inboxId,
      originalChannelAccountId: t.channelAccountId,
      originalChannelId: t.channelId,
      spam: false,
      status: t.status,
      latestMessageTimestamp: t.latestMessageTimestamp,
    };
  }

  /** `GET threads`: archived threads only with `archived=true`, never mixed; contact filter rules as documented. */
  private listThreads(request: FakeRequest): FakeReply {
    const q = request.query;
    const contactId = q.get('associatedContactId');
    const status = q.get('threadStatus');
    if (contactId !== null && q.getAll('inboxId').length > 0) return invalid('associatedContactId cannot be used in conjunction with inboxId');
    if (contactId !== null && status === null) return invalid('threadStatus must be provided with associatedContactId');
    if (status !== null && status !== 'OPEN' && status !== 'CLOSED') return invalid('threadStatus must be OPEN or CLOSED');
    if (contactId !== null && !/^\d+$/.test(contactId)) return invalid('associatedContactId must be an integer');
    const archived = q.get('archived') === 'true';
    const limit = Math.min(Number(q.get('limit') ?? 100) || 100, 500);
    const after = Number(q.get('after') ?? 0) || 0;
    const all = [...this.threads.values()]
      .filter((t) => t.archived === archived && (contactId === null || t.contactId === contactId) && (status === null || t.status === status))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const page = all.slice(after, after + limit);
    return { status: 200, body: { results: page.map((t) => this.threadView(t)), ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}) } };
  }

  private readThread(request: FakeRequest): FakeReply {
    const thread = this.threads.get(request.params.threadId!);
    const archived = request.query.get('archived') === 'true';
    if (!thread || thread.archived !== archived) return notFound();
    return { status: 200, body: this.threadView(thread) };
  }

  private updateThread(request: FakeRequest): FakeReply {
    const thread = this.threads.get(request.params.threadId!);
    if (!thread) return notFound();
    const parsed = threadPatchSchema.safeParse(request.body ?? {});
    if (!parsed.success) return invalid(firstIssue(parsed.error));
    if (parsed.data.archived === false && thread.archived) {
      thread.archived = false;
      delete thread.archivedAt;
    }
    if (parsed.data.status) thread.status = parsed.data.status;
    return { status: 200, body: this.threadView(thread) };
  }

  /** DELETE: archives the thread; HubSpot deletes it for good 30 days later (`purgeArchivedThreads`). */
  private archiveThread(request: FakeRequest): FakeReply {
    const id = request.params.threadId!;
    if (!/^\d+$/.test(id)) return invalid('threadId must be an integer');
    const thread = this.threads.get(id);
    if (!thread) return notFound();
    if (!thread.archived) {
      thread.archived = true;
      thread.archivedAt = Date.now();
    }
    return { status: 204 };
  }

  private threadMessages(request: FakeRequest): FakeReply {
    const thread = this.threads.get(request.params.threadId!);
    if (!thread) return notFound();
    const results = [...this.conversationMessages.values()].filter((m) => m.threadId === thread.id).map((m) => this.messageView(m));
    return { status: 200, body: { results } };
  }

  private dropThread(threadId: string): void {
    this.threads.delete(threadId);
    for (const message of [...this.conversationMessages.values()]) if (message.threadId === threadId) this.conversationMessages.delete(message.id);
  }

  private messageView(m: FakeConversationMessage): Record<string, unknown> {
    const thread = this.threads.get(m.threadId);
    return {
      id: m.id,
      type: 'MESSAGE',
      archived: thread?.archived ?? false,
      attachments: [],
      channelAccountId: m.channelAccountId,
      channelId: m.channelId,
      client: { clientType: 'INTEGRATION', integrationAppId: 1 },
      conversationsThreadId: m.threadId,
      createdAt: m.createdAt,
      createdBy: m.direction === 'INCOMING' ? (m.contactId ? `V-${m.contactId}` : (thread?.visitorId ?? 'V-0')) : 'I-1',
      direction: m.direction,
      recipients: m.recipients.map((r) => ({ deliveryIdentifier: r.deliveryIdentifier, ...(r.name ? { name: r.name } : {}) })),
      senders: m.senders.map((s) => ({ deliveryIdentifier: s.deliveryIdentifier, ...(s.name ? { name: s.name } : {}), ...(s.senderActorId ? { actorId: s.senderActorId } : {}) })),
      text: m.text,
      truncationStatus: 'NOT_TRUNCATED',
      status: { statusType: 'RECEIVED' },
    };
  }
}

/** One filter against one property value, as HubSpot compares strings: case-insensitive, exact unless a token operator. */
function matchesFilter(raw: string | undefined, f: Filter & { set?: Set<string> | undefined }): boolean {
  const value = raw?.toLowerCase();
  const wanted = f.value?.toLowerCase();
  const tokens = (s: string) => s.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return value !== undefined && value !== '';
    case 'NOT_HAS_PROPERTY':
      return value === undefined || value === '';
    case 'EQ':
      return value !== undefined && value === wanted;
    case 'NEQ':
      return value !== wanted;
    case 'IN':
      return value !== undefined && (f.set?.has(value) ?? false);
    case 'NOT_IN':
      return value === undefined || !(f.set?.has(value) ?? false);
    case 'CONTAINS_TOKEN':
      return value !== undefined && wanted !== undefined && tokens(value).includes(wanted);
    case 'NOT_CONTAINS_TOKEN':
      return value === undefined || wanted === undefined || !tokens(value).includes(wanted);
    default:
      return false;
  }
}

export async function startHubSpotFake(options: HubSpotFakeOptions = {}): Promise<HubSpotFake> {
  return new HubSpotFake(options).start();
}
