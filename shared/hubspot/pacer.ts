import { HubSpotError } from './hubspotError';

/**
 * One HubSpot portal's rate limits, as one app (one private-app token) meets them, shared by every call
 * of that token in this process: contact search, create, read, update, batch read, GDPR delete,
 * custom-channel publish, thread list, read and archive.
 *
 * Sources (read 2026-12-04):
 * - API usage guidelines, https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
 *   (undated): the burst limit is a number of requests per rolling 10 s per app and account (100 on
 *   Free/Starter, 190 on Professional/Enterprise; 250 with the API Limit Increase pack: developer
 *   changelog "Increasing our API limits"), and "excludes the CRM Search API"; answers carry
 *   `X-HubSpot-RateLimit-Interval-Milliseconds`, `X-HubSpot-RateLimit-Max` and
 *   `X-HubSpot-RateLimit-Remaining` (and `-Daily`, `-Daily-Remaining` where a daily limit applies;
 *   `-Secondly` and `-Secondly-Remaining` are from the API-key era and not read here); search answers
 *   carry none of them.
 * - Search guide, https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm (undated):
 *   "The search endpoints are rate limited to five requests per second per account."
 *
 * Two lanes, each first come, first served (a search waiting for its own limit never holds back a
 * GDPR delete, and the other way round):
 *
 * - `burst`: every call but search. A rolling window (the exact limit: never more than `max` of our
 *   calls in any window). While the window has room, calls leave at once; once it has been full with
 *   calls waiting, they leave evenly spaced (`interval / max` apart) until the line is empty and half the
 *   window free again. Under sustained demand the window thus stays full and its calls spread over it,
 *   instead of filling at once and standing still for the rest of every interval while the line waits
 *   (what a window alone, or a token bucket whose burst refills during such a stall, would repeat).
 * - `search`: `searchesPerSecond` per rolling second.
 *
 * HubSpot counts a call when it arrives, somewhere between its departure and its answer: a call holds
 * its place from departure until one interval after its answer, so our count is never behind HubSpot's.
 *
 * Several instances of Flowkeeper share a portal's limit: every answer's `Max` and `Remaining` say how
 * many calls HubSpot counted in the window at that call's arrival; what is not ours is someone else's
 * (another instance, another integration of the same app), and the window this pacer fills shrinks by
 * that much until a later answer says otherwise. A 429 holds its lane for Retry-After.
 *
 * A caller whose turn is further away than its wait budget is told so at once (`rate-limited`, with
 * when to come back), and one already waiting whose budget runs out is let go the same way: the
 * queue then reschedules the work instead of a handler waiting long.
 */
export type Lane = 'burst' | 'search';

export interface PacerOptions {
  /** Calls per interval this app may make (the configured tier); `X-HubSpot-RateLimit-Max` only lowers it. */
  max: number;
  /** The burst window, until `X-HubSpot-RateLimit-Interval-Milliseconds` says otherwise. */
  intervalMs: number;
  /** Searches per second per account. */
  searchesPerSecond: number;
  now?: () => number;
}

/** A granted place: call `done()` when the answer (or the failure) came back. */
export interface Ticket {
  readonly lane: Lane;
  readonly departedAt: number;
  done(): void;
}

interface Slot {
  departedAt: number;
  /** When the answer came back; Infinity while the call is in flight. */
  answeredAt: number;
}

interface Waiter {
  operation: string;
  /** Its place in line: when the work it belongs to arrived (earlier goes first; equal, first come). */
  order: number;
  deadline: number;
  resolve: (ticket: Ticket) => void;
  reject: (error: HubSpotError) => void;
}

interface LaneState {
  slots: Slot[];
  queue: Waiter[];
  blockedUntil: number;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

/** While every place is held by a call in flight, look again this often (an answer also wakes the lane). */
const IN_FLIGHT_POLL_MS = 25;
const SEARCH_WINDOW_MS = 1000;

export class PortalPacer {
  private readonly now: () => number;
  private readonly configuredMax: number;
  private headerMax: number | undefined;
  private intervalMs: number;
  private lastGrantAt = Number.NEGATIVE_INFINITY;
  /** The window has been full with calls waiting: calls leave evenly spaced until the line clears. */
  private saturated = false;
  /** No answer has told the window yet (a cold start): one call at a time until one does. */
  private learned = false;
  /**
   * How many more calls the latest answer's `Remaining` leaves us, after what we sent since (halved while
   * others share the window, so two instances do not both take the same room), and until when that holds.
   */
  private room: { count: number; until: number } | undefined;
  /** Calls of others HubSpot counted in the window, as the latest answer showed, and until when that holds. */
  private foreign = { count: 0, until: 0 };
  private readonly lanes: Record<Lane, LaneState>;

  constructor(private readonly options: PacerOptions) {
    this.now = options.now ?? Date.now;
    this.configuredMax = options.max;
    this.intervalMs = options.intervalMs;
    const lane = (): LaneState => ({ slots: [], queue: [], blockedUntil: 0, timer: undefined, timerAt: 0 });
    this.lanes = { burst: lane(), search: lane() };
  }

  /** The burst limit this pacer fills now: the configured cap, lowered by HubSpot's Max and by others' calls. */
  get limit(): number {
    const max = Math.min(this.configuredMax, this.headerMax ?? this.configuredMax);
    const foreign = this.foreign.until > this.now() ? this.foreign.count : 0;
    return Math.max(1, max - foreign);
  }

  get interval(): number {
    return this.intervalMs;
  }

  /** Calls waiting for their turn in `lane` (the portal is saturated when this is above 0). */
  waiting(lane: Lane): number {
    return this.lanes[lane].queue.length;
  }

  /**
   * Waits for a place in `lane`. The line is ordered by `order` (when the work the call belongs to
   * arrived: a privacy request's receipt, else the call itself), first come first served among equals;
   * `front` puts the call ahead of everyone (a call HubSpot turned away with a 429, which must not lose
   * its turn). Fails at once with `rate-limited` when its turn is further away than `deadline`.
   */
  acquire(lane: Lane, operation: string, deadline: number, options: { front?: boolean; order?: number } = {}): Promise<Ticket> {
    const state = this.lanes[lane];
    const now = this.now();
    const order = options.front ? Number.NEGATIVE_INFINITY : (options.order ?? now);
    let position = state.queue.length;
    while (position > 0 && state.queue[position - 1]!.order > order) position--;
    if (!options.front) {
      const eta = this.estimate(lane, position, now);
      if (now + eta > deadline) return Promise.reject(this.paced(lane, operation, eta));
    }
    return new Promise<Ticket>((resolve, reject) => {
      state.queue.splice(position, 0, { operation, order, deadline, resolve, reject });
      this.pump(lane);
    });
  }

  /** A 429 (or `Remaining: 0` from someone else): nothing in `lane` leaves for `ms`. */
  block(lane: Lane, ms: number): void {
    const state = this.lanes[lane];
    state.blockedUntil = Math.max(state.blockedUntil, this.now() + ms);
    this.pump(lane);
  }

  /** Reads HubSpot's rate-limit headers on the answer to a burst-lane call that left at `departedAt` (still holding its place). */
  observe(headers: Headers, departedAt: number): void {
    // The first answer cannot show another instance starting at the same moment: share until a later one does.
    const first = !this.learned;
    this.learned = true;
    const interval = Number(headers.get('x-hubspot-ratelimit-interval-milliseconds'));
    const max = Number(headers.get('x-hubspot-ratelimit-max'));
    const remainingHeader = headers.get('x-hubspot-ratelimit-remaining');
    if (Number.isFinite(interval) && interval > 0) this.intervalMs = interval;
    if (Number.isFinite(max) && max > 0) this.headerMax = max;
    const remaining = remainingHeader === null || remainingHeader.trim() === '' ? NaN : Number(remainingHeader);
    if (Number.isFinite(max) && max > 0 && Number.isFinite(remaining)) {
      // HubSpot counted `max - remaining` calls at this one's arrival, this one included. Ours among them
      // are at most the others we still hold a place for (every call of ours HubSpot can still count):
      // counting all of them errs towards leaving room to others rather than towards starving ourselves
      // (calls in flight together arrive in any order).
      const now = this.now();
      const ours = Math.max(0, this.lanes.burst.slots.filter((s) => s.answeredAt + this.intervalMs > now).length - 1);
      const others = Math.max(0, max - remaining - 1 - ours);
      this.foreign = { count: others, until: now + this.intervalMs };
      // What HubSpot had left at this call's arrival, less what we sent after it (not counted yet).
      const sentSince = this.lanes.burst.slots.filter((s) => s.departedAt > departedAt).length;
      const free = Math.max(0, remaining - sentSince);
      const count = others > 0 || first ? Math.floor(free / 2) : free;
      // Answers arrive out of step with each other: within an interval the room only shrinks (an older
      // answer must not reopen room a newer one closed); after it, the next answer tells afresh.
      this.room = this.room && this.room.until > now ? { count: Math.min(this.room.count, count), until: this.room.until } : { count, until: now + this.intervalMs };
    }
    this.pump('burst');
  }

  /** How long a newcomer behind `ahead` waiters would wait in `lane` (an estimate, for turning it away early). */
  private estimate(lane: Lane, ahead: number, now: number): number {
    const first = this.waitFor(lane, now);
    const head = Number.isFinite(first) ? first : this.windowOf(lane);
    if (ahead === 0) return Math.max(0, head);
    const rate = lane === 'burst' ? this.limit / this.intervalMs : this.options.searchesPerSecond / SEARCH_WINDOW_MS;
    return Math.max(0, head) + ahead / rate;
  }

  private windowOf(lane: Lane): number {
    return lane === 'burst' ? this.intervalMs : SEARCH_WINDOW_MS;
  }

  /** 0 when a call may leave now; else how long until it may (Infinity: when a call in flight is answered). */
  private waitFor(lane: Lane, now: number): number {
    const state = this.lanes[lane];
    const window = this.windowOf(lane);
    for (let i = state.slots.length - 1; i >= 0; i--) if (state.slots[i]!.answeredAt + window <= now) state.slots.splice(i, 1);
    let wait = Math.max(0, state.blockedUntil - now);
    const cap = lane === 'burst' ? this.limit : this.options.searchesPerSecond;
    if (state.slots.length >= cap) {
      const frees = state.slots.map((s) => s.answeredAt + window).sort((a, b) => a - b);
      wait = Math.max(wait, frees[state.slots.length - cap]! - now);
    }
    if (lane === 'burst') {
      // Cold start: the configured limit may be above the portal's; the first answer tells.
      if (!this.learned && state.slots.some((s) => s.answeredAt === Number.POSITIVE_INFINITY)) wait = Math.max(wait, IN_FLIGHT_POLL_MS);
      if (state.slots.length >= cap && state.queue.length > 0) this.saturated = true;
      else if (this.saturated && state.queue.length <= 1 && state.slots.length < cap / 2) this.saturated = false;
      // No room left by HubSpot's count (others use the window too): one call per slot time asks again.
      const roomless = this.room !== undefined && this.room.until > now && this.room.count <= 0;
      if (this.saturated || roomless) wait = Math.max(wait, this.lastGrantAt + this.intervalMs / this.limit - now);
    }
    return wait;
  }

  private pump(lane: Lane): void {
    const state = this.lanes[lane];
    for (;;) {
      const head = state.queue[0];
      if (!head) return this.clearTimer(state);
      const now = this.now();
      const wait = this.waitFor(lane, now);
      if (wait <= 0) {
        state.queue.shift();
        head.resolve(this.grant(lane, now));
        continue;
      }
      if (now + (Number.isFinite(wait) ? wait : 0) > head.deadline || now >= head.deadline) {
        state.queue.shift();
        head.reject(this.paced(lane, head.operation, Number.isFinite(wait) ? wait : this.windowOf(lane)));
        continue;
      }
      // Waiters further back whose budget ends before their turn can come are let go now, not later.
      this.expireBehind(lane, now, wait);
      const at = now + Math.min(Number.isFinite(wait) ? wait : IN_FLIGHT_POLL_MS, Math.max(1, head.deadline - now));
      this.setTimer(lane, state, at);
      return;
    }
  }

  private expireBehind(lane: Lane, now: number, headWait: number): void {
    const state = this.lanes[lane];
    const rate = lane === 'burst' ? this.limit / this.intervalMs : this.options.searchesPerSecond / SEARCH_WINDOW_MS;
    const base = Number.isFinite(headWait) ? headWait : 0;
    for (let i = state.queue.length - 1; i >= 1; i--) {
      const eta = base + i / rate;
      const waiter = state.queue[i]!;
      if (now + eta > waiter.deadline) {
        state.queue.splice(i, 1);
        waiter.reject(this.paced(lane, waiter.operation, eta));
      }
    }
  }

  private grant(lane: Lane, now: number): Ticket {
    const slot: Slot = { departedAt: now, answeredAt: Number.POSITIVE_INFINITY };
    this.lanes[lane].slots.push(slot);
    if (lane === 'burst') {
      this.lastGrantAt = now;
      if (this.room && this.room.until > now) this.room.count -= 1;
    }
    return {
      lane,
      departedAt: now,
      done: () => {
        if (slot.answeredAt !== Number.POSITIVE_INFINITY) return;
        slot.answeredAt = this.now();
        this.pump(lane);
      },
    };
  }

  private setTimer(lane: Lane, state: LaneState, at: number): void {
    if (state.timer && state.timerAt <= at) return;
    this.clearTimer(state);
    state.timerAt = at;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.pump(lane);
    }, Math.max(1, at - this.now()));
  }

  private clearTimer(state: LaneState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
  }

  private paced(lane: Lane, operation: string, waitMs: number): HubSpotError {
    const what = lane === 'search' ? `${this.options.searchesPerSecond} searches per second` : `${this.limit} calls per ${this.intervalMs} ms`;
    return new HubSpotError('rate-limited', `Flowkeeper paced HubSpot ${operation} to ${what}; retry after ${Math.max(1, Math.ceil(waitMs / 1000))} s`, undefined, Math.max(1, Math.round(waitMs)));
  }
}
