import type { Clock } from '../domain/clock';
import { systemClock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import { hubspotTokenSecret, type SecretProvider } from '../secrets/secretProvider';

/**
 * A small typed client for HubSpot's REST API over `fetch`. Not `@hubspot/api-client`: its v14 needs
 * Node 22 (Flowkeeper runs on Node 20), and its built-in retry would sleep inside a queue handler and
 * fight the queue-based backoff (a 429 or 5xx here becomes a rescheduled message, not a wait).
 *
 * The client does four things: puts the tenant's private-app token on each call, keeps search calls
 * under HubSpot's per-token search limit and every call under the burst limit (N per rolling interval,
 * learnt from the `X-HubSpot-RateLimit-*` headers; a short pacing wait, never longer than
 * `maxPacingWaitMs`), honours a 429's Retry-After for every later call of that token, and turns every
 * failure into a `HubSpotError` whose message names the operation and status, never a request or
 * response body (which would hold phone numbers or names).
 */
export type HubSpotErrorKind = 'rate-limited' | 'transient' | 'permanent';

export class HubSpotError extends Error {
  constructor(
    readonly kind: HubSpotErrorKind,
    message: string,
    readonly status?: number,
    /** For 'rate-limited': when HubSpot said to come back (Retry-After), in milliseconds. */
    readonly retryAfterMs?: number,
    /** For a 429: the policy HubSpot named (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`). */
    readonly policy?: string,
  ) {
    super(message);
    this.name = 'HubSpotError';
  }
}

export interface HubSpotClientOptions {
  baseUrl: string;
  secrets: SecretProvider;
  fetch?: typeof fetch;
  clock?: Clock;
  /** A call without an answer after this long is a transient failure. */
  timeoutMs?: number;
  /** HubSpot allows about 4-5 search requests per second per token; we stay under it. */
  searchesPerSecond?: number;
  /** Longest a call waits for its slot before it gives up with 'rate-limited' (and is rescheduled). */
  maxPacingWaitMs?: number;
  /**
   * The burst limit every call is paced under until HubSpot's headers say otherwise: at most this many
   * calls per `intervalMs` per token (HubSpot: 100 per 10 s, 190 on Professional/Enterprise). A lower
   * value leaves room for other integrations of the same app; a higher `X-HubSpot-RateLimit-Max` never
   * raises it.
   */
  requestsPerInterval?: number;
  /** The burst window, until `X-HubSpot-RateLimit-Interval-Milliseconds` says otherwise. Default 10 000. */
  intervalMs?: number;
}

export interface HubSpotResponse<T> {
  status: number;
  body: T | undefined;
}

export class HubSpotClient {
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly pacers = new Map<string, Pacer>();
  private readonly bursts = new Map<string, BurstPacer>();

  constructor(private readonly options: HubSpotClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * One HTTP call as the tenant. `operation` ("contact search") is what error messages say. Statuses in
   * `accept` are returned to the caller (404 on a delete means "already gone"); 429, 5xx, timeouts and
   * network errors are transient; other 4xx are permanent (bad token, bad request).
   */
  async call<T>(
    tenantId: TenantId,
    operation: string,
    request: { method: 'GET' | 'POST' | 'DELETE' | 'PATCH'; path: string; body?: unknown; search?: boolean | 'reserved'; accept?: number[] },
  ): Promise<HubSpotResponse<T>> {
    const { token, secretName } = await this.token(tenantId);
    if (request.search === true) await this.pacerFor(token).slot(operation);
    const burst = this.burstFor(token);
    const sent = await burst.slot(operation);

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetch(`${this.options.baseUrl.replace(/\/+$/, '')}${request.path}`, {
        method: request.method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal: controller.signal,
      });
      sent();
    } catch (error) {
      sent();
      clearTimeout(timer);
      if (controller.signal.aborted) throw new HubSpotError('transient', `HubSpot did not answer within ${this.timeoutMs} ms on ${operation}`);
      throw new HubSpotError('transient', `HubSpot could not be reached on ${operation} (${networkCode(error)})`);
    }
    // Search answers carry no rate-limit headers (HubSpot documents it); the others keep the pacer in step.
    if (!request.path.endsWith('/search')) burst.observe(response.headers);
    try {
      const text = await response.text();
      if (response.status === 429) {
        const error = errorFor(response, text, operation, secretName, this.clock);
        // Every call of this token waits as long as HubSpot said, not only this one. Searches have a
        // limit of their own: their 429 holds back nothing else.
        if (!request.path.endsWith('/search') && error.policy !== 'SECONDLY') burst.blockFor(error.retryAfterMs ?? 0);
        throw error;
      }
      if (response.ok || request.accept?.includes(response.status)) {
        return { status: response.status, body: text ? (JSON.parse(text) as T) : undefined };
      }
      throw errorFor(response, text, operation, secretName, this.clock);
    } catch (error) {
      if (error instanceof HubSpotError) throw error;
      if (controller.signal.aborted) throw new HubSpotError('transient', `HubSpot did not answer within ${this.timeoutMs} ms on ${operation}`);
      throw new HubSpotError('transient', `HubSpot sent an unreadable answer (${response.status}) on ${operation}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for the tenant's next search slot; the caller's next call with `search: 'reserved'` uses it.
   * Reserving first lets a caller fill one search with everything that arrived while it waited.
   */
  async reserveSearch(tenantId: TenantId, operation: string): Promise<void> {
    const { token } = await this.token(tenantId);
    await this.pacerFor(token).slot(operation);
  }

  private async token(tenantId: TenantId): Promise<{ token: string; secretName: string }> {
    const secretName = hubspotTokenSecret(tenantId);
    const token = await this.options.secrets.get(secretName);
    if (!token) throw new HubSpotError('permanent', `HubSpot token ${secretName} is not set for this tenant`);
    return { token, secretName };
  }

  private burstFor(token: string): BurstPacer {
    let pacer = this.bursts.get(token);
    if (!pacer) {
      pacer = new BurstPacer(this.options.requestsPerInterval ?? 100, this.options.intervalMs ?? 10_000, this.options.maxPacingWaitMs ?? 2000);
      this.bursts.set(token, pacer);
    }
    return pacer;
  }

  private pacerFor(token: string): Pacer {
    let pacer = this.pacers.get(token);
    if (!pacer) {
      pacer = new Pacer(this.options.searchesPerSecond ?? 4, this.options.maxPacingWaitMs ?? 2000);
      this.pacers.set(token, pacer);
    }
    return pacer;
  }
}

/** HubSpot's 429 body names the policy; only that (an enum) goes into the message. */
function errorFor(response: Response, text: string, operation: string, secretName: string, clock: Clock): HubSpotError {
  const status = response.status;
  if (status === 429) {
    const policy = /"policyName"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
    const retryAfterMs = retryAfter(response.headers.get('retry-after'), clock) ?? defaultRetryAfterMs(policy, response.headers);
    return new HubSpotError('rate-limited', `HubSpot answered 429${policy ? ` (${policy})` : ''} on ${operation}; retry after ${Math.ceil(retryAfterMs / 1000)} s`, 429, retryAfterMs, policy);
  }
  if (status >= 500 || status === 408) return new HubSpotError('transient', `HubSpot answered ${status} on ${operation}`, status);
  if (status === 401 || status === 403) {
    return new HubSpotError('permanent', `HubSpot answered ${status} on ${operation}: check the tenant's HubSpot token (${secretName}) and its ${operation.startsWith('custom channel') ? 'conversations.custom_channels' : 'crm.objects.contacts'} scopes`, status);
  }
  const category = /"category"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  return new HubSpotError('permanent', `HubSpot answered ${status}${category ? ` (${category})` : ''} on ${operation}`, status);
}

/**
 * A 429 without Retry-After: the daily limit resets at midnight in the portal's time zone (unknown
 * here), so come back in an hour and ask again; a secondly limit after a second; the burst limit after
 * its interval.
 */
function defaultRetryAfterMs(policy: string | undefined, headers: Headers): number {
  if (policy === 'DAILY') return 3_600_000;
  if (policy === 'SECONDLY') return 1000;
  const interval = Number(headers.get('x-hubspot-ratelimit-interval-milliseconds'));
  return interval > 0 ? interval : 10_000;
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

/**
 * Spaces calls to at most `perSecond` in any rolling second (plus a margin for the time a request takes
 * to reach HubSpot, which counts arrivals). A slot is granted at the moment the window has room, so the
 * time recorded is the time the call goes out. A caller whose slot is further away than `maxWaitMs` gets
 * a 'rate-limited' error with the time to come back, so the queue reschedules it instead of a handler
 * sleeping long.
 */
class Pacer {
  private readonly granted: number[] = [];
  private readonly windowMs = 1300;

  constructor(
    private readonly perSecond: number,
    private readonly maxWaitMs: number,
  ) {}

  async slot(operation: string): Promise<void> {
    const asked = Date.now();
    for (;;) {
      const now = Date.now();
      while (this.granted.length > 0 && this.granted[0]! <= now - this.windowMs) this.granted.shift();
      if (this.granted.length < this.perSecond) {
        this.granted.push(now);
        return;
      }
      const wait = this.granted[0]! + this.windowMs - now;
      if (now + wait - asked > this.maxWaitMs) {
        throw new HubSpotError('rate-limited', `Flowkeeper paced HubSpot ${operation} to ${this.perSecond} per second; retry after ${Math.ceil(wait / 1000)} s`, undefined, wait);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
    }
  }
}

/**
 * HubSpot's burst limit: at most `max` calls in any rolling `intervalMs` per token (the limit HubSpot
 * answers `TEN_SECONDLY_ROLLING` for). HubSpot counts a call when it arrives, which is somewhere between
 * when it left and when its answer came back: a call holds its place in the window from its departure
 * until `intervalMs` after its answer, so the count can never be ahead of HubSpot's however slow the
 * network or the event loop.
 *
 * The window starts from the configured values and follows what HubSpot reports on every answer:
 * `X-HubSpot-RateLimit-Interval-Milliseconds` and `-Max` set it (Max only ever lowers the configured cap),
 * and `-Remaining: 0` (other callers of the same app used the window) holds calls back until our own oldest
 * call leaves it. A 429 holds every call of the token for its Retry-After. As with search pacing, a caller
 * whose slot is further away than `maxWaitMs` gets a 'rate-limited' error with the time to come back, so
 * the queue reschedules it.
 */
class BurstPacer {
  /** Our calls in the window: when each was answered (Infinity while it is in flight). */
  private readonly calls: { at: number }[] = [];
  private max: number;
  private intervalMs: number;
  private blockedUntil = 0;

  constructor(
    private readonly configuredMax: number,
    intervalMs: number,
    private readonly maxWaitMs: number,
  ) {
    this.max = configuredMax;
    this.intervalMs = intervalMs;
  }

  observe(headers: Headers): void {
    const interval = Number(headers.get('x-hubspot-ratelimit-interval-milliseconds'));
    const max = Number(headers.get('x-hubspot-ratelimit-max'));
    const remaining = headers.get('x-hubspot-ratelimit-remaining');
    if (Number.isFinite(interval) && interval > 0) this.intervalMs = interval;
    if (Number.isFinite(max) && max > 0) this.max = Math.min(this.configuredMax, max);
    if (remaining !== null && remaining.trim() !== '' && Number(remaining) <= 0) {
      const now = Date.now();
      const oldest = Math.min(...this.calls.map((c) => c.at));
      this.blockedUntil = Math.max(this.blockedUntil, now + this.intervalMs / this.max, Number.isFinite(oldest) ? oldest + this.intervalMs : 0);
    }
  }

  blockFor(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, Date.now() + ms);
  }

  /** Waits for a place in the window; call the returned function when the answer (or failure) came. */
  async slot(operation: string): Promise<() => void> {
    const asked = Date.now();
    for (;;) {
      const now = Date.now();
      for (let i = this.calls.length - 1; i >= 0; i--) if (this.calls[i]!.at <= now - this.intervalMs) this.calls.splice(i, 1);
      let full = 0;
      let estimate = 0;
      if (this.calls.length >= this.max) {
        const freeing = this.calls.map((c) => c.at).sort((a, b) => a - b)[this.calls.length - this.max]!;
        // Every place is held by a call still in flight: look again shortly (it frees a window after its answer).
        full = Number.isFinite(freeing) ? freeing + this.intervalMs - now : IN_FLIGHT_POLL_MS;
        estimate = Number.isFinite(freeing) ? full : this.intervalMs;
      }
      const wait = Math.max(this.blockedUntil - now, full);
      if (wait <= 0) {
        const call = { at: Number.POSITIVE_INFINITY };
        this.calls.push(call);
        return () => {
          call.at = Date.now();
        };
      }
      const comeBack = Math.max(this.blockedUntil - now, estimate);
      if (now + Math.max(wait, comeBack) - asked > this.maxWaitMs) {
        throw new HubSpotError('rate-limited', `Flowkeeper paced HubSpot ${operation} to ${this.max} calls per ${this.intervalMs} ms; retry after ${Math.ceil(comeBack / 1000)} s`, undefined, comeBack);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
    }
  }
}

const IN_FLIGHT_POLL_MS = 20;
