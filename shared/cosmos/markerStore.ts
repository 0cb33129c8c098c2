import type { Container } from '@azure/cosmos';
import { isConflict, isNotFound } from './cosmosStore';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import type { Marker, MarkerKind, MarkerStore } from '../markers/markerStore';

/** The markers in Cosmos (`markers`, partition `/pk` = `<tenantId>|<kind>|<key>`). */
export class CosmosMarkerStore implements MarkerStore {
  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
  ) {}

  private ids(kind: MarkerKind, tenantId: TenantId, key: string) {
    return { id: `${kind}:${key}`, pk: `${tenantId}|${kind}|${key}` };
  }

  async get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined> {
    const { id, pk } = this.ids(kind, tenantId, key);
    try {
      const { resource } = await this.container.item(id, pk).read<Marker>();
      if (!resource) return undefined;
      // The emulator ignores TTL; real Cosmos hides expired items at once. Treat both alike.
      if (resource.expiresAt && resource.expiresAt <= this.clock.now().toISOString()) return undefined;
      return resource;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Writes (or overwrites) a marker; `ttlSeconds` -1 keeps it until deleted. */
  async put(kind: MarkerKind, tenantId: TenantId, key: string, options: { ttlSeconds?: number; data?: Marker['data']; at?: Date } = {}): Promise<Marker> {
    const now = options.at ?? this.clock.now();
    const ttl = options.ttlSeconds ?? -1;
    const marker: Marker = {
      ...this.ids(kind, tenantId, key),
      kind,
      tenantId,
      key,
      at: now.toISOString(),
      ttl,
      ...(ttl > 0 ? { expiresAt: new Date(this.clock.now().getTime() + ttl * 1000).toISOString() } : {}),
      ...(options.data ? { data: options.data } : {}),
    };
    await this.container.items.upsert(marker);
    return marker;
  }

  /**
   * Claims a key once: true for the first caller, false when it exists already. Used for idempotency,
   * so two concurrent deliveries of one message id do not both proceed.
   */
  async claim(kind: MarkerKind, tenantId: TenantId, key: string, ttlSeconds: number): Promise<boolean> {
    const existing = await this.get(kind, tenantId, key);
    if (existing) return false;
    const now = this.clock.now();
    try {
      await this.container.items.create({
        ...this.ids(kind, tenantId, key),
        kind,
        tenantId,
        key,
        at: now.toISOString(),
        ttl: ttlSeconds,
        expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      } satisfies Marker);
      return true;
    } catch (error) {
      if (isConflict(error)) {
        // An expired marker the emulator kept: replace it and claim.
        const again = await this.get(kind, tenantId, key);
        if (again) return false;
        await this.put(kind, tenantId, key, { ttlSeconds });
        return true;
      }
      throw error;
    }
  }

  async delete(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void> {
    const { id, pk } = this.ids(kind, tenantId, key);
    try {
      await this.container.item(id, pk).delete();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
