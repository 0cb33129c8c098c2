import { describe, expect, it } from 'vitest';
import type { TenantId } from '../../shared/domain';
import { CachedSecretProvider, hubspotTokenSecret, keyVaultNameOf, MissingSecretError, requireSecret, SettingsSecretProvider, type SecretKey, type SecretProvider } from '../../shared/secrets';
import { ManualClock } from '../doubles';

class RotatingSource implements SecretProvider {
  calls = 0;
  constructor(public value: string | undefined) {}
  async get(_name: SecretKey) {
    this.calls += 1;
    return this.value;
  }
}

describe('secret provider', () => {
  it('a rotated secret is picked up after the cache expires, without a restart', async () => {
    const clock = new ManualClock();
    const source = new RotatingSource('old');
    const secrets = new CachedSecretProvider(source, 300_000, clock);
    expect(await secrets.get('WHATSAPP_APP_SECRET')).toBe('old');
    source.value = 'new';
    expect(await secrets.get('WHATSAPP_APP_SECRET')).toBe('old');
    expect(source.calls).toBe(1);
    clock.advance(300_001);
    expect(await secrets.get('WHATSAPP_APP_SECRET')).toBe('new');
  });

  it('a failed fetch is not cached', async () => {
    let fail = true;
    const secrets = new CachedSecretProvider({ get: async () => { if (fail) throw new Error('vault unreachable'); return 'v'; } }, 60_000, new ManualClock());
    await expect(secrets.get('SUBJECT_HASH_KEY')).rejects.toThrow('vault unreachable');
    fail = false;
    expect(await secrets.get('SUBJECT_HASH_KEY')).toBe('v');
  });

  it('app settings are the source without Key Vault; blank means not set', async () => {
    const secrets = new SettingsSecretProvider({ WHATSAPP_APP_SECRET: 'a', WHATSAPP_APP_SECRET_PREVIOUS: '  ' });
    expect(await secrets.get('WHATSAPP_APP_SECRET')).toBe('a');
    expect(await secrets.get('WHATSAPP_APP_SECRET_PREVIOUS')).toBeUndefined();
    await expect(requireSecret(secrets, 'FLOWS_PRIVATE_KEY')).rejects.toBeInstanceOf(MissingSecretError);
  });

  it('per-tenant HubSpot tokens have one name in settings and a dash form in Key Vault', () => {
    const name = hubspotTokenSecret('acme-uk' as TenantId);
    expect(name).toBe('HUBSPOT_TOKEN_ACME_UK');
    expect(keyVaultNameOf(name)).toBe('HUBSPOT-TOKEN-ACME-UK');
    expect(keyVaultNameOf('WHATSAPP_APP_SECRET')).toBe('WHATSAPP-APP-SECRET');
  });
});
