import type { Container } from '@azure/cosmos';
import type { SubjectHash, TenantId } from '../domain/ids';
import type { IdentityLinkStore } from '../identity/identityLinks';
import { isConflict, isNotFound, isPreconditionFailed } from './cosmosStore';

const MAX_ATTEMPTS = 8;

interface IdentityDocument {
  id: string;
  pk: string;
  kind: 'identity';
  tenantId: TenantId;
  key: SubjectHash;
  links: SubjectHash[];
  at: string;
  ttl: -1;
}

/**
 * Identity links in the Cosmos `markers` container: one document per identifier (`identity:<hash>`,
 * partition `<tenantId>|identity|<hash>`) listing the identifiers linked to it, keyed hashes only. Kept
 * until deleted (a link outlives the data so a later erasure still finds the whole person); an account
 * cancellation deletes the tenant's markers.
 */
export class CosmosIdentityLinkStore implements IdentityLinkStore {
  constructor(
    private readonly container: Container,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private ids(tenantId: TenantId, hash: SubjectHash) {
    return { id: `identity:${hash}`, pk: `${tenantId}|identity|${hash}` };
  }

  private async read(tenantId: TenantId, hash: SubjectHash): Promise<{ doc: IdentityDocument; etag: string } | undefined> {
    const { id, pk } = this.ids(tenantId, hash);
    try {
      const { resource } = await this.container.item(id, pk).read<IdentityDocument & { _etag: string }>();
      return resource ? { doc: resource, etag: resource._etag } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async neighbours(tenantId: TenantId, hash: SubjectHash): Promise<SubjectHash[]> {
    return (await this.read(tenantId, hash))?.doc.links ?? [];
  }

  async addLinks(tenantId: TenantId, hash: SubjectHash, others: readonly SubjectHash[]): Promise<SubjectHash[]> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(tenantId, hash);
      const known = new Set(current?.doc.links ?? []);
      const added = [...new Set(others)].filter((h) => h !== hash && !known.has(h));
      if (added.length === 0) return [];
      const doc: IdentityDocument = {
        ...this.ids(tenantId, hash),
        kind: 'identity',
        tenantId,
        key: hash,
        links: [...known, ...added],
        at: this.now().toISOString(),
        ttl: -1,
      };
      try {
        if (current) await this.container.item(doc.id, doc.pk).replace(doc, { accessCondition: { type: 'IfMatch', condition: current.etag } });
        else await this.container.items.create(doc);
        return added;
      } catch (error) {
        const raced = current ? isPreconditionFailed(error) || isNotFound(error) : isConflict(error);
        if (!raced || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}
