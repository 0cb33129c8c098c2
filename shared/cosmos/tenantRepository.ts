import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { isConflict, isNotFound, isPreconditionFailed } from './cosmosStore';
import type { Clock } from '../domain/clock';
import { tenantIdSchema, type TenantId } from '../domain/ids';
import { tenantSchema, type Tenant, type TenantInput } from '../tenants/tenant';
import { PhoneNumberIdTakenError, type TenantRepository } from '../tenants/tenantRepository';

/**
 * Which tenant holds a WhatsApp phone number id: one document per id in the `tenants` container, its id
 * `phone-number-id|<digits>` (a tenant id cannot contain `|`), so its own partition. Created with `create`,
 * which Cosmos answers 409 when it exists: the one atomic step that makes an id one tenant's. Deleted (etag
 * guarded) when the tenant stops listing the id or is deleted.
 */
export const PHONE_NUMBER_CLAIM = 'phone-number-claim';
const claimSchema = z.object({ id: z.string(), kind: z.literal(PHONE_NUMBER_CLAIM), tenantId: tenantIdSchema, phoneNumberId: z.string(), claimedAt: z.string() });
type Claim = z.infer<typeof claimSchema>;

export function phoneNumberClaimId(phoneNumberId: string): string {
  return `phone-number-id|${phoneNumberId}`;
}

/**
 * A claim older than this whose tenant does not list the id (its PUT crashed between the claim and the
 * tenant's write, or a release failed) may be taken over. Far above any PUT's duration, so a claim of a
 * PUT still in flight is never taken.
 */
export const STALE_CLAIM_MS = 5 * 60_000;

/** Tenant documents are the container's documents without a `kind` (claims have one). */
const TENANTS_ONLY = 'NOT IS_DEFINED(c.kind)';

/**
 * Tenants in Cosmos (`tenants`, partition `/id`), with a claim document per phone number id. Webhooks look
 * a tenant up by phone number id on every delivery, so lookups are cached for a short while; a changed
 * tenant is seen within `cacheMs`.
 *
 * Tenants written before the claims existed get theirs once per process, before its first lookup or write
 * (`claimsOfStoredTenants`): a cross-partition read of the tenants and the claims, and a `create` for each
 * missing claim. Two stored tenants listing one id (possible before) keep it for whichever claims first;
 * the other's next PUT gets the 409 that says which field to fix.
 */
export class CosmosTenantRepository implements TenantRepository {
  private byPhone = new Map<string, { tenant: Tenant | undefined; until: number }>();
  private migrated: Promise<void> | undefined;

  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
    private readonly cacheMs = 30_000,
  ) {}

  async get(id: TenantId): Promise<Tenant | undefined> {
    try {
      const { resource } = await this.container.item(id, id).read<Record<string, unknown>>();
      return resource && resource.kind === undefined ? tenantSchema.parse(resource) : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(): Promise<Tenant[]> {
    const { resources } = await this.container.items.query<Record<string, unknown>>(`SELECT * FROM c WHERE ${TENANTS_ONLY}`).fetchAll();
    return resources.map((r) => tenantSchema.parse(r));
  }

  /**
   * Claims every id the configuration lists (in order; the first held by another tenant stops the PUT, the
   * ids claimed so far are released, nothing else is written), writes the tenant, then releases the ids
   * it no longer lists.
   */
  async put(id: TenantId, input: TenantInput): Promise<{ tenant: Tenant; created: boolean; previous?: Tenant }> {
    await this.claimsOfStoredTenants();
    const previous = await this.get(id);
    const now = this.clock.now().toISOString();
    const tenant: Tenant = tenantSchema.parse({ ...input, id, createdAt: previous?.createdAt ?? now, updatedAt: now, ...(previous?.cancelledAt ? { cancelledAt: previous.cancelledAt } : {}) });
    const claimedNow: string[] = [];
    try {
      for (const [index, phoneNumberId] of tenant.phoneNumberIds.entries()) {
        const result = await this.claim(phoneNumberId, id);
        if (typeof result === 'object') throw new PhoneNumberIdTakenError(index, result.owner);
        if (result === 'claimed') claimedNow.push(phoneNumberId);
      }
      await this.container.items.upsert({ ...tenant, ttl: -1 });
    } catch (error) {
      await Promise.all(claimedNow.map((phoneNumberId) => this.release(phoneNumberId, id).catch(() => undefined)));
      throw error;
    } finally {
      this.byPhone.clear();
    }
    for (const released of previous?.phoneNumberIds.filter((p) => !tenant.phoneNumberIds.includes(p)) ?? []) await this.release(released, id);
    return { tenant, created: previous === undefined, ...(previous ? { previous } : {}) };
  }

  async save(tenant: Tenant): Promise<void> {
    await this.container.items.upsert({ ...tenantSchema.parse(tenant), ttl: -1 });
    this.byPhone.clear();
  }

  async delete(id: TenantId): Promise<void> {
    const tenant = await this.get(id);
    try {
      await this.container.item(id, id).delete();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const { resources: claims } = await this.container.items
      .query<Record<string, unknown>>({ query: 'SELECT * FROM c WHERE c.kind = @kind AND c.tenantId = @tenantId', parameters: [{ name: '@kind', value: PHONE_NUMBER_CLAIM }, { name: '@tenantId', value: id }] })
      .fetchAll();
    const held = new Set([...(tenant?.phoneNumberIds ?? []), ...claims.map((c) => String(c.phoneNumberId))]);
    for (const phoneNumberId of held) await this.release(phoneNumberId, id);
    this.byPhone.clear();
  }

  /** The tenant that holds a WhatsApp phone number id (its claim, and the tenant still lists it), or undefined. */
  async findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined> {
    const now = this.clock.now().getTime();
    const cached = this.byPhone.get(phoneNumberId);
    if (cached && cached.until > now) return cached.tenant;
    await this.claimsOfStoredTenants();
    const claim = await this.readClaim(phoneNumberId);
    const owner = claim ? await this.get(claim.claim.tenantId) : undefined;
    const tenant = owner?.phoneNumberIds.includes(phoneNumberId) ? owner : undefined;
    this.byPhone.set(phoneNumberId, { tenant, until: now + this.cacheMs });
    return tenant;
  }

  /** 'claimed' (now), 'ours' (already), or the tenant that holds it. */
  private async claim(phoneNumberId: string, tenantId: TenantId): Promise<'claimed' | 'ours' | { owner: TenantId }> {
    const id = phoneNumberClaimId(phoneNumberId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.clock.now();
      const doc: Claim & { ttl: number } = { id, kind: PHONE_NUMBER_CLAIM, tenantId, phoneNumberId, claimedAt: now.toISOString(), ttl: -1 };
      try {
        await this.container.items.create(doc);
        return 'claimed';
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const held = await this.readClaim(phoneNumberId);
      if (!held) continue; // released meanwhile: create again
      if (held.claim.tenantId === tenantId) return 'ours';
      const owner = await this.get(held.claim.tenantId);
      const stale = !owner?.phoneNumberIds.includes(phoneNumberId) && now.getTime() - Date.parse(held.claim.claimedAt) > STALE_CLAIM_MS;
      if (!stale) return { owner: held.claim.tenantId };
      try {
        await this.container.item(id, id).replace(doc, { accessCondition: { type: 'IfMatch', condition: held.etag } });
        return 'claimed';
      } catch (error) {
        if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
      }
    }
    const held = await this.readClaim(phoneNumberId);
    return held && held.claim.tenantId !== tenantId ? { owner: held.claim.tenantId } : 'ours';
  }

  /** Deletes the claim if it is this tenant's (etag-guarded: a claim taken over meanwhile stays). */
  private async release(phoneNumberId: string, tenantId: TenantId): Promise<void> {
    const held = await this.readClaim(phoneNumberId);
    if (!held || held.claim.tenantId !== tenantId) return;
    const id = phoneNumberClaimId(phoneNumberId);
    try {
      await this.container.item(id, id).delete({ accessCondition: { type: 'IfMatch', condition: held.etag } });
    } catch (error) {
      if (!isNotFound(error) && !isPreconditionFailed(error)) throw error;
    }
  }

  private async readClaim(phoneNumberId: string): Promise<{ claim: Claim; etag: string } | undefined> {
    const id = phoneNumberClaimId(phoneNumberId);
    try {
      const { resource, etag } = await this.container.item(id, id).read<Record<string, unknown>>();
      return resource ? { claim: claimSchema.parse(resource), etag } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Once per process (again after a failure): every stored tenant's ids claimed, for tenants stored before the claims. */
  private claimsOfStoredTenants(): Promise<void> {
    this.migrated ??= this.claimMissing().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  private async claimMissing(): Promise<void> {
    const [tenants, claimed] = await Promise.all([
      this.container.items.query<{ id: string; phoneNumberIds?: unknown }>(`SELECT c.id, c.phoneNumberIds FROM c WHERE ${TENANTS_ONLY}`).fetchAll(),
      this.container.items.query<string>({ query: 'SELECT VALUE c.phoneNumberId FROM c WHERE c.kind = @kind', parameters: [{ name: '@kind', value: PHONE_NUMBER_CLAIM }] }).fetchAll(),
    ]);
    const held = new Set(claimed.resources);
    // Oldest configuration first is not known here; the query's order decides between two legacy owners.
    for (const tenant of tenants.resources) {
      const tenantId = tenantIdSchema.safeParse(tenant.id);
      if (!tenantId.success || !Array.isArray(tenant.phoneNumberIds)) continue;
      for (const phoneNumberId of tenant.phoneNumberIds) {
        if (typeof phoneNumberId !== 'string' || held.has(phoneNumberId)) continue;
        await this.claim(phoneNumberId, tenantId.data);
        held.add(phoneNumberId);
      }
    }
  }
}
