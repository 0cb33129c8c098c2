import type { SecretName } from '../config/settings';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';

/** A secret's name: one of the app's secrets, a per-tenant HubSpot token, or a per-tenant Flows key (and its passphrase). */
export type SecretKey = SecretName | `HUBSPOT_TOKEN_${string}` | `FLOWS_PRIVATE_KEY_${string}`;

export function hubspotTokenSecret(tenantId: TenantId): SecretKey {
  return `HUBSPOT_TOKEN_${tenantId.replace(/-/g, '_').toUpperCase()}`;
}

/** Where every secret comes from. `undefined` means "not set", never an empty string. */
export interface SecretProvider {
  get(name: SecretKey): Promise<string | undefined>;
}

export class MissingSecretError extends Error {
  constructor(readonly secretName: SecretKey) {
    super(`Secret ${secretName} is not set`);
    this.name = 'MissingSecretError';
  }
}

export async function requireSecret(provider: SecretProvider, name: SecretKey): Promise<string> {
  const value = await provider.get(name);
  if (value === undefined) throw new MissingSecretError(name);
  return value;
}

/** App settings as the source: local runs, tests, and deployments without Key Vault. */
export class SettingsSecretProvider implements SecretProvider {
  constructor(private readonly env: Record<string, string | undefined>) {}
  async get(name: SecretKey): Promise<string | undefined> {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }
}

/**
 * Caches each secret for a while so a request does not cost a Key Vault call, yet a rotated secret is
 * picked up without a restart once the entry expires. Concurrent misses share one fetch.
 */
export class CachedSecretProvider implements SecretProvider {
  private readonly entries = new Map<SecretKey, { value: Promise<string | undefined>; expiresAt: number }>();

  constructor(
    private readonly source: SecretProvider,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  get(name: SecretKey): Promise<string | undefined> {
    const now = this.clock.now().getTime();
    const cached = this.entries.get(name);
    if (cached && cached.expiresAt > now) return cached.value;
    const value = this.source.get(name);
    this.entries.set(name, { value, expiresAt: now + this.ttlMs });
    // A failed fetch must not be cached: the next call tries again.
    value.catch(() => this.entries.delete(name));
    return value;
  }
}
