import { describe, expect, it } from 'vitest';
import { HubSpotError, PortalPacer, type Ticket } from '../../shared/hubspot';

const far = () => Date.now() + 60_000;
const headers = (values: Record<string, string>) => new Headers(values);

/** Takes a place, holds it for `holdMs` (the call in flight), then answers. */
async function call(pacer: PortalPacer, options: { order?: number; search?: boolean; holdMs?: number; deadline?: number } = {}): Promise<number> {
  const ticket: Ticket = await pacer.acquire(options.search ? 'search' : 'burst', 'test call', options.deadline ?? far(), options.order !== undefined ? { order: options.order } : {});
  const at = Date.now();
  await new Promise((resolve) => setTimeout(resolve, options.holdMs ?? 1));
  ticket.done();
  return at;
}

/** The most grants in any rolling window of `windowMs`. */
function busiest(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('the per-portal pacer', () => {
  it('serves waiting calls in the order their work arrived, first come first served among equals', async () => {
    const pacer = new PortalPacer({ max: 1, intervalMs: 100, searchesPerSecond: 5 });
    const served: string[] = [];
    const first = call(pacer, { order: 0, holdMs: 20 });
    // Queued while the first holds the only place: a newer request, then an older one, then two equals.
    const waiting = [
      call(pacer, { order: 300 }).then(() => served.push('received at 300')),
      call(pacer, { order: 100 }).then(() => served.push('received at 100')),
      call(pacer, { order: 200 }).then(() => served.push('received at 200, first')),
      call(pacer, { order: 200 }).then(() => served.push('received at 200, second')),
    ];
    await first;
    await Promise.all(waiting);
    expect(served).toEqual(['received at 100', 'received at 200, first', 'received at 200, second', 'received at 300']);
  });

  it('never lets more than the limit leave in any window, and once saturated keeps the window full with calls evenly spaced', async () => {
    const pacer = new PortalPacer({ max: 10, intervalMs: 300, searchesPerSecond: 5 });
    const started = Date.now();
    // Five callers, each calling again as soon as its call is answered, for 2.4 s (eight windows).
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        while (Date.now() - started < 2400) times.push(await call(pacer, { holdMs: 3 }));
      }),
    );
    expect(busiest(times, 300)).toBeLessThanOrEqual(10);
    // After the first window (spent at once), the calls keep the window at least 90 % full.
    const steady = times.filter((t) => t >= started + 600 && t < started + 2100).length;
    expect(steady / 5).toBeGreaterThanOrEqual(9); // calls per 300 ms window, over five windows
    // Evenly spaced once saturated: no two steady calls less than ~half a slot apart.
    const gaps = times
      .filter((t) => t >= started + 600 && t < started + 2100)
      .sort((a, b) => a - b)
      .slice(1)
      .map((t, i, all) => t - (i === 0 ? t : all[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThan(300);
  });

  it('paces searches in their own lane: a search at its limit holds back no other call, and the other way round', async () => {
    const pacer = new PortalPacer({ max: 100, intervalMs: 10_000, searchesPerSecond: 2 });
    await Promise.all([call(pacer, { search: true }), call(pacer, { search: true })]);
    const started = Date.now();
    const search = call(pacer, { search: true });
    const others = await Promise.all(Array.from({ length: 5 }, () => call(pacer)));
    expect(Math.max(...others) - started).toBeLessThan(200);
    expect((await search) - started).toBeGreaterThanOrEqual(900);
  });

  it("shrinks the window it fills by the calls HubSpot's Max and Remaining show are someone else's (another instance), and grows back", async () => {
    const pacer = new PortalPacer({ max: 100, intervalMs: 10_000, searchesPerSecond: 5 });
    const ticket = await pacer.acquire('burst', 'test call', far());
    ticket.done();
    // Our one call saw 40 counted: 39 are someone else's.
    pacer.observe(headers({ 'x-hubspot-ratelimit-interval-milliseconds': '10000', 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-remaining': '60' }), ticket.departedAt);
    expect(pacer.limit).toBe(61);
    // A later answer shows the others gone.
    pacer.observe(headers({ 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-remaining': '99' }), ticket.departedAt);
    expect(pacer.limit).toBe(100);
    // Max lowers the configured cap, never raises it.
    pacer.observe(headers({ 'x-hubspot-ratelimit-max': '190', 'x-hubspot-ratelimit-remaining': '189' }), ticket.departedAt);
    expect(pacer.limit).toBe(100);
    pacer.observe(headers({ 'x-hubspot-ratelimit-max': '50', 'x-hubspot-ratelimit-remaining': '49' }), ticket.departedAt);
    expect(pacer.limit).toBe(50);
  });

  it('tells a caller at once when its turn lies beyond its budget, and lets a waiting one go when its budget runs out, with when to come back', async () => {
    const pacer = new PortalPacer({ max: 1, intervalMs: 1000, searchesPerSecond: 5 });
    const held = await pacer.acquire('burst', 'test call', far());
    const started = Date.now();
    const refused = await pacer.acquire('burst', 'contact read', Date.now() + 50).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(40);
    expect(refused).toBeInstanceOf(HubSpotError);
    expect(refused).toMatchObject({ kind: 'rate-limited', message: expect.stringMatching(/^Flowkeeper paced HubSpot contact read to 1 calls per 1000 ms; retry after \d+ s$/) });
    held.done();
    // Queued with a turn inside its budget, then a 429 holds the lane past it: let go when the budget ends.
    const waiting = pacer.acquire('burst', 'contact read', Date.now() + 1300).catch((e: unknown) => e);
    pacer.block('burst', 5000);
    const letGo = await waiting;
    expect(letGo).toMatchObject({ kind: 'rate-limited', retryAfterMs: expect.any(Number) });
    expect((letGo as HubSpotError).retryAfterMs).toBeGreaterThan(3000);
  });

  it('holds a lane for a 429 Retry-After, and a call that must keep its turn goes first after it', async () => {
    const pacer = new PortalPacer({ max: 100, intervalMs: 10_000, searchesPerSecond: 5 });
    pacer.block('burst', 300);
    const started = Date.now();
    const order: string[] = [];
    const later = call(pacer, { order: 0 }).then(() => order.push('oldest request'));
    const retried = pacer.acquire('burst', 'retry', far(), { front: true }).then((t) => {
      order.push('retry after 429');
      t.done();
    });
    await Promise.all([later, retried]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(order).toEqual(['retry after 429', 'oldest request']);
  });
});
