import type { Clock } from '../domain/clock';
import { systemClock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import { hubspotTokenSecret, type SecretProvider } from '../secrets/secretProvider';

/**
 * A small typed client for HubSpot's REST API over `fetch`. Not `@hubspot/api-client`: its v14 needs
 * Node 22 (Flowkeeper runs on Node 20), and its built-in retry would sleep inside a queue handler and
 * fight the queue-based backoff (a 429 or 5xx here becomes a rescheduled message, not a wait).
 *
 * The client does three things: puts the tenant's private-app token on each call, keeps search calls
 * under HubSpot's per-token search limit (a short pacing wait, never longer than `maxPacingWaitMs`), and
 * turns every failure into a `HubSpotError` whose message names the operation and status, never a
 * request or response body (which would hold phone numbers or names).
 */
export type HubSpotErrorKind = 'rate-limited' | 'transient' | 'permanent';

export class HubSpotError extends Error {
  constructor(
    readonly kind: HubSpotErrorKind,
    message: string,
    readonly status?: number,
    /** For 'rate-limited': when HubSpot said to come back (Retry-After), in milliseconds. */
    readonly retryAfterMs?: number,
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
  /** Longest a search waits for its slot before it gives up with 'rate-limited' (and is rescheduled). */
  maxPacingWaitMs?: number;
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
    } catch (error) {
      clearTimeout(timer);
      if (controller.signal.aborted) throw new HubSpotError('transient', `HubSpot did not answer within ${this.timeoutMs} ms on ${operation}`);
      throw new HubSpotError('transient', `HubSpot could not be reached on ${operation} (${networkCode(error)})`);
    }
    try {
      const text = await response.text();
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
    const retryAfterMs = retryAfter(response.headers.get('retry-after'), clock) ?? 10_000;
    const policy = /"policyName"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
    return new HubSpotError('rate-limited', `HubSpot answered 429${policy ? ` (${policy})` : ''} on ${operation}; retry after ${Math.ceil(retryAfterMs / 1000)} s`, 429, retryAfterMs);
  }
  if (status >= 500 || status === 408) return new HubSpotError('transient', `HubSpot answered ${status} on ${operation}`, status);
  if (status === 401 || status === 403) {
    return new HubSpotError('permanent', `HubSpot answered ${status} on ${operation}: check the tenant's HubSpot token (${secretName}) and its crm.objects.contacts scopes`, status);
  }
  const category = /"category"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  return new HubSpotError('permanent', `HubSpot answered ${status}${category ? ` (${category})` : ''} on ${operation}`, status);
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
