import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetentionSweep, timeBudget, TENANT_CHECKPOINT_KEY, RUN_CHECKPOINT_KEY } from '../../shared/retention';
import type { TenantId } from '../../shared/domain';
import { testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { auditEvents, crashingAfter, daysAgo, entriesUnder, putBlob, snapshot, sweepPorts, tenantWith } from './support';
import { CosmosMarkerStore } from '../../shared/cosmos';
import { blobSweepTarget } from '../../shared/storage';
import { ManualClock } from '../doubles';

let s: TestServices;
const clock = new ManualClock(new Date());
beforeAll(async () => {
  s = await testServices({}, { clock });
});
afterAll(async () => {
  await s?.close();
});

/**
 * A tenant's media with every case the sweep must tell apart (mediaDays 30). Returns what must be left.
 * Several blobs have three or more entries, so pages of 2 or 3 end inside a blob's group of snapshots.
 */
async function seedMedia(tenantId: string): Promise<{ keep: string[]; expiredEntries: number }> {
  const media = s.blobs.media;
  const keep: string[] = [];
  let expiredEntries = 0;
  const old = daysAgo(clock, 40);
  // An expired blob with two snapshots (they inherit its creation time): all three go.
  await putBlob(media, `${tenantId}/subj-a/old-with-snapshots.jpg`, old);
  await snapshot(media, `${tenantId}/subj-a/old-with-snapshots.jpg`);
  await snapshot(media, `${tenantId}/subj-a/old-with-snapshots.jpg`);
  expiredEntries += 3;
  // A live blob with one snapshot older than the retention and one young snapshot: only the old snapshot goes.
  await putBlob(media, `${tenantId}/subj-a/live.jpg`);
  await snapshot(media, `${tenantId}/subj-a/live.jpg`, daysAgo(clock, 31));
  keep.push(await snapshot(media, `${tenantId}/subj-a/live.jpg`), `${tenantId}/subj-a/live.jpg`);
  expiredEntries += 1;
  // Just past and just inside the retention.
  await putBlob(media, `${tenantId}/subj-b/thirty-and-a-bit.ogg`, new Date(clock.now().getTime() - 30 * 86_400_000 - 60_000).toISOString());
  expiredEntries += 1;
  await putBlob(media, `${tenantId}/subj-b/twenty-nine.ogg`, daysAgo(clock, 29));
  keep.push(`${tenantId}/subj-b/twenty-nine.ogg`);
  // Metadata can make a blob older, never younger than its storage creation time: a future date is ignored.
  await putBlob(media, `${tenantId}/subj-b/claims-future.ogg`, new Date(clock.now().getTime() + 90 * 86_400_000).toISOString());
  keep.push(`${tenantId}/subj-b/claims-future.ogg`);
  // Many small expired and live blobs across subjects, to span several pages.
  for (let i = 0; i < 8; i++) {
    await putBlob(media, `${tenantId}/subj-c/m${i}.jpg`, i % 2 === 0 ? old : undefined);
    if (i % 2 === 0) expiredEntries += 1;
    else keep.push(`${tenantId}/subj-c/m${i}.jpg`);
  }
  // An expired blob with three snapshots at the end of the prefix.
  await putBlob(media, `${tenantId}/subj-d/old.pdf`, old);
  for (let i = 0; i < 3; i++) await snapshot(media, `${tenantId}/subj-d/old.pdf`);
  expiredEntries += 4;
  return { keep: keep.sort(), expiredEntries };
}

describe('retention sweep of media blobs (Azurite)', () => {
  it('deletes exactly the expired media blobs, snapshots included, and leaves every unexpired blob and snapshot', async () => {
    const tenant = uniqueTenantId('ret');
    const { keep } = await seedMedia(tenant);
    // Another tenant with a longer retention: its 40-day-old media is not expired.
    const patient = uniqueTenantId('ret');
    await putBlob(s.blobs.media, `${patient}/subj/forty-days.jpg`, daysAgo(clock, 40));

    const result = await runRetentionSweep(
      sweepPorts(s, [tenantWith(tenant, { mediaDays: 30 }), tenantWith(patient, { mediaDays: 60 })]),
      { budget: timeBudget(60_000), blobPageSize: 3 },
    );

    expect(result.status).toBe('completed');
    expect(await entriesUnder(s.blobs.media, `${tenant}/`)).toEqual(keep);
    expect(await entriesUnder(s.blobs.media, `${patient}/`)).toEqual([`${patient}/subj/forty-days.jpg`]);
    const removed = result.tenants.find((t) => t.tenantId === tenant)?.removed;
    // 2 + 1 + 4 + 1 base blobs (old-with-snapshots, thirty-and-a-bit, four of subj-c, old.pdf); 2 + 1 + 3 snapshots.
    expect(removed).toMatchObject({ mediaBlobs: 7, mediaSnapshots: 6 });
    const [event, ...more] = await auditEvents(s, tenant, 'retention.sweep.completed');
    expect(more).toEqual([]);
    expect(event).toMatchObject({ actor: 'system', details: expect.objectContaining({ mediaBlobs: 7, mediaSnapshots: 6, exports: 0 }) });
    // Counts only: every detail is a number or the run's start time.
    for (const [key, value] of Object.entries(event!.details ?? {})) {
      if (key !== 'runStartedAt') expect(typeof value).toBe('number');
    }
    expect(s.telemetry.metrics).toContainEqual({ name: 'retention.sweep.removed', value: 7, dimensions: { tenantId: tenant, store: 'media' } });
  });

  it('resumes where a crash stopped it: the second run finishes the job, and nothing unexpired was touched', async () => {
    const tenant = uniqueTenantId('ret');
    const { keep, expiredEntries } = await seedMedia(tenant);
    const before = await entriesUnder(s.blobs.media, `${tenant}/`);
    expect(before.length).toBe(keep.length + expiredEntries);
    const tenants = [tenantWith(tenant, { mediaDays: 30 })];

    // The Blob service fails after 3 deletes, in the middle of a page.
    const crashing = crashingAfter(blobSweepTarget(s.blobs.media), 3);
    const failed = await runRetentionSweep(sweepPorts(s, tenants, { media: crashing }), { budget: timeBudget(60_000), blobPageSize: 2, concurrency: 1 });
    expect(failed).toMatchObject({ status: 'incomplete', failures: [{ tenantId: tenant, phase: 'media', failures: 1, error: 'Error' }] });
    expect(crashing.deletes()).toBe(3);
    expect(s.telemetry.events).toContainEqual({ name: 'retention.sweep.failed', dimensions: { tenantId: tenant, phase: 'media', failures: 1, error: 'Error' } });
    const afterCrash = await entriesUnder(s.blobs.media, `${tenant}/`);
    expect(afterCrash.length).toBeLessThan(before.length);
    for (const entry of keep) expect(afterCrash).toContain(entry);
    // The checkpoint says where it was.
    const markers = new CosmosMarkerStore(s.cosmos.markers, clock);
    expect((await markers.get('checkpoint', tenant as TenantId, TENANT_CHECKPOINT_KEY))?.data).toMatchObject({ phase: 'media' });

    const real = blobSweepTarget(s.blobs.media);
    const calls: { prefix: string; continuationToken?: string }[] = [];
    const recording = {
      listPage: (prefix: string, options: { continuationToken?: string; maxPageSize: number }) => {
        calls.push({ prefix, ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}) });
        return real.listPage(prefix, options);
      },
      deleteEntry: real.deleteEntry,
    };
    const resumed = await runRetentionSweep(sweepPorts(s, tenants, { media: recording }), { budget: timeBudget(60_000), blobPageSize: 2 });
    expect(resumed).toMatchObject({ status: 'completed', resumed: true, failures: [] });
    expect(await entriesUnder(s.blobs.media, `${tenant}/`)).toEqual(keep);
    // Resumed, not restarted: its first listing continues from the checkpointed token.
    expect(calls[0]).toEqual({ prefix: `${tenant}/`, continuationToken: expect.any(String) });
    // The counts survive the crash: the deletes before it were checkpointed with the failure.
    const events = await auditEvents(s, tenant, 'retention.sweep.completed');
    expect(events).toHaveLength(1);
    expect(events[0]?.details).toMatchObject({ mediaBlobs: 7, mediaSnapshots: 6 });
    // Done: no checkpoint left behind.
    expect(await markers.get('checkpoint', tenant as TenantId, TENANT_CHECKPOINT_KEY)).toBeUndefined();
  });

  it('stops when its time budget is spent, checkpointed, and later invocations continue to the same result with exact counts', async () => {
    const tenant = uniqueTenantId('ret');
    const { keep } = await seedMedia(tenant);
    // A clock that passes 1 s per reading against a 1 ms budget: each invocation gets exactly one page.
    let tick = 0;
    const invocations: string[] = [];
    for (let i = 0; i < 40; i++) {
      const result = await runRetentionSweep(sweepPorts(s, [tenantWith(tenant, { mediaDays: 30 })]), {
        budget: timeBudget(1, () => (tick += 1000)),
        blobPageSize: 3,
      });
      invocations.push(result.status);
      if (result.status === 'completed') break;
    }
    expect(invocations.length).toBeGreaterThan(3);
    expect(invocations.at(-1)).toBe('completed');
    expect(invocations.slice(0, -1).every((status) => status === 'paused')).toBe(true);
    expect(await entriesUnder(s.blobs.media, `${tenant}/`)).toEqual(keep);
    const events = await auditEvents(s, tenant, 'retention.sweep.completed');
    expect(events).toHaveLength(1);
    expect(events[0]?.details).toMatchObject({ mediaBlobs: 7, mediaSnapshots: 6 });
    expect(await new CosmosMarkerStore(s.cosmos.markers, clock).get('checkpoint', 'system' as TenantId, RUN_CHECKPOINT_KEY)).toBeUndefined();
  });

  it('deletes access exports older than the tenant exportDays and keeps the recent ones', async () => {
    const tenant = uniqueTenantId('ret');
    // As the access export writes them: one prefix per subject (keyed hash) under the tenant.
    await putBlob(s.blobs.exports, `${tenant}/hash-a/req-old.json`, daysAgo(clock, 8));
    await putBlob(s.blobs.exports, `${tenant}/hash-a/req-new.json`, daysAgo(clock, 6));
    await putBlob(s.blobs.exports, `${tenant}/hash-b/req-today.json`);
    const result = await runRetentionSweep(sweepPorts(s, [tenantWith(tenant, { exportDays: 7 })]), { budget: timeBudget(60_000) });
    expect(await entriesUnder(s.blobs.exports, `${tenant}/`)).toEqual([`${tenant}/hash-a/req-new.json`, `${tenant}/hash-b/req-today.json`]);
    expect(result.tenants[0]?.removed).toMatchObject({ exports: 1, mediaBlobs: 0 });
  });

  it('a shorter mediaDays applies to media already stored at the next sweep', async () => {
    const tenant = uniqueTenantId('ret');
    await putBlob(s.blobs.media, `${tenant}/subj/ten-days.jpg`, daysAgo(clock, 10));
    await runRetentionSweep(sweepPorts(s, [tenantWith(tenant, { mediaDays: 30 })]), { budget: timeBudget(60_000) });
    expect(await entriesUnder(s.blobs.media, `${tenant}/`)).toHaveLength(1);
    await runRetentionSweep(sweepPorts(s, [tenantWith(tenant, { mediaDays: 7 })]), { budget: timeBudget(60_000) });
    expect(await entriesUnder(s.blobs.media, `${tenant}/`)).toEqual([]);
  });
});
