import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import { refreshSecrets, type SecretKey, type SecretProvider } from '../secrets/secretProvider';

/**
 * The Flows endpoint's RSA private key, per tenant: `FLOWS_PRIVATE_KEY_<TENANT>` (tenant id upper-cased,
 * `-` as `_`; in Key Vault `FLOWS-PRIVATE-KEY-<TENANT>`) with `FLOWS_PRIVATE_KEY_PASSPHRASE_<TENANT>`,
 * else the app-wide `FLOWS_PRIVATE_KEY` / `FLOWS_PRIVATE_KEY_PASSPHRASE`.
 */
export function flowsKeySecretNames(tenantId: TenantId): { key: SecretKey; passphrase: SecretKey } {
  const suffix = tenantId.replace(/-/g, '_').toUpperCase();
  return { key: `FLOWS_PRIVATE_KEY_${suffix}`, passphrase: `FLOWS_PRIVATE_KEY_PASSPHRASE_${suffix}` };
}

export type FlowKeyLookup =
  | { ok: true; key: KeyObject; source: 'tenant' | 'default' }
  | { ok: false; reason: 'missing' | 'unreadable' };

export interface FlowKeySource {
  privateKeyFor(tenantId: TenantId): Promise<FlowKeyLookup>;
  /**
   * A request the cached key cannot decrypt (the key may have been rotated in Key Vault since): the key
   * secrets are read again (rate-limited in the secret provider) and, if they changed, the parsed key is
   * dropped. Resolves whether a different key is now there to try.
   */
  refresh?(tenantId: TenantId): Promise<boolean>;
}

/**
 * Reads and parses the key through the secret provider, and keeps the parsed KeyObject for `ttlMs`:
 * parsing an encrypted PEM (scrypt/PBKDF2 on the passphrase) costs milliseconds, which every request
 * would otherwise pay. A rotated key is picked up when the entry expires. A key that is missing or
 * cannot be parsed is not cached, so fixing the secret takes effect on the next request.
 */
export class CachedFlowKeys implements FlowKeySource {
  private readonly entries = new Map<TenantId, { value: Promise<FlowKeyLookup>; expiresAt: number }>();

  constructor(
    private readonly secrets: SecretProvider,
    private readonly clock: Clock,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  privateKeyFor(tenantId: TenantId): Promise<FlowKeyLookup> {
    const now = this.clock.now().getTime();
    const cached = this.entries.get(tenantId);
    if (cached && cached.expiresAt > now) return cached.value;
    const value = this.load(tenantId);
    this.entries.set(tenantId, { value, expiresAt: now + this.ttlMs });
    void value.then(
      (result) => {
        if (!result.ok) this.entries.delete(tenantId);
      },
      () => this.entries.delete(tenantId),
    );
    return value;
  }

  async refresh(tenantId: TenantId): Promise<boolean> {
    const names = flowsKeySecretNames(tenantId);
    const changed = await refreshSecrets(this.secrets, [names.key, names.passphrase, 'FLOWS_PRIVATE_KEY', 'FLOWS_PRIVATE_KEY_PASSPHRASE']);
    if (changed) this.entries.delete(tenantId);
    return changed;
  }

  private async load(tenantId: TenantId): Promise<FlowKeyLookup> {
    const names = flowsKeySecretNames(tenantId);
    const tenantPem = await this.secrets.get(names.key);
    const [pem, passphrase, source] = tenantPem
      ? [tenantPem, await this.secrets.get(names.passphrase), 'tenant' as const]
      : [await this.secrets.get('FLOWS_PRIVATE_KEY'), await this.secrets.get('FLOWS_PRIVATE_KEY_PASSPHRASE'), 'default' as const];
    if (!pem) return { ok: false, reason: 'missing' };
    try {
      // App settings often carry a PEM with literal "\n" sequences: accept both.
      const key = createPrivateKey({ key: pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
      return { ok: true, key, source };
    } catch {
      return { ok: false, reason: 'unreadable' };
    }
  }
}
