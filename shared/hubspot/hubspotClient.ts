import type { Clock } from '../domain/clock';
import { systemClock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import { hubspotTokenSecret, type SecretProvider } from '../secrets/secretProvider';
import { HubSpotError } from './hubspotError';
import { PortalPacer, type Lane, type Ticket } from './pacer';

export { HubSpotError, type HubSpotErrorKind } from './hubspotError';

/**
 * A small typed client for HubSpot's REST API over `fetch` (not `@hubspot/api-client`: its built-in
 * retry would sleep inside a queue handler and fight the queue-based backoff; a 5xx here becomes a
 * rescheduled message, not a wait).
 *
 * Sources (read 2026-12-04): API usage guidelines,
 * https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines (undated): 429 bodies
 * carry `errorType: "RATE_LIMIT"` and a `policyName` (`TEN_SECONDLY_ROLLING`, `DAILY`; searches answer
 * `SECONDLY`), the daily limit resets at midnight in the account's time zone, Retry-After is not promised;
 * error bodies (`Error` in every v3 OpenAPI spec of github.com/HubSpot/HubSpot-public-api-spec-collection)
 * carry `category`, `message`, `correlationId`.
 *
 * What it does: puts the tenant's private-app token on each call; paces every call through one
 * `PortalPacer` per token (first come, first served; searches in their own lane); retries a call HubSpot
 * turned away with a 429 in its place at the head of the line when Retry-After is short (up to 2 s, and
 * within the caller's wait budget; a 429 means HubSpot did not process the call, so a retry is safe for
 * every call type), and otherwise hands the 429 back for the queue to reschedule; and
 * turns every failure into a `HubSpotError` whose message names the operation and the status, never a
 * body (which would hold phone numbers or names).
 */
/** The longest Retry-After the client waits out itself, retrying the call at the head of its lane. */
export const IN_PLACE_RETRY_MAX_MS = 2000;

export interface HubSpotClientOptions {
  baseUrl: string;
  secrets: SecretProvider;
  fetch?: typeof fetch;
  clock?: Clock;
  /** A call without an answer after this long is a transient failure. */
  timeoutMs?: number;
  /** HubSpot allows 5 search requests per second per account. */
  searchesPerSecond?: number;
  /**
   * Longest a call waits for its turn (and for a 429's Retry-After) before it gives up with
   * 'rate-limited' and the time to come back (the queue then reschedules the work). Default 15 s.
   */
  maxPacingWaitMs?: number;
  /**
   * The burst limit every call is paced under: at most this many calls per `intervalMs` per token
   * (HubSpot: 100 per 10 s, 190 on Professional/Enterprise, 250 with the limit pack). A lower value leaves
   * room for other integrations of the same app; a higher `X-HubSpot-RateLimit-Max` never raises it.
   */
  requestsPerInterval?: number;
  /** The burst window, until `X-HubSpot-RateLimit-Interval-Milliseconds` says otherwise. Default 10 000. */
  intervalMs?: number;
}

export interface HubSpotResponse<T> {
  status: number;
  body: T | undefined;
}

/** A place granted ahead of the call (`reserve`), so the caller can fill the call (a search, a batch read) meanwhile. */
export interface Reservation {
  readonly ticket: Ticket;
  readonly deadline: number;
}


export interface HubSpotRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  body?: unknown;
  /** A CRM search (its own limit). */
  search?: boolean;
  /** The place `reserve` granted for this call (its lane must match `search`). */
  reservation?: Reservation;
  /**
   * Where the call stands in line: when the work it is part of arrived (ms since epoch; a privacy
   * request's receipt). Default: now. Older work goes first, so the portal serves tasks in arrival order.
   */
  order?: number;
  /** Statuses returned to the caller instead of failing (404 on a delete means "already gone"). */
  accept?: number[];
}

export class HubSpotClient {
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxWaitMs: number;
  private readonly pacers = new Map<string, PortalPacer>();

  constructor(private readonly options: HubSpotClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxWaitMs = options.maxPacingWaitMs ?? 15_000;
  }

  /**
   * One HTTP call as the tenant. `operation` ("contact search") is what error messages say. Statuses in
   * `accept` are returned; 429 (after the retries its Retry-After allows), 5xx, timeouts and network
   * errors are transient or rate-limited; other 4xx are permanent (bad token, bad request).
   */
  async call<T>(tenantId: TenantId, operation: string, request: HubSpotRequest): Promise<HubSpotResponse<T>> {
    const { token, secretName } = await this.token(tenantId);
    const pacer = this.pacerFor(token);
    const lane: Lane = request.search ? 'search' : 'burst';
    const reservation = request.reservation;
    const deadline = reservation?.deadline ?? Date.now() + this.maxWaitMs;
    let ticket = reservation?.ticket ?? (await pacer.acquire(lane, operation, deadline, request.order !== undefined ? { order: request.order } : {}));
    for (;;) {
      const { response, text } = await this.send(ticket, token, operation, request);
      if (lane === 'burst') pacer.observe(response.headers, ticket.departedAt);
      if (response.status === 429) {
        const error = errorFor(response, text, operation, secretName, this.clock, pacer.interval);
        const wait = error.retryAfterMs ?? 1000;
        if (error.policy === 'DAILY') {
          pacer.block('burst', wait);
          pacer.block('search', wait);
          throw error;
        }
        pacer.block(lane, wait);
        // A short Retry-After is waited out in place (keeping the call's turn); a longer one goes back to
        // the caller, whose queue message is rescheduled for it (a handler never sleeps for long).
        if (wait > IN_PLACE_RETRY_MAX_MS || Date.now() + wait > deadline) throw error;
        try {
          ticket = await pacer.acquire(lane, operation, deadline, { front: true });
        } catch {
          throw error;
        }
        continue;
      }
      if (response.ok || request.accept?.includes(response.status)) {
        try {
          return { status: response.status, body: text ? (JSON.parse(text) as T) : undefined };
        } catch {
          throw new HubSpotError('transient', `HubSpot sent an unreadable answer (${response.status}) on ${operation}`, response.status);
        }
      }
      throw errorFor(response, text, operation, secretName, this.clock, pacer.interval);
    }
  }

  /**
   * Waits for the tenant's next place in a lane; pass it as `reservation` to the call that uses it.
   * Reserving first lets a caller fill one call (a search, a batch read) with everything that arrived
   * while it waited in line.
   */
  async reserve(tenantId: TenantId, operation: string, options: { search?: boolean; order?: number } = {}): Promise<Reservation> {
    const { token } = await this.token(tenantId);
    const deadline = Date.now() + this.maxWaitMs;
    return { ticket: await this.pacerFor(token).acquire(options.search ? 'search' : 'burst', operation, deadline, options.order !== undefined ? { order: options.order } : {}), deadline };
  }

  /** How many calls of the tenant wait for their turn (0 when its portal has room: no reason to hold a call back). */
  async backlog(tenantId: TenantId, options: { search?: boolean } = {}): Promise<number> {
    const { token } = await this.token(tenantId);
    return this.pacers.get(token)?.waiting(options.search ? 'search' : 'burst') ?? 0;
  }

  private async send(ticket: Ticket, token: string, operation: string, request: HubSpotRequest): Promise<{ response: Response; text: string }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.fetch(`${this.options.baseUrl.replace(/\/+$/, '')}${request.path}`, {
        method: request.method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal: controller.signal,
      });
      const text = await response.text();
      return { response, text };
    } catch (error) {
      if (controller.signal.aborted) throw new HubSpotError('transient', `HubSpot did not answer within ${this.timeoutMs} ms on ${operation}`);
      throw new HubSpotError('transient', `HubSpot could not be reached on ${operation} (${networkCode(error)})`);
    } finally {
      clearTimeout(timer);
      ticket.done();
    }
  }

  private async token(tenantId: TenantId): Promise<{ token: string; secretName: string }> {
    const secretName = hubspotTokenSecret(tenantId);
    const token = await this.options.secrets.get(secretName);
    if (!token) throw new HubSpotError('permanent', `HubSpot token ${secretName} is not set for this tenant`);
    return { token, secretName };
  }

  private pacerFor(token: string): PortalPacer {
    let pacer = this.pacers.get(token);
    if (!pacer) {
      pacer = new PortalPacer({
        max: this.options.requestsPerInterval ?? 100,
        intervalMs: this.options.intervalMs ?? 10_000,
        searchesPerSecond: this.options.searchesPerSecond ?? 5,
      });
      this.pacers.set(token, pacer);
    }
    return pacer;
  }
}

/** HubSpot's 429 body names the policy; only that (an enum) goes into the message. */
function errorFor(response: Response, text: string, operation: string, secretName: string, clock: Clock, intervalMs: number): HubSpotError {
  const status = response.status;
  if (status === 429) {
    const policy = /"policyName"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
    const retryAfterMs = retryAfter(response.headers.get('retry-after'), clock) ?? defaultRetryAfterMs(policy, intervalMs);
    return new HubSpotError('rate-limited', `HubSpot answered 429${policy ? ` (${policy})` : ''} on ${operation}; retry after ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`, 429, retryAfterMs, policy);
  }
  if (status >= 500 || status === 408) return new HubSpotError('transient', `HubSpot answered ${status} on ${operation}`, status);
  if (status === 401 || status === 403) {
    const scopes = operation.startsWith('custom channel') ? 'conversations.custom_channels' : operation.startsWith('thread') ? 'conversations' : 'crm.objects.contacts';
    return new HubSpotError('permanent', `HubSpot answered ${status} on ${operation}: check the tenant's HubSpot token (${secretName}) and its ${scopes} scopes`, status);
  }
  const category = /"category"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  return new HubSpotError('permanent', `HubSpot answered ${status}${category ? ` (${category})` : ''} on ${operation}`, status);
}

/**
 * A 429 without Retry-After: the daily limit resets at midnight in the portal's time zone (unknown here),
 * so come back in an hour and ask again; the search limit after a second; the burst limit after a tenth
 * of its window (the window is full, and the oldest call in it, ours or not, leaves within it: asking
 * again that often costs at most one more 429, which HubSpot does not count).
 */
function defaultRetryAfterMs(policy: string | undefined, intervalMs: number): number {
  if (policy === 'DAILY') return 3_600_000;
  if (policy === 'SECONDLY') return 1000;
  return Math.max(250, Math.round(intervalMs / 10));
}

/** Retry-After in seconds (HubSpot's form) or as an HTTP date. */
export function retryAfter(header: string | null, clock: Clock = systemClock): number | undefined {
  if (!header) return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return Math.round(Number(header) * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now().getTime());
}

function networkCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'network error';
}
