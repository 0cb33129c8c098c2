import { forEachLimited, type TimeBudget } from './budget';
import { isPastRetention } from './policy';

/**
 * Blob retention by age: what Cosmos TTL does for documents, done by listing a prefix page by page.
 * Blob has no index by date, so the listing of a tenant's prefix is the one cost that does not follow
 * what expired (docs/retention.md measures it); the deletes do.
 */

/** One entry of a listing: a base blob, one of its snapshots, or one of its previous versions. */
export interface ListedBlob {
  name: string;
  snapshot?: string;
  versionId?: string;
  isCurrentVersion?: boolean;
  createdOn?: Date;
  metadata?: Record<string, string>;
}

export interface BlobListPage {
  items: ListedBlob[];
  /** Absent on the last page. */
  continuationToken?: string;
}

/** What the sweep needs from a Blob container: list one page of a prefix, delete one entry. */
export interface BlobSweepTarget {
  listPage(prefix: string, options: { continuationToken?: string; maxPageSize: number }): Promise<BlobListPage>;
  /**
   * Deletes a base blob with all its snapshots, or one snapshot, or one previous version. True when it
   * existed: a second delete (a resumed page) is harmless and not counted.
   */
  deleteEntry(entry: Pick<ListedBlob, 'name' | 'snapshot' | 'versionId'>): Promise<boolean>;
}

/**
 * Metadata a writer may set to the logical creation time (ISO), for example the WhatsApp message time of
 * a media file downloaded later. The sweep takes the EARLIER of it and the storage's own creation time,
 * so metadata can make a blob older (a late download does not extend its life) but never younger.
 */
export const CREATED_AT_METADATA = 'createdat';

function parseInstant(value: string | undefined): Date | undefined {
  // ISO instants only (snapshot and version ids are timestamps with 7 fractional digits, which Date parses).
  if (value === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** The entry's creation time: base blob `createdOn`, a snapshot's or version's own timestamp, or earlier metadata. */
export function createdAtOf(entry: ListedBlob): Date | undefined {
  const own = entry.snapshot ? parseInstant(entry.snapshot) : !isBase(entry) && entry.versionId ? parseInstant(entry.versionId) : entry.createdOn;
  const declared = parseInstant(entry.metadata?.[CREATED_AT_METADATA]);
  const candidates = [own, declared].filter((d): d is Date => d !== undefined);
  if (candidates.length === 0) return undefined;
  return new Date(Math.min(...candidates.map((d) => d.getTime())));
}

function isBase(entry: ListedBlob): boolean {
  return !entry.snapshot && (!entry.versionId || entry.isCurrentVersion !== false);
}

export interface BlobSweepCounts {
  /** Base blobs deleted (with every snapshot they had). */
  blobs: number;
  /** Snapshots and previous versions deleted, on their own or with their base blob. */
  snapshots: number;
}

export interface BlobOperations {
  listPages: number;
  listedEntries: number;
  deletes: number;
}

/** Where a blob phase stands: the page to list next and the name a look-ahead already finished. */
export interface BlobPhaseCursor {
  continuationToken: string;
  /** Entries with this name on the next page were handled already (see `completeGroup`). */
  handledName: string;
}

export type BlobPhaseOutcome = { done: true } | { done: false; cursor: BlobPhaseCursor };

/**
 * Sweeps one prefix from `cursor` until the listing ends or the budget is spent, calling `saveProgress`
 * after every page (the checkpoint). A page interrupted by a crash is listed again from its own token on
 * resume: deletes are idempotent, so nothing unexpired is touched and nothing expired is missed.
 */
export async function sweepBlobPrefix(input: {
  target: BlobSweepTarget;
  prefix: string;
  retentionDays: number;
  now: Date;
  cursor: BlobPhaseCursor;
  budget: TimeBudget;
  pageSize: number;
  concurrency: number;
  counts: BlobSweepCounts;
  operations: BlobOperations;
  saveProgress: (cursor: BlobPhaseCursor) => Promise<void>;
}): Promise<BlobPhaseOutcome> {
  const { target, prefix, counts, operations } = input;
  let cursor = input.cursor;
  for (;;) {
    const page = await target.listPage(prefix, {
      ...(cursor.continuationToken ? { continuationToken: cursor.continuationToken } : {}),
      maxPageSize: input.pageSize,
    });
    operations.listPages += 1;
    operations.listedEntries += page.items.length;
    const items = page.items.filter((entry) => entry.name !== cursor.handledName);
    const last = page.items.at(-1);
    // A page may end inside one blob's group of snapshots/versions. Azurite then skips the rest of the group
    // on the next page (its marker is the blob name; 3.37 also lists a group's entries out of order, so a
    // page can end on the base with its snapshots unlisted); Azure continues it. Either way: finish the
    // last name's group now with a listing of that one name, and skip that name on the next page.
    const cutName = page.continuationToken && last && last.name !== cursor.handledName ? last.name : undefined;
    const groups = groupByName(items);
    if (cutName !== undefined) groups.set(cutName, await completeGroup(target, cutName, operations));
    await forEachLimited([...groups.values()], input.concurrency, (group) => sweepGroup(target, group, input, counts, operations));
    if (!page.continuationToken) return { done: true };
    const stillHandled = last !== undefined && last.name === cursor.handledName ? cursor.handledName : '';
    cursor = { continuationToken: page.continuationToken, handledName: cutName ?? stillHandled };
    await input.saveProgress(cursor);
    if (input.budget.exhausted()) return { done: false, cursor };
  }
}

function groupByName(items: ListedBlob[]): Map<string, ListedBlob[]> {
  const groups = new Map<string, ListedBlob[]>();
  for (const item of items) {
    const group = groups.get(item.name);
    if (group) group.push(item);
    else groups.set(item.name, [item]);
  }
  return groups;
}

const MAX_PAGE_SIZE = 5000;

/** Every entry of one blob name (its base, snapshots and versions), by listing that exact name. */
async function completeGroup(target: BlobSweepTarget, name: string, operations: BlobOperations): Promise<ListedBlob[]> {
  const entries: ListedBlob[] = [];
  let continuationToken: string | undefined;
  do {
    // The largest page Azure allows: one page holds the whole group (on Azurite a group cut again would lose its tail).
    const page = await target.listPage(name, { ...(continuationToken ? { continuationToken } : {}), maxPageSize: MAX_PAGE_SIZE });
    operations.listPages += 1;
    operations.listedEntries += page.items.length;
    entries.push(...page.items.filter((entry) => entry.name === name));
    // Names that merely start with `name` sort after it: once past it, the group is complete.
    if (page.items.some((entry) => entry.name > name)) break;
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return entries;
}

/**
 * One blob name: an expired base blob goes with all its snapshots (and its previous versions, which a
 * base delete leaves behind); a live base keeps its unexpired snapshots and loses only the expired ones.
 */
async function sweepGroup(
  target: BlobSweepTarget,
  group: ListedBlob[],
  policy: { retentionDays: number; now: Date },
  counts: BlobSweepCounts,
  operations: BlobOperations,
): Promise<void> {
  const expired = (entry: ListedBlob): boolean => {
    const createdAt = createdAtOf(entry);
    return createdAt !== undefined && isPastRetention(createdAt, policy.retentionDays, policy.now);
  };
  const base = group.find(isBase);
  const others = group.filter((entry) => entry !== base);
  if (base && expired(base)) {
    operations.deletes += 1;
    if (await target.deleteEntry({ name: base.name })) {
      counts.blobs += 1;
      counts.snapshots += others.filter((entry) => entry.snapshot).length;
    }
    // Its versions by id, the base's own too: deleting the base made its current version a previous one.
    for (const version of [...(base.versionId ? [base] : []), ...others].filter((entry) => !entry.snapshot && entry.versionId)) {
      operations.deletes += 1;
      if (await target.deleteEntry({ name: version.name, versionId: version.versionId! })) counts.snapshots += 1;
    }
    return;
  }
  for (const entry of others.filter(expired)) {
    operations.deletes += 1;
    const deleted = await target.deleteEntry({
      name: entry.name,
      ...(entry.snapshot ? { snapshot: entry.snapshot } : { versionId: entry.versionId! }),
    });
    if (deleted) counts.snapshots += 1;
  }
}
