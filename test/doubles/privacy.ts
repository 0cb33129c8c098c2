import type { SubjectHash, TenantId } from '../../shared/domain';
import {
  OPEN_REQUEST_STATUSES,
  type CrmContacts,
  type ErasureConfirmations,
  type ExportStore,
  type PersonalDataStore,
  type PrivacyRequestDocument,
  type PrivacyRequestRepository,
  type PrivacyRequestStatus,
  type PrivacyRequestType,
  type SubjectRef,
  type TaskStore,
  type TenantFiles,
  type VersionedRequest,
} from '../../shared/privacy';

/**
 * The privacy request records in memory, with the Cosmos repository's semantics: every write bumps an
 * etag, `mutate` re-applies its change on the stored document when the version in hand is stale, and
 * one open-request lock per key.
 */
export class InMemoryPrivacyRequests implements PrivacyRequestRepository {
  private readonly docs = new Map<string, VersionedRequest>();
  private readonly locks = new Map<string, { requestId: string; etag: string }>();
  private version = 0;

  all(): PrivacyRequestDocument[] {
    return [...this.docs.values()].map((v) => structuredClone(v.doc));
  }

  async create(doc: PrivacyRequestDocument): Promise<VersionedRequest> {
    if (this.docs.has(doc.id)) throw Object.assign(new Error('conflict'), { code: 409 });
    return this.write(doc);
  }

  async get(id: string): Promise<PrivacyRequestDocument | undefined> {
    return (await this.read(id))?.doc;
  }

  async read(id: string): Promise<VersionedRequest | undefined> {
    const found = this.docs.get(id);
    return found ? { doc: structuredClone(found.doc), etag: found.etag } : undefined;
  }

  readForStep(id: string): Promise<VersionedRequest | undefined> {
    return this.read(id);
  }

  async mutate(
    id: string,
    change: (doc: PrivacyRequestDocument) => PrivacyRequestDocument | undefined,
    known?: VersionedRequest,
  ): Promise<(VersionedRequest & { changed: boolean }) | undefined> {
    const stored = this.docs.get(id);
    if (!stored) return undefined;
    // A stale copy in hand is decided again on the stored document, as a failed precondition would be.
    const current = known && known.etag === stored.etag ? known : stored;
    const next = change(structuredClone(current.doc));
    if (next === undefined) return { doc: structuredClone(stored.doc), etag: stored.etag, changed: false };
    const written = this.write(JSON.parse(JSON.stringify({ ...next, updatedAt: new Date().toISOString() })) as PrivacyRequestDocument);
    return { ...written, changed: true };
  }

  async acquireOpenLock(openKey: string, requestId: string): Promise<{ acquired: true; etag: string } | { acquired: false; holder: PrivacyRequestDocument }> {
    const lock = this.locks.get(openKey);
    const holder = lock ? this.docs.get(lock.requestId)?.doc : undefined;
    if (holder && OPEN_REQUEST_STATUSES.includes(holder.status)) return { acquired: false, holder: structuredClone(holder) };
    const etag = `"lock-${(this.version += 1)}"`;
    this.locks.set(openKey, { requestId, etag });
    return { acquired: true, etag };
  }

  async releaseOpenLock(openKey: string, requestId: string): Promise<void> {
    if (this.locks.get(openKey)?.requestId === requestId) this.locks.delete(openKey);
  }

  async listForSubject(tenantId: TenantId, subjectHash: SubjectHash, options: { type?: PrivacyRequestType; limit?: number } = {}): Promise<PrivacyRequestDocument[]> {
    return this.all()
      .filter((d) => d.tenantId === tenantId && d.subjectHash === subjectHash && (!options.type || d.type === options.type))
      .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt))
      .slice(0, options.limit ?? 50);
  }

  async listByStatus(statuses: readonly PrivacyRequestStatus[], options: { tenantId?: TenantId; limit?: number } = {}): Promise<PrivacyRequestDocument[]> {
    return this.all()
      .filter((d) => statuses.includes(d.status) && (!options.tenantId || d.tenantId === options.tenantId))
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
      .slice(0, options.limit ?? 500);
  }

  async listExpiredExports(now: string, limit: number): Promise<PrivacyRequestDocument[]> {
    return this.all()
      .filter((d) => d.type === 'access' && d.export && d.export.expiresAt <= now && !d.export.deletedAt)
      .slice(0, limit);
  }

  async countByStatus(tenantId: TenantId): Promise<Record<PrivacyRequestStatus, number>> {
    const counts: Record<PrivacyRequestStatus, number> = { received: 0, in_progress: 0, verifying: 0, completed: 0, failed: 0 };
    for (const d of this.all()) if (d.tenantId === tenantId) counts[d.status] += 1;
    return counts;
  }

  private write(doc: PrivacyRequestDocument): VersionedRequest {
    const version = { doc: structuredClone(doc), etag: `"${(this.version += 1)}"` };
    this.docs.set(doc.id, version);
    return { doc: structuredClone(doc), etag: version.etag };
  }
}

/** Export files and a tenant's other files, in memory (the Blob `media` and `exports` containers). */
export class InMemoryFiles implements ExportStore, TenantFiles {
  readonly files = new Map<string, Buffer>();

  async write(name: string, content: Buffer): Promise<void> {
    this.files.set(name, Buffer.from(content));
  }

  async read(name: string): Promise<Buffer | undefined> {
    return this.files.get(name);
  }

  async delete(name: string): Promise<boolean> {
    return this.files.delete(name);
  }

  async deleteAll(tenantId: TenantId): Promise<number> {
    const names = [...this.files.keys()].filter((name) => name.startsWith(`${tenantId}/`));
    for (const name of names) this.files.delete(name);
    return names.length;
  }
}

/**
 * A personal-data store of the registry in memory: a count of items per subject (by keyed hash), and a
 * queue of failures its next erasures throw (to drive retries).
 */
export class InMemoryDataStore implements PersonalDataStore {
  readonly items = new Map<string, number>();
  readonly failures: unknown[] = [];
  readonly description: string;
  readonly holds: PersonalDataStore['holds'] = ['media'];
  readonly retention = 'in memory';

  constructor(
    readonly name: TaskStore,
    readonly scopes: PersonalDataStore['scopes'] = ['all'],
    private readonly applies: (tenant: { hubspot: { enabled: boolean } }) => boolean = () => true,
  ) {
    this.description = `${name} (in memory)`;
  }

  notApplicable(tenant: { hubspot: { enabled: boolean } }): string | undefined {
    return this.applies(tenant) ? undefined : `not applicable: ${this.name} is not used by this tenant`;
  }

  put(subject: { tenantId: TenantId; subjectHash: string }, count: number): void {
    this.items.set(`${subject.tenantId}|${subject.subjectHash}`, count);
  }

  async exportSubject(subject: { tenantId: TenantId; subjectHash: string }): Promise<{ records: number; data: unknown }> {
    const records = this.items.get(`${subject.tenantId}|${subject.subjectHash}`) ?? 0;
    return { records, data: { records } };
  }

  async eraseSubject(subject: { tenantId: TenantId; subjectHash: string }): Promise<{ found: number; deleted: number }> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    const key = `${subject.tenantId}|${subject.subjectHash}`;
    const found = this.items.get(key) ?? 0;
    this.items.delete(key);
    return { found, deleted: found };
  }

  async verifyErased(subject: { tenantId: TenantId; subjectHash: string }): Promise<number> {
    return this.items.get(`${subject.tenantId}|${subject.subjectHash}`) ?? 0;
  }
}

/** The CRM port: records each rename (the subject's wa_id stays in the test). */
export class RecordingCrm implements CrmContacts {
  readonly renames: { subject: SubjectRef; profileName: string }[] = [];
  async renameSubject(subject: SubjectRef, profileName: string): Promise<number> {
    this.renames.push({ subject, profileName });
    return 1;
  }
}

export class RecordingConfirmations implements ErasureConfirmations {
  readonly sent: SubjectRef[] = [];
  async send(_tenant: unknown, subject: SubjectRef): Promise<boolean> {
    this.sent.push(subject);
    return true;
  }
}
