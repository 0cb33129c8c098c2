/**
 * Smoke test of the app inside the real Azure Functions host (`func start`), run by the `functions-host` job of
 * .github/workflows/ci.yml (Core Tools cannot be installed on the development machines: their install downloads a
 * binary). Against a running host it checks, over HTTP:
 *   1. GET /api/health answers 200 with every dependency reachable;
 *   2. a webhook signed with the app secret is accepted (200), and the same body with a wrong signature is not (401);
 *   3. an erasure request is accepted (202) and completes through the Service Bus queue triggers.
 *
 *   npm run build && node dist/scripts/smoke/funcSmoke.js [http://localhost:7071]
 *
 * Settings come from local.settings.json (what `func start` read), else local.settings.example.json: the app secret
 * signs the webhook, and LOCAL_DEV_AUTH=true lets the admin calls present x-ms-client-principal themselves.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { encodePrincipal } from '../../shared/http';
import { signBody } from '../../shared/whatsapp/signature';

const base = (process.argv[2] ?? 'http://localhost:7071').replace(/\/$/, '');
const root = path.resolve(__dirname, '../../..');
const settingsFile = ['local.settings.json', 'local.settings.example.json'].map((f) => path.join(root, f)).find((f) => existsSync(f));
if (!settingsFile) throw new Error('no local.settings.json or local.settings.example.json beside package.json');
const settings = (JSON.parse(readFileSync(settingsFile, 'utf8')) as { Values: Record<string, string> }).Values;
const appSecret = settings.WHATSAPP_APP_SECRET;
if (!appSecret) throw new Error(`${settingsFile}: WHATSAPP_APP_SECRET is not set`);
if (settings.LOCAL_DEV_AUTH !== 'true') throw new Error(`${settingsFile}: LOCAL_DEV_AUTH must be 'true' for the admin calls of the smoke test`);

const admin = {
  'x-ms-client-principal': encodePrincipal({ objectId: '00000000-0000-0000-0000-00000000517e', roles: ['Flowkeeper.Admin'] }),
  'content-type': 'application/json',
};

let failures = 0;
function check(ok: boolean, what: string, detail = ''): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
  if (!ok) failures += 1;
}

async function call(method: string, route: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}/api/${route}`, { method, headers: init.headers, body: init.body });
  return { status: response.status, text: await response.text() };
}

async function main(): Promise<void> {
  // 1. Health.
  const health = await call('GET', 'health');
  check(health.status === 200, 'GET /api/health answers 200', `${health.status} ${health.text.slice(0, 300)}`);

  // A tenant that stores nothing outside Cosmos DB and Blob (no HubSpot, no message content).
  const tenantId = `smoke-${randomInt(100_000, 999_999)}`;
  const phoneNumberId = `1065${String(randomInt(0, 10 ** 11)).padStart(11, '0')}`;
  const tenant = await call('PUT', `tenants/${tenantId}`, {
    headers: admin,
    body: JSON.stringify({ name: 'Smoke Test Ltd', phoneNumberIds: [phoneNumberId], messageStorage: 'none', hubspot: { enabled: false } }),
  });
  check(tenant.status === 201 || tenant.status === 200, `PUT /api/tenants/${tenantId}`, `${tenant.status} ${tenant.text.slice(0, 300)}`);

  // 2. A signed webhook (a text message), and the same body badly signed.
  const waId = `4477009${String(randomInt(0, 100_000)).padStart(5, '0')}`;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '447700900000', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Smoke Test' }, wa_id: waId }],
              messages: [{ from: waId, id: `wamid.smoke${randomInt(0, 10 ** 9)}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hello from the smoke test' } }],
            },
          },
        ],
      },
    ],
  });
  const signed = await call('POST', 'whatsapp/webhook', { headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(appSecret!, body) }, body });
  check(signed.status === 200, 'POST /api/whatsapp/webhook with a valid signature answers 200', `${signed.status} ${signed.text.slice(0, 300)}`);
  const forged = await call('POST', 'whatsapp/webhook', { headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody('not-the-secret', body) }, body });
  check(forged.status === 401, 'POST /api/whatsapp/webhook with a wrong signature answers 401', String(forged.status));

  // 3. An erasure of that subject, carried out through the Service Bus triggers.
  const created = await call('POST', 'privacy-requests', { headers: admin, body: JSON.stringify({ tenantId, type: 'erasure', subject: { waId: `+${waId}` } }) });
  check(created.status === 202, 'POST /api/privacy-requests (erasure) answers 202', `${created.status} ${created.text.slice(0, 300)}`);
  if (created.status === 202) {
    const { id } = JSON.parse(created.text) as { id: string };
    const deadline = Date.now() + 120_000;
    let status = 'received';
    let last = '';
    while (Date.now() < deadline && !['completed', 'failed'].includes(status)) {
      await new Promise((r) => setTimeout(r, 1000));
      const view = await call('GET', `privacy-requests/${id}`, { headers: admin });
      last = view.text;
      if (view.status === 200) status = (JSON.parse(view.text) as { status: string }).status;
    }
    check(status === 'completed', `erasure ${id} completes through the queue triggers`, `status ${status}: ${last.slice(0, 500)}`);
  }

  console.log(failures === 0 ? '\nsmoke test passed' : `\nsmoke test FAILED: ${failures} check(s)`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error('smoke test FAILED:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
