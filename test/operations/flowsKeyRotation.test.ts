import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../shared/domain';
import { CachedSecretProvider, type SecretKey } from '../../shared/secrets';
import { FlowClient, flowKeyPair } from '../flows/support/flowClient';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { uniqueTenantId } from '../support/testServices';

/**
 * Rotating the Flows private key: the instance still caches the old key (5 minutes) when the client, which has
 * fetched the new public key from Meta, encrypts for the new one. The endpoint reads the key again once
 * (rate-limited) and answers instead of refusing with 421; a request encrypted for a key nobody has is still
 * refused, without a Key Vault read per request.
 */
const APP_SECRET = 'test-app-secret';
const oldKey = flowKeyPair();
const newKey = flowKeyPair();
const overrides = new Map<SecretKey, string>([['FLOWS_PRIVATE_KEY', oldKey.privateKey]]);
const reads: SecretKey[] = [];
let env: Record<string, string | undefined> = {};
let t: TestHost;
let tenantId: string;

beforeAll(async () => {
  // The vault: the test's settings, with the Flows key changeable; every read counted.
  const source = { get: async (name: SecretKey) => (reads.push(name), overrides.get(name) ?? (env[name]?.trim() || undefined)) };
  t = await startTestHost({}, { secrets: new CachedSecretProvider(source, 300_000, systemClock) });
  env = t.services.env;
  tenantId = uniqueTenantId('fk');
  const response = await fetch(`${t.url}/api/tenants/${tenantId}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [String(Date.now()).slice(-10)], messageStorage: 'none' }) });
  expect(response.status).toBe(201);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const ping = (publicKey: string) => new FlowClient(`${t.url}/api/whatsapp/flows/${tenantId}`, publicKey, APP_SECRET).send({ version: '3.0', action: 'ping' });

describe('rotating the Flows private key', () => {
  it('a request for the new key is answered while the old one is still cached; one for an unknown key is refused without further reads', async () => {
    expect((await ping(oldKey.publicKey)).status).toBe(200); // the old key is cached now
    overrides.set('FLOWS_PRIVATE_KEY', newKey.privateKey); // the rotation in Key Vault
    const answered = await ping(newKey.publicKey);
    expect(answered.status).toBe(200);
    expect(answered.decrypted()).toEqual({ data: { status: 'active' } });

    const before = reads.length;
    const stranger = flowKeyPair();
    const refused = await Promise.all(Array.from({ length: 10 }, () => ping(stranger.publicKey)));
    expect(refused.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 421));
    expect(reads.length).toBe(before); // inside the 30 s interval: no Key Vault read per refused request
  }, 30_000);
});
