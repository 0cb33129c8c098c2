import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server that behaves like HubSpot's CRM API where Flowkeeper touches it: contacts
 * create, read, search (filterGroups with EQ and IN on any property, paging, HubSpot's search limits and
 * its per-token rate limit of 4 searches a second, answered with HubSpot's own 429 body and
 * Retry-After), GDPR delete (204; 404 for an unknown id), bearer-token checks (401), and switches for
 * faults: the next N requests answer 500, 429 or hang.
 *
 * Extensible: `route(method, pattern, handler)` adds endpoints (custom channels, conversations) without
 * touching this file's routes; later routes are tried first.
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

export interface HubSpotFakeOptions {
  /** Tokens accepted (any non-empty token when omitted). */
  tokens?: string[];
  /** Search requests per second per token before 429 (HubSpot: about 4-5). 0 turns the limit off. */
  searchesPerSecond?: number;
  /** General requests per 10 seconds per token before 429 (HubSpot: 100-190 by tier). 0 (default) is off. */
  requestsPerTenSeconds?: number;
}

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
    this.route('POST', '/crm/v3/objects/contacts', (r) => this.createContact(r));
    this.route('POST', '/crm/v3/objects/contacts/search', (r) => this.search(r));
    this.route('POST', '/crm/v3/objects/contacts/gdpr-delete', (r) => this.gdprDelete(r));
    this.route('GET', '/crm/v3/objects/contacts/:id', (r) => this.readContact(r));
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
    const limited = this.rateLimited(token, url.pathname);
    if (limited) return this.reply(res, method, url.pathname, token, body, limited);

    for (const route of this.routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      const params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)]));
      const reply = await route.handler({ method, path: url.pathname, params, query: url.searchParams, body, token });
      return this.reply(res, method, url.pathname, token, body, reply);
    }
    return this.reply(res, method, url.pathname, token, body, { status: 404, body: { status: 'error', message: 'not found', category: 'OBJECT_NOT_FOUND' } });
  }

  private reply(res: ServerResponse, method: string, path: string, token: string | undefined, body: unknown, reply: FakeReply): void {
    this.requests.push({ method, path, status: reply.status, ...(token ? { token } : {}), body });
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

  private rateLimited(token: string, path: string): FakeReply | undefined {
    const now = Date.now();
    if (this.requestsPerTenSeconds > 0) {
      const times = (this.requestTimes.get(token) ?? []).filter((t) => t > now - 10_000);
      this.requestTimes.set(token, times);
      if (times.length >= this.requestsPerTenSeconds) {
        return { status: 429, body: { ...RATE_LIMIT_BODY('TEN_SECONDLY_ROLLING'), message: 'You have reached your ten_secondly_rolling limit.' }, headers: { 'retry-after': '1' } };
      }
      times.push(now);
    }
    if (path.endsWith('/search') && this.searchesPerSecond > 0) {
      const times = (this.searchTimes.get(token) ?? []).filter((t) => t > now - 1000);
      this.searchTimes.set(token, times);
      if (times.length >= this.searchesPerSecond) return { status: 429, body: RATE_LIMIT_BODY('SECONDLY'), headers: { 'retry-after': '1' } };
      times.push(now);
    }
    return undefined;
  }

  private createContact(request: FakeRequest): FakeReply {
    const properties = (request.body as { properties?: Record<string, string> } | undefined)?.properties;
    if (!properties || typeof properties !== 'object') return { status: 400, body: { status: 'error', message: 'properties is required', category: 'VALIDATION_ERROR' } };
    const contact = this.addContact(properties);
    return { status: 201, body: this.view(contact), headers: { location: `/crm/v3/objects/contacts/${contact.id}` } };
  }

  private readContact(request: FakeRequest): FakeReply {
    const contact = this.contacts.get(request.params.id!);
    if (!contact) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    const wanted = request.query.get('properties')?.split(',');
    return { status: 200, body: this.view(contact, wanted) };
  }

  private gdprDelete(request: FakeRequest): FakeReply {
    const objectId = (request.body as { objectId?: unknown } | undefined)?.objectId;
    if (typeof objectId !== 'string') return { status: 400, body: { status: 'error', message: 'objectId is required', category: 'VALIDATION_ERROR' } };
    if (!this.contacts.delete(objectId)) return { status: 404, body: { status: 'error', message: 'resource not found', category: 'OBJECT_NOT_FOUND', correlationId: randomUUID() } };
    this.gdprDeleted.push(objectId);
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
    const matches = [...this.contacts.values()].filter(
      (c) =>
        groups.length === 0 ||
        groups.some((g) =>
          (g.filters ?? []).every((f) => {
            const value = c.properties[f.propertyName];
            if (value === undefined) return false;
            return f.operator === 'EQ' ? value.toLowerCase() === String(f.value).toLowerCase() : (f.values ?? []).some((v) => v.toLowerCase() === value.toLowerCase());
          }),
        ),
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
