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
  /**
   * Re-reads these secrets from their source now, if the provider caches (a rotation may have happened since
   * they were read): at most once per secret every REFRESH_INTERVAL_MS, concurrent callers sharing one read.
   * Resolves whether any value changed.
   */
  refresh?(names: readonly SecretKey[]): Promise<boolean>;
}

/** A secret is re-read on a suspected rotation at most this often: a forged signature cannot drive Key Vault calls. */
export const REFRESH_INTERVAL_MS = 30_000;

/** Asks a caching provider to re-read these secrets (rate-limited there); false when nothing changed or it does not cache. */
export async function refreshSecrets(provider: SecretProvider, names: readonly SecretKey[]): Promise<boolean> {
  return provider.refresh ? provider.refresh(names) : false;
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
  /** Per secret: the last forced re-read (when it started, and its promise: shared by concurrent callers). */
  private readonly refreshes = new Map<SecretKey, { at: number; changed: Promise<boolean> }>();
  /** Forced re-reads that reached the source: a figure for tests and the runbook. */
  refreshCount = 0;

  constructor(
    private readonly source: SecretProvider,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly refreshIntervalMs = REFRESH_INTERVAL_MS,
  ) {}

  /**
   * Re-reads the named secrets from the source unless each was re-read less than the refresh interval ago;
   * a refresh in flight is shared. A rotated secret is then picked up at once instead of after the cache
   * lifetime, and a flood of bad signatures costs at most one read per secret per interval.
   */
  async refresh(names: readonly SecretKey[]): Promise<boolean> {
    const changed = await Promise.all(names.map((name) => this.refreshOne(name)));
    return changed.some(Boolean);
  }

  private refreshOne(name: SecretKey): Promise<boolean> {
    const now = this.clock.now().getTime();
    const last = this.refreshes.get(name);
    if (last && now - last.at < this.refreshIntervalMs) return last.changed;
    const previous = this.entries.get(name)?.value.catch(() => undefined) ?? Promise.resolve(undefined);
    this.refreshCount += 1;
    const value = this.source.get(name);
    this.entries.set(name, { value, expiresAt: now + this.ttlMs });
    value.catch(() => this.entries.delete(name));
    const changed = Promise.all([previous, value]).then(([before, after]) => before !== after, () => false);
    this.refreshes.set(name, { at: now, changed });
    return changed;
  }

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
