import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useServices } from '../../shared/runtime';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';

/**
 * `x-ms-client-principal` is trusted only where something trustworthy set it: App Service
 * Authentication (WEBSITE_AUTH_ENABLED=True, which strips a client-sent copy) or a developer machine
 * with LOCAL_DEV_AUTH=true. Anywhere else a forged header is worth nothing.
 */
const PUBLIC_ROUTES = new Set(['health', 'whatsapp/webhook', 'whatsapp/flows/{tenantId}']);
let t: TestHost;
const before = process.env.WEBSITE_AUTH_ENABLED;
beforeAll(async () => {
  delete process.env.WEBSITE_AUTH_ENABLED;
  t = await startTestHost({ LOCAL_DEV_AUTH: 'false' });
});
afterEach(() => {
  delete process.env.WEBSITE_AUTH_ENABLED;
});
afterAll(async () => {
  if (before === undefined) delete process.env.WEBSITE_AUTH_ENABLED;
  else process.env.WEBSITE_AUTH_ENABLED = before;
  await t?.close();
});

function calls() {
  return t.host.registrations
    .filter((r) => r.trigger.type === 'httpTrigger' && !PUBLIC_ROUTES.has(String(r.trigger.route)))
    .flatMap((r) => (r.trigger.methods ?? ['GET']).map((method) => ({ name: r.name, method, path: String(r.trigger.route).replace('{tenantId}', 'acme').replace('{id}', '8f7c1f1e-3f0e-4f57-9b8e-4a1d2c3b4a5f').replace('{queue}', 'erasure-tasks') })));
}

describe('who may set x-ms-client-principal', () => {
  it('with neither LOCAL_DEV_AUTH=true nor App Service Authentication, an admin principal header is ignored: 401 on every admin route', async () => {
    const all = calls();
    expect(all.length).toBeGreaterThanOrEqual(15);
    for (const call of all) {
      const response = await fetch(`${t.url}/api/${call.path}`, { method: call.method, headers: adminHeaders(), ...(call.method === 'GET' ? {} : { body: '{}' }) });
      expect(response.status, `${call.method} ${call.path}`).toBe(401);
    }
  });

  it('behind App Service Authentication (WEBSITE_AUTH_ENABLED=True, an app setting App Service sets) the header it sets is read: the same admin gets in', async () => {
    // The setting is read once at start-up with the others (shared/config/settings.ts): a host of its own.
    const behindAuth = await startTestHost({ LOCAL_DEV_AUTH: 'false', WEBSITE_AUTH_ENABLED: 'True' });
    try {
      expect((await fetch(`${behindAuth.url}/api/tenants`, { headers: adminHeaders() })).status).toBe(200);
    } finally {
      await behindAuth.close();
      delete process.env.WEBSITE_AUTH_ENABLED; // startTestHost copies its settings into the environment
      useServices(t.services); // the process's services are the first host's again
    }
    expect((await fetch(`${t.url}/api/tenants`, { headers: adminHeaders() })).status).toBe(401);
  });
});
