import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../local/host';
import { parseNcrontab } from '../../shared/config/ncrontab';
import { startTestHost, type TestHost } from '../support/testHost';

let testHost: TestHost;
let host: LocalHost;

beforeAll(async () => {
  testHost = await startTestHost();
  host = testHost.host;
});
afterAll(async () => {
  await testHost?.close();
});

describe('local host', () => {
  it('receives the registrations of the function files themselves (no second table)', () => {
    const health = host.registrations.find((r) => r.name === 'health');
    expect(health?.trigger).toMatchObject({ type: 'httpTrigger', route: 'health', methods: ['GET'] });
  });

  it('GET /api/health reports every dependency up against the real emulators', async () => {
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; dependencies: Record<string, { status: string }> };
    expect(body.status).toBe('healthy');
    expect(Object.keys(body.dependencies).sort()).toEqual(['blob', 'cosmos', 'queue', 'secrets']);
    for (const d of Object.values(body.dependencies)) expect(d.status).toBe('up');
  });

  it('answers 404 for an unknown route and 405 for a known route with the wrong method', async () => {
    expect((await fetch(`${host.url}/api/nowhere`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/health`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('NCRONTAB schedules (UTC)', () => {
  it('finds the next nightly run and the next minute', () => {
    const nightly = parseNcrontab('0 30 2 * * *');
    expect(nightly.next(new Date('2026-06-01T02:30:00Z')).toISOString()).toBe('2026-06-02T02:30:00.000Z');
    expect(nightly.next(new Date('2026-06-01T01:00:00Z')).toISOString()).toBe('2026-06-01T02:30:00.000Z');
    const everyMinute = parseNcrontab('0 */1 * * * *');
    expect(everyMinute.next(new Date('2026-06-01T10:00:05Z')).toISOString()).toBe('2026-06-01T10:01:00.000Z');
    expect(parseNcrontab('*/15 * * * * 1-5').next(new Date('2026-06-06T10:00:05Z')).toISOString()).toBe('2026-06-08T00:00:00.000Z');
  });
});
