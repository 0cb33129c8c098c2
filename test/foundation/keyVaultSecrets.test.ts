import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedSecretProvider, KeyVaultSecretProvider } from '../../shared/secrets';
import { startKeyVaultFake, type KeyVaultFake } from '../fakes/keyVault';
import { ManualClock } from '../doubles';

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let vault: KeyVaultFake;
beforeAll(async () => {
  vault = await startKeyVaultFake();
});
afterAll(async () => {
  await vault?.close();
});

describe('Key Vault secret provider (real SDK against a loopback Key Vault)', () => {
  const provider = () => new KeyVaultSecretProvider(vault.url, credential, { disableChallengeResourceVerification: true, allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });

  it('reads a secret under its dash-separated name after the authentication challenge', async () => {
    vault.secrets.set('WHATSAPP-APP-SECRET', 'from-the-vault');
    expect(await provider().get('WHATSAPP_APP_SECRET')).toBe('from-the-vault');
    expect(vault.requests.some((r) => !r.authorized)).toBe(true);
    expect(vault.requests.at(-1)).toEqual({ path: '/secrets/WHATSAPP-APP-SECRET/', authorized: true });
  });

  it('a secret that does not exist is undefined, not an error', async () => {
    expect(await provider().get('WHATSAPP_APP_SECRET_PREVIOUS')).toBeUndefined();
  });

  it('a rotated secret in the vault is served after the cache expires', async () => {
    const clock = new ManualClock();
    const cached = new CachedSecretProvider(provider(), 300_000, clock);
    vault.secrets.set('HUBSPOT-TOKEN-ACME', 'v1');
    expect(await cached.get('HUBSPOT_TOKEN_ACME')).toBe('v1');
    vault.secrets.set('HUBSPOT-TOKEN-ACME', 'v2');
    expect(await cached.get('HUBSPOT_TOKEN_ACME')).toBe('v1');
    clock.advance(300_001);
    expect(await cached.get('HUBSPOT_TOKEN_ACME')).toBe('v2');
  });
});
