import type { SubjectHash, TenantId } from '../../shared/domain';
import type { HubSpotObjectRegistry, RecordedContact, RecordedObjects } from '../../shared/hubspot';

/** An in-memory `HubSpotObjectRegistry` (the HubSpot object record) for unit tests; the Cosmos adapter is tested on the emulator. */
export class MemoryObjectRegistry implements HubSpotObjectRegistry {
  readonly records = new Map<string, RecordedObjects>();

  private key(tenantId: TenantId, subjectHash: SubjectHash): string {
    return `${tenantId}|${subjectHash}`;
  }

  get(tenantId: TenantId, subjectHash: SubjectHash): Promise<RecordedObjects | undefined> {
    const found = this.records.get(this.key(tenantId, subjectHash));
    return Promise.resolve(found ? { contacts: [...found.contacts], threads: [...found.threads] } : undefined);
  }

  private entry(tenantId: TenantId, subjectHash: SubjectHash): RecordedObjects {
    const key = this.key(tenantId, subjectHash);
    const found = this.records.get(key) ?? { contacts: [], threads: [] };
    this.records.set(key, found);
    return found;
  }

  recordContact(tenantId: TenantId, subjectHash: SubjectHash, contact: Omit<RecordedContact, 'at'>): Promise<void> {
    const entry = this.entry(tenantId, subjectHash);
    if (!entry.contacts.some((c) => c.id === contact.id)) entry.contacts.push({ ...contact, at: new Date().toISOString() });
    return Promise.resolve();
  }

  recordThread(tenantId: TenantId, subjectHash: SubjectHash, thread: { id: string; channelAccountId: string }): Promise<void> {
    const entry = this.entry(tenantId, subjectHash);
    if (!entry.threads.some((t) => t.id === thread.id)) entry.threads.push({ ...thread, at: new Date().toISOString() });
    return Promise.resolve();
  }

  forgetContact(tenantId: TenantId, subjectHash: SubjectHash, contactId: string): Promise<void> {
    const entry = this.records.get(this.key(tenantId, subjectHash));
    if (entry) entry.contacts = entry.contacts.filter((c) => c.id !== contactId);
    return Promise.resolve();
  }

  forget(tenantId: TenantId, subjectHash: SubjectHash): Promise<void> {
    this.records.delete(this.key(tenantId, subjectHash));
    return Promise.resolve();
  }

  forgetTenant(tenantId: TenantId): Promise<number> {
    let n = 0;
    for (const key of [...this.records.keys()]) if (key.startsWith(`${tenantId}|`)) n += Number(this.records.delete(key));
    return Promise.resolve(n);
  }
}
