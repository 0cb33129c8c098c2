import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import { type PrivacyRequestDocument, type PrivacyTask } from '../../shared/privacy';
import { testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { CosmosPrivacyRequestRepository } from '../../shared/cosmos';

let services: TestServices;
beforeAll(async () => {
  services = await testServices();
});
afterAll(async () => {
  await services?.close();
});

const STORES = ['cosmos', 'blob', 'hubspot'] as const;

function requestDocument(): PrivacyRequestDocument {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    docType: 'request',
    tenantId: uniqueTenantId('repo') as TenantId,
    type: 'erasure',
    scope: 'all',
    channel: 'admin',
    subjectHash: 'a'.repeat(64) as SubjectHash,
    openKey: randomUUID(),
    status: 'in_progress',
    receivedAt: now,
    dueAt: now,
    updatedAt: now,
    attempts: 0,
    tasks: STORES.map((store): PrivacyTask => ({ store, status: 'pending', attempts: 0, generation: 0, rateLimited: 0, counts: { found: 0, deleted: 0 } })),
    ttl: -1,
  };
}

/** What a store task writes when it finishes: its own task done (declines when that is already so). */
function finishTask(store: (typeof STORES)[number]) {
  return (doc: PrivacyRequestDocument): PrivacyRequestDocument | undefined => {
    const task = doc.tasks.find((t) => t.store === store)!;
    if (task.status === 'done') return undefined;
    task.status = 'done';
    task.counts = { found: 1, deleted: 1 };
    return doc;
  };
}

function replacesOf(repository: CosmosPrivacyRequestRepository): { count: number; failed: number } {
  const container = (repository as unknown as { container: { item: (id: string, pk: string) => { replace: (...args: unknown[]) => Promise<unknown> } } }).container;
  const tally = { count: 0, failed: 0 };
  const item = container.item.bind(container);
  vi.spyOn(container, 'item').mockImplementation((id: string, pk: string) => {
    const handle = item(id, pk);
    const replace = handle.replace.bind(handle);
    handle.replace = async (...args: unknown[]) => {
      tally.count += 1;
      return replace(...args).catch((error: unknown) => {
        tally.failed += 1;
        throw error;
      });
    };
    return handle;
  });
  return tally;
}

describe('the privacy request repository', () => {
  it("the store tasks of one request finishing at once take turns: every change lands, none is written twice", async () => {
    const repository = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const created = await repository.create(requestDocument());
    const started = await repository.read(created.doc.id); // what each task read when it started
    const replaces = replacesOf(repository);
    const reads = vi.spyOn(repository, 'read');

    const results = await Promise.all(STORES.map((store) => repository.mutate(created.doc.id, finishTask(store), started)));

    expect(results.every((r) => r?.changed)).toBe(true);
    const stored = await repository.get(created.doc.id);
    expect(stored!.tasks.map((t) => t.status)).toEqual(['done', 'done', 'done']);
    expect(replaces).toEqual({ count: 3, failed: 0 }); // no etag conflict, so no second write
    expect(reads).toHaveBeenCalledTimes(1); // only the check above: no re-read after a conflict
    vi.restoreAllMocks();
  });

  it('a version written by another instance meanwhile is not overwritten: the stale copy fails its precondition and the change is re-applied', async () => {
    const mine = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const other = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const created = await mine.create(requestDocument());
    await other.mutate(created.doc.id, finishTask('blob')); // the other instance: this one does not know
    const replaces = replacesOf(mine);

    const result = await mine.mutate(created.doc.id, finishTask('cosmos'));

    expect(result?.changed).toBe(true);
    expect(replaces).toEqual({ count: 2, failed: 1 }); // the remembered version was stale: refused, read, written
    const stored = await mine.get(created.doc.id);
    expect(stored!.tasks.filter((t) => t.status === 'done').map((t) => t.store).sort()).toEqual(['blob', 'cosmos']);
    vi.restoreAllMocks();
  });

  it("the next step of a request reads what this instance wrote a moment ago without a round trip; another instance reads Cosmos", async () => {
    // A minute of "a moment ago": a slow CI machine must not turn the read-back into a round trip.
    const mine = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock, { recentMs: 60_000 });
    const other = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const created = await mine.create(requestDocument());
    const written = await mine.mutate(created.doc.id, finishTask('cosmos'));
    const [mineReads, otherReads] = [vi.spyOn(mine, 'read'), vi.spyOn(other, 'read')];

    const step = await mine.readForStep(created.doc.id);
    expect(step).toEqual({ doc: written!.doc, etag: written!.etag });
    step!.doc.tasks[0]!.status = 'failed'; // a copy: the caller cannot change what is remembered
    expect((await mine.readForStep(created.doc.id))!.doc.tasks[0]!.status).toBe('done');
    expect(mineReads).not.toHaveBeenCalled();

    expect((await other.readForStep(created.doc.id))!.etag).toBe(written!.etag);
    expect(otherReads).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
  });

  it('a change that declines on a copy in hand is decided again on the stored document', async () => {
    const mine = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const other = new CosmosPrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
    const created = await mine.create(requestDocument());
    await mine.mutate(created.doc.id, finishTask('hubspot'));
    // Another instance re-drives the HubSpot task (an admin retry): pending again, next generation.
    await other.mutate(created.doc.id, (doc) => ({ ...doc, tasks: doc.tasks.map((t) => (t.store === 'hubspot' ? { ...t, status: 'pending' as const, generation: 1 } : t)) }));

    // This instance remembers the task as done; the stored document says pending: the change applies.
    const result = await mine.mutate(created.doc.id, finishTask('hubspot'));

    expect(result?.changed).toBe(true);
    expect((await mine.get(created.doc.id))!.tasks.find((t) => t.store === 'hubspot')).toMatchObject({ status: 'done', generation: 1 });
  });
});
