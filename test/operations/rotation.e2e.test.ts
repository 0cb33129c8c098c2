import { randomBytes } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataKeyFrom } from '../../shared/crypto';
import { normaliseWaId, systemClock, type TenantId, type WaId } from '../../shared/domain';
import { createPrivacyRequest, processPrivacyRequest, runErasureTask } from '../../shared/privacy';
import { rootOf, type CompositionRoot } from '../../shared/runtime';
import { CachedSecretProvider, KeyVaultSecretProvider } from '../../shared/secrets';
import { receiveWebhook, signBody } from '../../shared/whatsapp';
import { startKeyVaultFake, type KeyVaultFake } from '../fakes/keyVault';
import { messages, single } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, testServices, type TestServices } from '../support/testServices';
import { createTenant, postWebhook, type TestTenant } from '../whatsapp/support';
import { getRequest } from '../privacy/support';
import { adminHeaders } from '../support/principals';
import { distinctTestMobile } from '../support/subjects';

/**
 * Rotations that fail nothing: two instances of the app (the local host, and a second composition root on the
 * same Cosmos DB database and queue, taking its share of the queue's messages), each with its own 5-minute
 * secret cache over one Key Vault (the loopback fake, through the real SDK). The data key and, separately,
 * the app secret are rotated while webhooks and erasures run on both: an instance that meets a key id it does
 * not know, or a signature that does not verify, reads the secrets again once (rate-limited) before deciding.
 */
const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const CACHE_MS = 300_000;

function vaultSecrets(vault: KeyVaultFake): CachedSecretProvider {
  const source = new KeyVaultSecretProvider(vault.url, credential, { disableChallengeResourceVerification: true, allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  return new CachedSecretProvider(source, CACHE_MS, systemClock);
}

let vault: KeyVaultFake;
let a: TestHost; // instance A: the local host (its secret cache warmed before each rotation)
let b: TestServices; // instance B: a second instance on the same database and queue
let rootB: CompositionRoot;
let secretsA: CachedSecretProvider;
let secretsB: CachedSecretProvider;
let tenant: TestTenant;
const unsubscribe: (() => Promise<void>)[] = [];

const S1 = 'app-secret-one';
const S2 = 'app-secret-two';

beforeAll(async () => {
  vault = await startKeyVaultFake();
  vault.secrets.set('WHATSAPP-APP-SECRET', S1);
  vault.secrets.set('WHATSAPP-VERIFY-TOKEN', 'verify');
  vault.secrets.set('WHATSAPP-ACCESS-TOKEN', 'graph-token');
  vault.secrets.set('SUBJECT-HASH-KEY', 'rotation-subject-hash-key-0123456789abcdef');
  vault.secrets.set('DATA-ENCRYPTION-KEY', randomBytes(32).toString('base64'));
  secretsA = vaultSecrets(vault);
  a = await startTestHost({}, { secrets: secretsA });
  secretsB = vaultSecrets(vault);
  b = await testServices({ COSMOS_DATABASE: a.services.settings.COSMOS_DATABASE }, { queue: a.services.queue, secrets: secretsB });
  rootB = rootOf(b);
  // B competes with A for the privacy messages, as a second instance on the same queues does.
  unsubscribe.push(a.services.queue.subscribe('privacy-requests', async (m) => void (await processPrivacyRequest(rootB.privacy, m.body))));
  unsubscribe.push(a.services.queue.subscribe('erasure-tasks', async (m) => void (await runErasureTask(rootB.privacy, m.body))));
  tenant = await createTenant(a, { messageStorage: 'encrypted' });
}, 60_000);
afterAll(async () => {
  for (const stop of unsubscribe) await stop();
  await a?.close();
  await b?.close();
  await vault?.close();
});

function newWaId(): WaId {
  return normaliseWaId(distinctTestMobile())!;
}

/** One delivery, signed with `secret`: to A over HTTP, or to B's webhook use case. */
async function deliver(to: 'a' | 'b', waId: string, secret: string): Promise<boolean> {
  const payload = JSON.stringify(single(tenant.phoneNumberId, waId, messages.text(waId, `hello ${randomBytes(3).toString('hex')}`), 'Kerenza'));
  if (to === 'a') return (await postWebhook(a.url, payload, { secret })).status === 200;
  const result = await receiveWebhook(rootB.webhook, { body: Buffer.from(payload), signature: signBody(secret, payload), maxBytes: 3_000_000 });
  return result.kind === 'accepted';
}

async function erase(on: CompositionRoot | 'a', waId: WaId): Promise<string> {
  if (on === 'a') {
    const response = await fetch(`${a.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId } }) });
    return ((await response.json()) as { id: string }).id;
  }
  const result = await createPrivacyRequest(on.privacy, { tenantId: tenant.tenantId as TenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'admin', actor: 'rotation-test' });
  if (result.kind === 'unknown-tenant') throw new Error('tenant unknown');
  return result.request.id;
}

async function settle(ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await eventually(async () => {
    const view = await getRequest(a, id);
    return ['completed', 'failed'].includes(view.status) ? view.status : undefined;
  }, 30_000, `request ${id}`))));
}

describe('rotating secrets while two instances serve webhooks and erasures', () => {
  it('the data key: A still caches the old key, B writes with the new one; every erasure completes, every webhook is stored, A re-reads the keys once', async () => {
    // Both instances have read their secrets (A's cache now holds the old key for 5 minutes).
    const warm = newWaId();
    expect(await deliver('a', warm, S1)).toBe(true);
    expect(await deliver('b', warm, S1)).toBe(true);
    const oldKey = vault.secrets.get('DATA-ENCRYPTION-KEY')!;

    // The runbook's rotation: the current key becomes the previous one, then a new current key.
    vault.secrets.set('DATA-ENCRYPTION-KEY-PREVIOUS', oldKey);
    const newKey = randomBytes(32).toString('base64');
    vault.secrets.set('DATA-ENCRYPTION-KEY', newKey);
    // B is an instance started (or whose cache expired) after the rotation: it writes with the new key.
    const refreshed = await secretsB.refresh(['DATA_ENCRYPTION_KEY', 'DATA_ENCRYPTION_KEY_PREVIOUS']);
    expect(refreshed).toBe(true);
    const before = secretsA.refreshCount;

    // Traffic on both while the caches disagree: subjects written through both, erasures created on both
    // (B seals the subject reference with the new key), tasks taken by whichever instance is free.
    const subjects = Array.from({ length: 8 }, () => newWaId());
    const delivered = await Promise.all(subjects.flatMap((waId, i) => [deliver(i % 2 ? 'a' : 'b', waId, S1), deliver(i % 2 ? 'b' : 'a', waId, S1)]));
    expect(delivered.filter((ok) => !ok)).toEqual([]);
    const ids = await Promise.all(subjects.map((waId, i) => erase(i % 2 ? 'a' : rootB, waId)));
    const outcomes = await settle(ids);
    expect(outcomes.filter((s) => s !== 'completed')).toEqual([]);
    expect(ids.length).toBe(8);
    // A met the new key id and read the two key secrets again, once (rate-limited, shared by concurrent callers).
    expect(secretsA.refreshCount - before).toBe(2);
    expect(a.services.telemetry.events.filter((e) => e.name === 'privacy.request.failed')).toEqual([]);
    expect(b.telemetry.events.filter((e) => e.name === 'privacy.request.failed')).toEqual([]);
    expect(dataKeyFrom(newKey).id).not.toBe(dataKeyFrom(oldKey).id);
  }, 90_000);

  it('the app secret, a first rotation (no -PREVIOUS before): deliveries signed with the new and the old secret are all accepted by both instances; a forged signature is still refused, with at most one Key Vault read per secret', async () => {
    // Both instances cache S1 and no previous secret.
    expect(await deliver('a', newWaId(), S1)).toBe(true);
    expect(await deliver('b', newWaId(), S1)).toBe(true);
    expect(vault.secrets.has('WHATSAPP-APP-SECRET-PREVIOUS')).toBe(false);

    // Meta's reset happens, then Key Vault: -PREVIOUS created with the old secret, the new one set.
    vault.secrets.set('WHATSAPP-APP-SECRET-PREVIOUS', S1);
    vault.secrets.set('WHATSAPP-APP-SECRET', S2);
    const beforeA = secretsA.refreshCount;
    const beforeB = secretsB.refreshCount;

    // Deliveries signed with the new secret (and late retries signed with the old one), on both, at once.
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => deliver(i % 2 ? 'a' : 'b', newWaId(), i % 3 === 0 ? S1 : S2)));
    expect(results.filter((ok) => !ok)).toEqual([]);
    // Concurrent callers shared one re-read per secret and instance.
    expect(secretsA.refreshCount - beforeA).toBe(2);
    expect(secretsB.refreshCount - beforeB).toBe(2);
    expect(a.services.telemetry.events.filter((e) => e.name === 'webhook.signature.rejected')).toEqual([]);

    // A forged signature is refused; fifty of them cost no further Key Vault read inside the 30 s interval.
    const readsBefore = vault.requests.length;
    const forged = await Promise.all(Array.from({ length: 50 }, () => deliver('a', newWaId(), 'not-the-secret')));
    expect(forged.every((ok) => !ok)).toBe(true);
    expect(secretsA.refreshCount - beforeA).toBe(2);
    expect(vault.requests.length).toBe(readsBefore);
    expect(a.services.telemetry.events.filter((e) => e.name === 'webhook.signature.rejected')).toHaveLength(50);
  }, 60_000);
});
