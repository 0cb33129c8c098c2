import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import type { Clock } from '../domain/clock';
import type { SubjectHash, TenantId } from '../domain/ids';
import { HUBSPOT_OBJECTS_KIND, type HubSpotObjectRegistry, type RecordedContact, type RecordedObjects } from '../hubspot/objectRegistry';
import { isConflict, isNotFound, isPreconditionFailed } from './cosmosStore';

/**
 * The HubSpot object record (shared/hubspot/objectRegistry.ts) in the Cosmos `markers` container: one
 * document per subject, id `hubspot-objects:<subjectHash>`, partition `<tenantId>|hubspot-objects|<subjectHash>`,
 * with `ttl` and `expiresAt` (the retention sweep removes an expired one like every marker).
 */
const recordSchema = z.object({
  id: z.string(),
  pk: z.string(),
  kind: z.literal(HUBSPOT_OBJECTS_KIND),
  tenantId: z.string(),
  key: z.string(),
  at: z.string(),
  updatedAt: z.string(),
  ttl: z.number().int(),
  expiresAt: z.string().optional(),
  contacts: z.array(z.object({ id: z.string().min(1), origin: z.enum(['created', 'found']), matchedBy: z.array(z.string().regex(/^[a-z0-9_]{1,100}$/)).default([]), at: z.string() })).default([]),
  threads: z.array(z.object({ id: z.string().min(1), channelAccountId: z.string(), at: z.string() })).default([]),
});
type RecordDocument = z.infer<typeof recordSchema>;

const MAX_ATTEMPTS = 10;
/** A record already holding an object is rewritten only to push its expiry on, at most this often. */
const REFRESH_MS = 24 * 3600_000;

export class CosmosHubSpotObjectRegistry implements HubSpotObjectRegistry {
  /** What this process wrote lately, so a conversation's every message does not rewrite the record. */
  private readonly written = new Map<string, { keys: Set<string>; at: number }>();
  /** Writes to one record take turns within this process (across processes, the etag decides). */
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
  ) {}

  private ids(tenantId: TenantId, subjectHash: SubjectHash) {
    return { id: `${HUBSPOT_OBJECTS_KIND}:${subjectHash}`, pk: `${tenantId}|${HUBSPOT_OBJECTS_KIND}|${subjectHash}` };
  }

  async get(tenantId: TenantId, subjectHash: SubjectHash): Promise<RecordedObjects | undefined> {
    const found = await this.read(tenantId, subjectHash);
    if (!found) return undefined;
    return { contacts: found.doc.contacts, threads: found.doc.threads };
  }

  async recordContact(tenantId: TenantId, subjectHash: SubjectHash, contact: Omit<RecordedContact, 'at'>, ttlSeconds: number): Promise<void> {
    await this.write(tenantId, subjectHash, `c:${contact.id}`, ttlSeconds, (doc, at) => {
      if (doc.contacts.some((c) => c.id === contact.id)) return false;
      doc.contacts.push({ id: contact.id, origin: contact.origin, matchedBy: [...contact.matchedBy], at });
      return true;
    });
  }

  async recordThread(tenantId: TenantId, subjectHash: SubjectHash, thread: { id: string; channelAccountId: string }, ttlSeconds: number): Promise<void> {
    await this.write(tenantId, subjectHash, `t:${thread.id}`, ttlSeconds, (doc, at) => {
      if (doc.threads.some((t) => t.id === thread.id)) return false;
      doc.threads.push({ id: thread.id, channelAccountId: thread.channelAccountId, at });
      return true;
    });
  }

  async forgetContact(tenantId: TenantId, subjectHash: SubjectHash, contactId: string): Promise<void> {
    this.written.delete(`${tenantId}|${subjectHash}`);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await this.read(tenantId, subjectHash);
      if (!found || !found.doc.contacts.some((c) => c.id === contactId)) return;
      const next = { ...found.doc, contacts: found.doc.contacts.filter((c) => c.id !== contactId), updatedAt: this.clock.now().toISOString() };
      if (await this.replace(next, found.etag)) return;
    }
    throw new Error('the HubSpot object record kept changing while a contact was dropped from it');
  }

  async forget(tenantId: TenantId, subjectHash: SubjectHash): Promise<void> {
    this.written.delete(`${tenantId}|${subjectHash}`);
    const { id, pk } = this.ids(tenantId, subjectHash);
    try {
      await this.container.item(id, pk).delete();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async forgetTenant(tenantId: TenantId): Promise<number> {
    for (const key of this.written.keys()) if (key.startsWith(`${tenantId}|`)) this.written.delete(key);
    let deleted = 0;
    for (;;) {
      const { resources } = await this.container.items
        .query<{ id: string; pk: string }>({
          query: 'SELECT TOP 100 c.id, c.pk FROM c WHERE c.tenantId = @tenantId AND c.kind = @kind',
          parameters: [
            { name: '@tenantId', value: tenantId },
            { name: '@kind', value: HUBSPOT_OBJECTS_KIND },
          ],
        })
        .fetchAll();
      if (resources.length === 0) return deleted;
      for (const r of resources) {
        try {
          await this.container.item(r.id, r.pk).delete();
          deleted += 1;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    }
  }

  private async read(tenantId: TenantId, subjectHash: SubjectHash): Promise<{ doc: RecordDocument; etag: string } | undefined> {
    const { id, pk } = this.ids(tenantId, subjectHash);
    try {
      const { resource } = await this.container.item(id, pk).read<RecordDocument & { _etag?: string }>();
      if (!resource) return undefined;
      // The emulator ignores TTL; real Cosmos hides expired items at once. Treat both alike.
      if (resource.expiresAt && resource.expiresAt <= this.clock.now().toISOString()) return undefined;
      const parsed = recordSchema.safeParse(resource);
      if (!parsed.success) throw new Error('a HubSpot object record does not match its schema');
      return { doc: parsed.data, etag: resource._etag ?? '' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async replace(doc: RecordDocument, etag: string): Promise<boolean> {
    try {
      await this.container.item(doc.id, doc.pk).replace(doc, { accessCondition: { type: 'IfMatch', condition: etag } });
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw error;
    }
  }

  private write(tenantId: TenantId, subjectHash: SubjectHash, key: string, ttlSeconds: number, add: (doc: RecordDocument, at: string) => boolean): Promise<void> {
    const cacheKey = `${tenantId}|${subjectHash}`;
    const run = (this.turns.get(cacheKey) ?? Promise.resolve()).catch(() => undefined).then(() => this.writeNow(tenantId, subjectHash, key, ttlSeconds, add));
    this.turns.set(cacheKey, run);
    void run.finally(() => {
      if (this.turns.get(cacheKey) === run) this.turns.delete(cacheKey);
    }).catch(() => undefined);
    return run;
  }

  /** Read, add, write back under the etag (or create); a lost race reads again after a short, jittered pause. */
  private async writeNow(tenantId: TenantId, subjectHash: SubjectHash, key: string, ttlSeconds: number, add: (doc: RecordDocument, at: string) => boolean): Promise<void> {
    const cacheKey = `${tenantId}|${subjectHash}`;
    const seen = this.written.get(cacheKey);
    const nowMs = this.clock.now().getTime();
    if (seen?.keys.has(key) && nowMs - seen.at < REFRESH_MS) return;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new Error('a HubSpot object record needs a positive whole ttl in seconds');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const at = now.toISOString();
      const lifetime = { ttl: ttlSeconds, expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(), updatedAt: at };
      const found = await this.read(tenantId, subjectHash);
      if (!found) {
        const doc: RecordDocument = { ...this.ids(tenantId, subjectHash), kind: HUBSPOT_OBJECTS_KIND, tenantId, key: subjectHash, at, contacts: [], threads: [], ...lifetime };
        add(doc, at);
        try {
          await this.container.items.create(doc);
          this.remember(cacheKey, doc, nowMs);
          return;
        } catch (error) {
          // Another writer created it meanwhile (or the emulator kept an expired one): read again.
          if (!isConflict(error)) throw error;
          const stale = await this.read(tenantId, subjectHash);
          if (!stale) await this.forget(tenantId, subjectHash);
          continue;
        }
      }
      const next = { ...found.doc, contacts: [...found.doc.contacts], threads: [...found.doc.threads] };
      const added = add(next, at);
      const fresh = found.doc.expiresAt !== undefined && Date.parse(found.doc.expiresAt) - nowMs > ttlSeconds * 1000 - REFRESH_MS;
      if (!added && fresh) {
        this.remember(cacheKey, found.doc, nowMs);
        return;
      }
      if (await this.replace({ ...next, ...lifetime }, found.etag)) {
        this.remember(cacheKey, next, nowMs);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20 * (attempt + 1))));
    }
    throw new Error('the HubSpot object record kept changing while it was written');
  }

  private remember(cacheKey: string, doc: RecordDocument, at: number): void {
    this.written.set(cacheKey, { keys: new Set([...doc.contacts.map((c) => `c:${c.id}`), ...doc.threads.map((t) => `t:${t.id}`)]), at });
    if (this.written.size > 10_000) this.written.delete(this.written.keys().next().value!);
  }
}
