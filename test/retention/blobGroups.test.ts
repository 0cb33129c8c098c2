import { describe, expect, it } from 'vitest';
import { createdAtOf, runRetentionSweep, timeBudget, type BlobSweepTarget, type ExpiredDocumentSource, type ListedBlob } from '../../shared/retention';
import { tenantWith } from './support';
import { InMemoryCheckpoints, ManualClock, RecordingTelemetry } from '../doubles';

/**
 * A store that pages the way Azure does: an opaque position, so a blob's snapshots and versions continue
 * on the next page (Azurite instead skips the rest of the group). It also has versions, which Azurite lacks.
 */
class AzureLikeStore implements BlobSweepTarget {
  entries: ListedBlob[] = [];
  listCalls = 0;
  async listPage(prefix: string, options: { continuationToken?: string; maxPageSize: number }) {
    this.listCalls += 1;
    // The marker names the next entry (name and position in its group), so deletes meanwhile do not shift it.
    const matching = this.sorted().filter((e) => e.name.startsWith(prefix) && (!options.continuationToken || sortKey(e) >= options.continuationToken));
    const items = matching.slice(0, options.maxPageSize).map((e) => ({ ...e }));
    const next = matching[options.maxPageSize];
    return { items, ...(next ? { continuationToken: sortKey(next) } : {}) };
  }
  async deleteEntry(entry: Pick<ListedBlob, 'name' | 'snapshot' | 'versionId'>) {
    const before = JSON.stringify(this.entries);
    if (entry.snapshot || entry.versionId) {
      this.entries = this.entries.filter((e) => !(e.name === entry.name && e.snapshot === entry.snapshot && e.versionId === entry.versionId && isPrevious(e)));
    } else {
      // A base delete takes its snapshots; its previous versions stay, and with versioning the current
      // version becomes a previous one ("Blob versioning", Microsoft Learn).
      this.entries = this.entries
        .filter((e) => !(e.name === entry.name && (e.snapshot !== undefined || (e.versionId === undefined && !isPrevious(e)))))
        .map((e) => (e.name === entry.name && e.versionId !== undefined && e.isCurrentVersion === true ? { ...e, isCurrentVersion: false } : e));
    }
    return JSON.stringify(this.entries) !== before;
  }
  keys(): string[] {
    return this.sorted().map((e) => `${e.name}${e.snapshot ? `@s:${e.snapshot}` : ''}${e.versionId && isPrevious(e) ? `@v:${e.versionId}` : ''}`);
  }
  private sorted(): ListedBlob[] {
    return [...this.entries].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
  }
}

/** Azure lists a name's snapshots and previous versions (oldest first) before the base blob. */
function sortKey(e: ListedBlob): string {
  return `${e.name}\u0000${e.snapshot ?? (isPrevious(e) ? e.versionId! : '~')}`;
}

function isPrevious(e: ListedBlob): boolean {
  return e.versionId !== undefined && e.isCurrentVersion === false;
}

const noDocuments: ExpiredDocumentSource = { findExpired: async () => [], delete: async () => 'gone' };
const clock = new ManualClock(new Date('2026-06-01T00:00:00Z'));
const at = (days: number) => new Date(clock.now().getTime() - days * 86_400_000);

function portsFor(media: BlobSweepTarget, checkpoints = new InMemoryCheckpoints()) {
  const audit: { details: unknown }[] = [];
  return {
    audit,
    ports: {
      tenants: { list: async () => [tenantWith('t1', { mediaDays: 30 })] },
      media,
      exports: new AzureLikeStore(),
      markers: noDocuments,
      subjects: noDocuments,
      checkpoints,
      audit: { record: async (e: { details?: unknown }) => audit.push({ details: e.details }) },
      telemetry: new RecordingTelemetry(),
      clock,
    },
  };
}

describe('blob groups: snapshots and versions across pages', () => {
  it('a group continued on the next page (as Azure pages) is swept once and counted once', async () => {
    const store = new AzureLikeStore();
    const snaps = [at(45), at(44), at(43), at(42), at(41)].map((d) => d.toISOString().replace('Z', '0000Z'));
    store.entries = [
      { name: 't1/s/a.jpg', createdOn: at(50) },
      ...snaps.map((snapshot) => ({ name: 't1/s/a.jpg', snapshot })),
      { name: 't1/s/b.jpg', createdOn: at(1) },
      { name: 't1/s/c.jpg', createdOn: at(40) },
    ];
    const { ports, audit } = portsFor(store);
    const result = await runRetentionSweep(ports, { budget: timeBudget(60_000), blobPageSize: 2 });
    expect(result.status).toBe('completed');
    expect(store.keys()).toEqual(['t1/s/b.jpg']);
    expect(audit).toEqual([{ details: expect.objectContaining({ mediaBlobs: 2, mediaSnapshots: 5 }) }]);
  });

  it("an expired blob's previous versions go with it; a live blob keeps its young versions and loses the old ones", async () => {
    const store = new AzureLikeStore();
    const v = (d: Date) => d.toISOString().replace('Z', '0000Z');
    store.entries = [
      { name: 't1/s/old.jpg', versionId: v(at(60)), isCurrentVersion: false, createdOn: at(60) },
      { name: 't1/s/old.jpg', versionId: v(at(50)), isCurrentVersion: true, createdOn: at(60) },
      { name: 't1/s/live.jpg', versionId: v(at(40)), isCurrentVersion: false, createdOn: at(2) },
      { name: 't1/s/live.jpg', versionId: v(at(10)), isCurrentVersion: false, createdOn: at(2) },
      { name: 't1/s/live.jpg', versionId: v(at(2)), isCurrentVersion: true, createdOn: at(2) },
    ];
    const { ports, audit } = portsFor(store);
    await runRetentionSweep(ports, { budget: timeBudget(60_000), blobPageSize: 2 });
    expect(store.keys()).toEqual([`t1/s/live.jpg@v:${v(at(10))}`, 't1/s/live.jpg']);
    // old.jpg's previous version, the version its delete made of its current one, and live.jpg's 40-day one.
    expect(audit).toEqual([{ details: expect.objectContaining({ mediaBlobs: 1, mediaSnapshots: 3 }) }]);
  });

  it('cost follows the listing, not a second pass: one list call per page plus one per page end (the group it may cut)', async () => {
    const store = new AzureLikeStore();
    store.entries = Array.from({ length: 100 }, (_, i) => ({ name: `t1/s/${String(i).padStart(3, '0')}.jpg`, createdOn: at(i % 10 === 0 ? 40 : 1) }));
    const { ports } = portsFor(store);
    const result = await runRetentionSweep(ports, { budget: timeBudget(60_000), blobPageSize: 10 });
    // 10 pages of media, 9 listings of the name each page ended on (a page end may cut a group, and
    // which entry of a group a page ends on depends on the service's order), 1 (empty) page of exports;
    // 10 deletes for the 10 expired blobs.
    expect(result.operations).toMatchObject({ listPages: 20, listedEntries: 109, deletes: 10 });
    expect(store.entries).toHaveLength(90);
  });
});

describe('a tenant whose sweep fails', () => {
  it('does not block the other tenants, is retried from its checkpoint, and after 3 failures in a run is given up with an audit event', async () => {
    const store = new AzureLikeStore();
    store.entries = [
      { name: 'a/s/x.jpg', createdOn: at(40) },
      { name: 'b/s/x.jpg', createdOn: at(40) },
    ];
    const failingForA: BlobSweepTarget = {
      listPage: async (prefix, options) => {
        if (prefix.startsWith('a/')) throw Object.assign(new Error('Server busy'), { name: 'RestError', statusCode: 503 });
        return store.listPage(prefix, options);
      },
      deleteEntry: (entry) => store.deleteEntry(entry),
    };
    const checkpoints = new InMemoryCheckpoints();
    const audit: { tenantId: string; type: string; details?: unknown }[] = [];
    const telemetry = new RecordingTelemetry();
    const ports = {
      tenants: { list: async () => [tenantWith('a', { mediaDays: 30 }), tenantWith('b', { mediaDays: 30 })] },
      media: failingForA,
      exports: new AzureLikeStore(),
      markers: noDocuments,
      subjects: noDocuments,
      checkpoints,
      audit: { record: async (e: { tenantId: string; type: string; details?: unknown }) => audit.push(e) },
      telemetry,
      clock,
    };
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await runRetentionSweep(ports, { budget: timeBudget(60_000) })).status);
    expect(statuses).toEqual(['incomplete', 'incomplete', 'completed']);
    expect(store.keys()).toEqual(['a/s/x.jpg']);
    expect(audit.map((e) => `${e.tenantId}:${e.type}`)).toEqual(['b:retention.sweep.completed', 'a:retention.sweep.failed']);
    expect(audit[1]?.details).toMatchObject({ phase: 'media', failures: 3, error: 'RestError 503' });
    expect(telemetry.events.filter((e) => e.name === 'retention.sweep.failed').map((e) => e.dimensions.failures)).toEqual([1, 2, 3]);
    expect(checkpoints.saved.size).toBe(0);
    // The next run starts afresh and tries tenant a again.
    const next = await runRetentionSweep(ports, { budget: timeBudget(60_000) });
    expect(next).toMatchObject({ resumed: false, status: 'incomplete' });
  });
});

describe('creation time of a listed blob', () => {
  it('is the earlier of the storage time and the createdat metadata, so metadata can age a blob but never rejuvenate it', () => {
    const createdOn = new Date('2026-05-01T00:00:00Z');
    expect(createdAtOf({ name: 'a', createdOn, metadata: { createdat: '2026-04-01T00:00:00.000Z' } })).toEqual(new Date('2026-04-01T00:00:00Z'));
    expect(createdAtOf({ name: 'a', createdOn, metadata: { createdat: '2027-01-01T00:00:00.000Z' } })).toEqual(createdOn);
    expect(createdAtOf({ name: 'a', createdOn, metadata: { createdat: 'yesterday' } })).toEqual(createdOn);
    expect(createdAtOf({ name: 'a', snapshot: '2026-05-02T10:00:00.1234567Z', createdOn })).toEqual(new Date('2026-05-02T10:00:00.123Z'));
    expect(createdAtOf({ name: 'a' })).toBeUndefined();
  });

  it('a blob whose creation time cannot be told is kept, not guessed at', async () => {
    const store = new AzureLikeStore();
    store.entries = [{ name: 't1/s/undated.jpg' }];
    const { ports } = portsFor(store);
    await runRetentionSweep(ports, { budget: timeBudget(60_000) });
    expect(store.keys()).toEqual(['t1/s/undated.jpg']);
  });

  it('keeps each tenant to its own prefix: t1 is swept, t10 (same leading characters) is not', async () => {
    const store = new AzureLikeStore();
    store.entries = [
      { name: 't1/s/x.jpg', createdOn: at(40) },
      { name: 't10/s/x.jpg', createdOn: at(40) },
    ];
    const { ports } = portsFor(store);
    await runRetentionSweep(ports, { budget: timeBudget(60_000) });
    expect(store.keys()).toEqual(['t10/s/x.jpg']);
  });
});
