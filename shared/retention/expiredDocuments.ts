import type { TenantId } from '../domain/ids';
import { forEachLimited, type TimeBudget } from './budget';

/**
 * Documents whose `expiresAt` has passed but which are still there: Cosmos TTL was lost (a write without
 * `ttl`, a container with TTL off) or is not honoured (cosmosdb-server). Found with a range query on
 * `expiresAt`, so the cost follows what expired, not what is stored. Documents without `expiresAt`
 * (tombstones, suppressions, checkpoints: `ttl` -1) never match.
 */
export interface ExpiredDocument {
  id: string;
  pk: string;
  /** The subject document type or marker kind, for the counts. */
  kind: string;
  etag: string;
}

export type DeleteOutcome = 'deleted' | 'gone' | 'changed';

export interface ExpiredDocumentSource {
  /** Up to `max` of the tenant's documents with `expiresAt <= now`. */
  findExpired(tenantId: TenantId, now: Date, max: number): Promise<ExpiredDocument[]>;
  /** Deletes it unless it changed since it was found (a contact refreshed by activity meanwhile). */
  delete(document: ExpiredDocument): Promise<DeleteOutcome>;
}

export type DocumentPhaseOutcome = { done: boolean };

/**
 * Deletes the tenant's expired documents a page at a time until none is left or the budget is spent.
 * No continuation token: deleted documents drop out of the query, so each page starts from the top, and
 * a resumed run needs nothing but the phase. A page where nothing could be deleted ends the phase
 * (every document changed meanwhile), so the loop cannot spin.
 */
export async function sweepExpiredDocuments(input: {
  source: ExpiredDocumentSource;
  tenantId: TenantId;
  now: Date;
  budget: TimeBudget;
  pageSize: number;
  concurrency: number;
  counts: Record<string, number>;
  operations: { queries: number; deletes: number };
  saveProgress: () => Promise<void>;
}): Promise<DocumentPhaseOutcome> {
  for (;;) {
    const page = await input.source.findExpired(input.tenantId, input.now, input.pageSize);
    input.operations.queries += 1;
    if (page.length === 0) return { done: true };
    let progressed = false;
    await forEachLimited(page, input.concurrency, async (document) => {
      input.operations.deletes += 1;
      const outcome = await input.source.delete(document);
      if (outcome !== 'changed') progressed = true;
      if (outcome === 'deleted') input.counts[document.kind] = (input.counts[document.kind] ?? 0) + 1;
    });
    await input.saveProgress();
    if (!progressed || page.length < input.pageSize) return { done: true };
    if (input.budget.exhausted()) return { done: false };
  }
}
