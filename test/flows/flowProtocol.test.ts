import { createPrivateKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyringFrom } from '../../shared/crypto';
import { type TenantId, type WaId } from '../../shared/domain';
import { CachedFlowKeys, decryptFlowRequest, encryptFlowResponse, FlowDecryptionError, flipIv, flowsKeySecretNames, issueFlowToken, verifyFlowToken } from '../../shared/flows';
import { SettingsSecretProvider } from '../../shared/secrets';
import { decryptFlowResponse, encryptFlowRequest, flowKeyPair } from './support/flowClient';
import { ManualClock } from '../doubles';

const pair = flowKeyPair();
const privateKey = createPrivateKey(pair.privateKey);
const tenantId = 'acme-lettings' as TenantId;
const waId = '447700900123' as WaId;
const keys = { subjectHashKey: 'test-subject-hash-key-0123456789abcdef0123', dataKeyring: keyringFrom(randomBytes(32).toString('base64')) };

describe('flow request encryption (Meta protocol)', () => {
  it('decrypts what the client encrypted and answers with the same key and the flipped IV', () => {
    const sent = encryptFlowRequest(pair.publicKey, { version: '3.0', action: 'ping' });
    const decrypted = decryptFlowRequest(sent.body, privateKey);
    expect(JSON.parse(decrypted.plaintext)).toEqual({ version: '3.0', action: 'ping' });
    expect(decrypted.aesKey.equals(sent.aesKey)).toBe(true);

    const answer = encryptFlowResponse({ data: { status: 'active' } }, decrypted.aesKey, decrypted.iv);
    expect(decryptFlowResponse(answer, sent.aesKey, sent.iv)).toEqual({ data: { status: 'active' } });
    expect(flipIv(Buffer.from([0x00, 0xff, 0x0f]))).toEqual(Buffer.from([0xff, 0x00, 0xf0]));
  });

  it('a tampered ciphertext, a wrong key or a bad IV cannot be decrypted', () => {
    const sent = encryptFlowRequest(pair.publicKey, { version: '3.0', action: 'ping' });
    const data = Buffer.from(sent.body.encrypted_flow_data, 'base64');
    data[0] = data[0]! ^ 0x01;
    const reason = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof FlowDecryptionError ? error.reason : 'other';
      }
      return 'none';
    };
    expect(reason(() => decryptFlowRequest({ ...sent.body, encrypted_flow_data: data.toString('base64') }, privateKey))).toBe('ciphertext');
    expect(reason(() => decryptFlowRequest(sent.body, createPrivateKey(flowKeyPair().privateKey)))).toBe('key-unwrap');
    expect(reason(() => decryptFlowRequest({ ...sent.body, initial_vector: randomBytes(16).toString('base64') }, privateKey))).toBe('ciphertext');
    expect(reason(() => decryptFlowRequest({ ...sent.body, encrypted_aes_key: 'not base64!' }, privateKey))).toBe('encoding');
  });
});

describe('flow tokens', () => {
  const now = new Date('2026-01-05T10:00:00Z');

  it('a token names the tenant, the keyed-hash subject and the purpose, and carries no readable number', () => {
    const token = issueFlowToken(keys, { tenantId, subject: { kind: 'waId', value: waId }, purpose: 'privacy-centre', now, ttlSeconds: 3600 });
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain(waId);
    expect(Buffer.from(token.split('.')[1]!, 'base64url').toString()).not.toContain(waId);
    const check = verifyFlowToken(keys, token, { tenantId, now });
    expect(check).toEqual({
      ok: true,
      claims: { tenantId, subject: { kind: 'waId', value: waId }, subjectHash: expect.stringMatching(/^[0-9a-f]{64}$/), purpose: 'privacy-centre', expiresAt: new Date('2026-01-05T11:00:00Z') },
    });
  });

  it('an expired token, another tenant, an altered payload or another key is refused', () => {
    const token = issueFlowToken(keys, { tenantId, subject: { kind: 'waId', value: waId }, purpose: 'privacy-centre', now, ttlSeconds: 60 });
    expect(verifyFlowToken(keys, token, { tenantId, now: new Date(now.getTime() + 61_000) })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyFlowToken(keys, token, { tenantId: 'other-tenant' as TenantId, now })).toEqual({ ok: false, reason: 'tenant' });

    const [v, payload, mac] = token.split('.');
    const altered = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { e: number };
    altered.e += 86_400;
    expect(verifyFlowToken(keys, `${v}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${mac}`, { tenantId, now })).toEqual({ ok: false, reason: 'signature' });
    expect(verifyFlowToken({ ...keys, subjectHashKey: 'another-subject-hash-key-0123456789abcdef' }, token, { tenantId, now })).toEqual({ ok: false, reason: 'signature' });
    expect(verifyFlowToken(keys, 'unused', { tenantId, now })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyFlowToken(keys, undefined, { tenantId, now })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a token stays valid across a data key rotation while the previous key is kept', () => {
    const previous = randomBytes(32).toString('base64');
    const old = { ...keys, dataKeyring: keyringFrom(previous) };
    const token = issueFlowToken(old, { tenantId, subject: { kind: 'waId', value: waId }, purpose: 'privacy-centre', now, ttlSeconds: 60 });
    const rotated = { ...keys, dataKeyring: keyringFrom(randomBytes(32).toString('base64'), previous) };
    expect(verifyFlowToken(rotated, token, { tenantId, now }).ok).toBe(true);
    expect(verifyFlowToken(keys, token, { tenantId, now })).toEqual({ ok: false, reason: 'subject' });
  });
});

describe('Flows private keys', () => {
  it("a tenant's own key wins over the app-wide one, and the parsed key is cached for a while", async () => {
    const own = flowKeyPair('tenant passphrase 123');
    const names = flowsKeySecretNames(tenantId);
    expect(names).toEqual({ key: 'FLOWS_PRIVATE_KEY_ACME_LETTINGS', passphrase: 'FLOWS_PRIVATE_KEY_PASSPHRASE_ACME_LETTINGS' });
    const env: Record<string, string | undefined> = { FLOWS_PRIVATE_KEY: pair.privateKey, [names.key]: own.privateKey, [names.passphrase]: 'tenant passphrase 123' };
    const reads: string[] = [];
    const source = new SettingsSecretProvider(env);
    const counting = { get: async (name: Parameters<typeof source.get>[0]) => (reads.push(name), source.get(name)) };
    const clock = new ManualClock();
    const store = new CachedFlowKeys(counting, clock, 60_000);

    const tenantKey = await store.privateKeyFor(tenantId);
    expect(tenantKey.ok && tenantKey.source).toBe('tenant');
    const fallback = await store.privateKeyFor('other-tenant' as TenantId);
    expect(fallback.ok && fallback.source).toBe('default');
    const readsBefore = reads.length;
    await store.privateKeyFor(tenantId);
    expect(reads.length).toBe(readsBefore);
    clock.advance(61_000);
    await store.privateKeyFor(tenantId);
    expect(reads.length).toBeGreaterThan(readsBefore);

    const broken = new CachedFlowKeys(new SettingsSecretProvider({ [names.key]: own.privateKey, [names.passphrase]: 'wrong passphrase' }), clock);
    expect(await broken.privateKeyFor(tenantId)).toEqual({ ok: false, reason: 'unreadable' });
    expect(await new CachedFlowKeys(new SettingsSecretProvider({}), clock).privateKeyFor(tenantId)).toEqual({ ok: false, reason: 'missing' });
  });
});
