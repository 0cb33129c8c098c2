import type { Container } from '@azure/cosmos';
import { isConflict, isNotFound, isPreconditionFailed } from './cosmosStore';
import type { Clock } from '../domain/clock';
import type { SubjectHash, TenantId } from '../domain/ids';
import {
  OPEN_REQUEST_STATUSES,
  privacyRequestDocumentSchema,
  type PrivacyRequestDocument,
  type PrivacyRequestStatus,
  type PrivacyRequestType,
} from '../privacy/privacyRequest';
import type { PrivacyRequestRepository, VersionedRequest as Versioned } from '../privacy/ports';

/** An open-request lock: one per (tenant, subject, type, scope) while a request for it runs. */
interface OpenLock {
  id: string;
  docType: 'openLock';
  requestId: string;
  ttl: number;
}

const MAX_MUTATE_ATTEMPTS = 20;

export class ConcurrentUpdateError extends Error {
  constructor(requestId: string) {
    super(`privacy request ${requestId} kept changing under ${MAX_MUTATE_ATTEMPTS} concurrent updates`);
    this.name = 'ConcurrentUpdateError';
  }
}

/**
 * Privacy request documents in Cosmos (`privacyRequests`, partition `/id`). Every change is a
 * read-modify-replace guarded by the document's etag, so task completions that land at the same time
 * (one per store) never overwrite each other: the loser reads again and re-applies its change.
 */
export class CosmosPrivacyRequestRepository implements PrivacyRequestRepository {
  /**
   * The last version of each request this process wrote, and the write in flight per request. The store
   * tasks of one request finish within milliseconds of each other; without these, each would replace
   * the document with the etag it read when it started, and all but the first would fail, read again
   * and write again. Here they take turns and start from the version the previous one wrote. A version
   * written by another instance still shows up as a failed precondition and a fresh read.
   */
  private readonly latest = new Map<string, Versioned & { at: number }>();
  private readonly writing = new Map<string, Promise<unknown>>();

  private readonly recentMs: number;

  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
    /** How long a version this instance wrote stands in for a read by the next step (`readForStep`). */
    options: { recentMs?: number } = {},
  ) {
    this.recentMs = options.recentMs ?? RECENT_MS;
  }

  async create(doc: PrivacyRequestDocument): Promise<Versioned> {
    const { resource } = await this.container.items.create(doc);
    const created = { doc, etag: String((resource as { _etag?: string } | undefined)?._etag ?? '') };
    this.remember(doc.id, created);
    return created;
  }

  async get(id: string): Promise<PrivacyRequestDocument | undefined> {
    return (await this.read(id))?.doc;
  }

  /**
   * The request for a queue consumer's next step: as this instance wrote it a moment ago (within
   * `RECENT_MS`), else read from Cosmos. The message hops of one request usually land on the instance
   * that wrote the step before, and a read there would return what it just wrote. If another instance
   * wrote since, the copy is stale: the step's write fails its precondition and is decided again on
   * the stored document, and the step itself runs again at worst, which every step tolerates (a
   * message can always be delivered twice).
   */
  async readForStep(id: string): Promise<Versioned | undefined> {
    const mine = this.latest.get(id);
    if (mine && performance.now() - mine.at <= this.recentMs) return { doc: structuredClone(mine.doc), etag: mine.etag };
    return this.read(id);
  }

  async read(id: string): Promise<Versioned | undefined> {
    try {
      const { resource } = await this.container.item(id, id).read<Record<string, unknown>>();
      if (!resource || resource.docType !== 'request') return undefined;
      return { doc: privacyRequestDocumentSchema.parse(resource), etag: String(resource._etag) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Applies `change` to the current document and writes it if nobody changed it meanwhile; on a
   * conflict it reads again and re-applies. `change` returns undefined to leave the document as it is
   * (it must be a pure function of the document: it may run more than once).
   */
  async mutate(
    id: string,
    change: (doc: PrivacyRequestDocument) => PrivacyRequestDocument | undefined,
    /** The version the caller already holds (from an earlier write): tried first, saving a read. */
    known?: Versioned,
  ): Promise<(Versioned & { changed: boolean }) | undefined> {
    const previous = this.writing.get(id) ?? Promise.resolve();
    const turn = previous.then(() => this.mutateNow(id, change, known));
    const settled = turn.catch(() => undefined);
    this.writing.set(id, settled);
    void settled.then(() => {
      if (this.writing.get(id) === settled) this.writing.delete(id);
    });
    return turn;
  }

  private async mutateNow(
    id: string,
    change: (doc: PrivacyRequestDocument) => PrivacyRequestDocument | undefined,
    known?: Versioned,
  ): Promise<(Versioned & { changed: boolean }) | undefined> {
    let current: Versioned | undefined = newest(known, this.remembered(id));
    let stored = false; // whether `current` was just read from Cosmos
    for (let attempt = 1; attempt <= MAX_MUTATE_ATTEMPTS; attempt++) {
      if (!current) {
        current = await this.read(id);
        stored = true;
      }
      if (!current) return undefined;
      const next = change(structuredClone(current.doc));
      if (next === undefined) {
        if (!stored) {
          current = undefined; // a copy in hand may be stale: decide on the stored one
          continue;
        }
        return { ...current, changed: false };
      }
      const written: PrivacyRequestDocument = { ...next, updatedAt: this.clock.now().toISOString() };
      try {
        const { resource } = await this.container.item(id, id).replace(stripUndefined(written), { accessCondition: { type: 'IfMatch', condition: current.etag } });
        const result = { doc: written, etag: String((resource as { _etag?: string } | undefined)?._etag ?? '') };
        this.remember(id, result);
        return { ...result, changed: true };
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
        this.latest.delete(id);
        current = undefined;
        stored = false;
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
    throw new ConcurrentUpdateError(id);
  }

  private remembered(id: string): Versioned | undefined {
    const mine = this.latest.get(id);
    if (!mine || performance.now() - mine.at > REMEMBER_MS) return undefined;
    return { doc: mine.doc, etag: mine.etag };
  }

  private remember(id: string, version: Versioned): void {
    this.latest.delete(id); // re-inserted last: the map's order is the order of use
    if (version.doc.status === 'completed' || version.doc.status === 'failed') return; // no next step to serve
    this.latest.set(id, { doc: structuredClone(version.doc), etag: version.etag, at: performance.now() });
    if (this.latest.size > REMEMBERED_REQUESTS) this.latest.delete(this.latest.keys().next().value!);
  }

  /**
   * Takes the open-request lock for `openKey`, or returns the id of the open request that holds it. A
   * lock left by a request that has since finished (or never got written) is taken over.
   */
  async acquireOpenLock(openKey: string, requestId: string): Promise<{ acquired: true; etag: string } | { acquired: false; holder: PrivacyRequestDocument }> {
    const id = lockId(openKey);
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const { resource } = await this.container.items.create({ id, docType: 'openLock', requestId, ttl: -1 } satisfies OpenLock);
        return { acquired: true, etag: String((resource as { _etag?: string } | undefined)?._etag ?? '') };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const lock = await this.readLock(id);
      if (!lock) continue;
      const holder = await this.get(lock.doc.requestId);
      if (holder && OPEN_REQUEST_STATUSES.includes(holder.status)) return { acquired: false, holder };
      try {
        const { resource } = await this.container.item(id, id).replace({ id, docType: 'openLock', requestId, ttl: -1 } satisfies OpenLock, {
          accessCondition: { type: 'IfMatch', condition: lock.etag },
        });
        return { acquired: true, etag: String((resource as { _etag?: string } | undefined)?._etag ?? '') };
      } catch (error) {
        if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
      }
    }
    throw new ConcurrentUpdateError(id);
  }

  /**
   * Releases the lock if `requestId` still holds it. With the etag the lock was taken at, one delete
   * (a lock changed since belongs to another request: left alone); without, read first.
   */
  async releaseOpenLock(openKey: string, requestId: string, etag?: string): Promise<void> {
    const id = lockId(openKey);
    const lock = etag ? { doc: { requestId }, etag } : await this.readLock(id);
    if (!lock || lock.doc.requestId !== requestId) return;
    try {
      await this.container.item(id, id).delete({ accessCondition: { type: 'IfMatch', condition: lock.etag } });
    } catch (error) {
      if (!isNotFound(error) && !isPreconditionFailed(error)) throw error;
    }
  }

  /** A subject's requests, newest first (cross-partition: the subject is not the partition key here). */
  async listForSubject(tenantId: TenantId, subjectHash: SubjectHash, options: { type?: PrivacyRequestType; limit?: number } = {}): Promise<PrivacyRequestDocument[]> {
    const { resources } = await this.container.items
      .query<Record<string, unknown>>({
        query: `SELECT * FROM c WHERE c.docType = 'request' AND c.tenantId = @tenantId AND c.subjectHash = @hash${options.type ? ' AND c.type = @type' : ''} ORDER BY c.receivedAt DESC`,
        parameters: [
          { name: '@tenantId', value: tenantId },
          { name: '@hash', value: subjectHash },
          ...(options.type ? [{ name: '@type', value: options.type }] : []),
        ],
      })
      .fetchAll();
    return resources.slice(0, options.limit ?? 50).map((r) => privacyRequestDocumentSchema.parse(r));
  }

  /** Requests in the given statuses (all tenants, or one), oldest first: the reconciler's and cancellation's view. */
  async listByStatus(statuses: readonly PrivacyRequestStatus[], options: { tenantId?: TenantId; limit?: number } = {}): Promise<PrivacyRequestDocument[]> {
    const { resources } = await this.container.items
      .query<Record<string, unknown>>({
        query: `SELECT * FROM c WHERE c.docType = 'request' AND ARRAY_CONTAINS(@statuses, c.status)${options.tenantId ? ' AND c.tenantId = @tenantId' : ''} ORDER BY c.receivedAt ASC`,
        parameters: [{ name: '@statuses', value: [...statuses] }, ...(options.tenantId ? [{ name: '@tenantId', value: options.tenantId }] : [])],
      })
      .fetchAll();
    return resources.slice(0, options.limit ?? 500).map((r) => privacyRequestDocumentSchema.parse(r));
  }

  /** Completed access requests whose export is past `expiresAt` and not deleted yet. */
  async listExpiredExports(now: string, limit: number): Promise<PrivacyRequestDocument[]> {
    const { resources } = await this.container.items
      .query<Record<string, unknown>>({
        query: `SELECT * FROM c WHERE c.docType = 'request' AND c.type = 'access' AND IS_DEFINED(c.export) AND c.export.expiresAt <= @now AND NOT IS_DEFINED(c.export.deletedAt)`,
        parameters: [{ name: '@now', value: now }],
      })
      .fetchAll();
    return resources.slice(0, limit).map((r) => privacyRequestDocumentSchema.parse(r));
  }

  /** Counts of a tenant's requests by status (account cancellation progress). */
  async countByStatus(tenantId: TenantId): Promise<Record<PrivacyRequestStatus, number>> {
    const { resources } = await this.container.items
      .query<{ status: PrivacyRequestStatus }>({
        query: `SELECT c.status FROM c WHERE c.docType = 'request' AND c.tenantId = @tenantId`,
        parameters: [{ name: '@tenantId', value: tenantId }],
      })
      .fetchAll();
    const counts: Record<PrivacyRequestStatus, number> = { received: 0, in_progress: 0, verifying: 0, completed: 0, failed: 0 };
    for (const r of resources) counts[r.status] += 1;
    return counts;
  }

  private async readLock(id: string): Promise<{ doc: OpenLock; etag: string } | undefined> {
    try {
      const { resource } = await this.container.item(id, id).read<OpenLock & { _etag: string }>();
      return resource ? { doc: resource, etag: resource._etag } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** Requests whose last written version is remembered (a few minutes of work for one instance). */
const REMEMBERED_REQUESTS = 2000;
/** How long a version this instance wrote stands in for a read by the next step. */
const RECENT_MS = 2000;
/** How long it is tried first by a write (a stale one costs a failed precondition and a read). */
const REMEMBER_MS = 60_000;

/**
 * The later of two versions of one request (by `updatedAt`, which every write sets): the caller's copy,
 * or the one this process wrote since. A wrong guess costs a failed precondition and a read, no more.
 */
function newest(known: Versioned | undefined, remembered: Versioned | undefined): Versioned | undefined {
  if (!known || !remembered) return known ?? remembered;
  return remembered.etag !== known.etag && remembered.doc.updatedAt >= known.doc.updatedAt ? remembered : known;
}

function lockId(openKey: string): string {
  return `open-${openKey}`;
}

/** Cosmos keeps `undefined` out anyway; removing it keeps the document what the schema says. */
function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
