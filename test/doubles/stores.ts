import type { IdentityLinkStore } from '../../shared/identity';
import type { SubjectHash } from '../../shared/domain';
import type { AuditEvent, AuditEventInput, AuditLog } from '../../shared/audit';
import type { Clock } from '../../shared/domain';
import type { TenantId } from '../../shared/domain';
import type { Marker, MarkerKind, MarkerStore } from '../../shared/markers';
import type { OutgoingMessage, QueueName, QueueSender } from '../../shared/queue';
import { PhoneNumberIdTakenError, type Tenant, type TenantInput, type TenantRepository } from '../../shared/tenants';
import { tenantSchema } from '../../shared/tenants';

/**
 * Markers in memory, with the same semantics as MarkerStore (expired markers are absent). Entries are
 * kept compact (times as numbers) and turned into Marker objects only when read: the benchmark writes
 * two per message.
 */
export class InMemoryMarkers implements MarkerStore {
  private readonly markers = new Map<string, MarkerEntry>();
  constructor(private readonly clock: Clock) {}

  all(): Marker[] {
    return [...this.markers.values()].map(markerOf);
  }

  async get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined> {
    const found = this.live(this.key(kind, tenantId, key));
    return found ? markerOf(found) : undefined;
  }

  async put(kind: MarkerKind, tenantId: TenantId, key: string, options: { ttlSeconds?: number; data?: Marker['data']; at?: Date } = {}): Promise<Marker> {
    return markerOf(this.write(kind, tenantId, key, options));
  }

  /** Check and write with no await in between: atomic, as Cosmos' create is. */
  claim(kind: MarkerKind, tenantId: TenantId, key: string, ttlSeconds: number): Promise<boolean> {
    if (this.live(this.key(kind, tenantId, key))) return Promise.resolve(false);
    this.write(kind, tenantId, key, { ttlSeconds });
    return Promise.resolve(true);
  }

  async delete(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void> {
    this.markers.delete(this.key(kind, tenantId, key));
  }

  private live(mapKey: string): MarkerEntry | undefined {
    const found = this.markers.get(mapKey);
    if (!found || found.expiresAtMs <= this.clock.now().getTime()) return undefined;
    return found;
  }

  private write(kind: MarkerKind, tenantId: TenantId, key: string, options: { ttlSeconds?: number; data?: Marker['data']; at?: Date }): MarkerEntry {
    const now = this.clock.now().getTime();
    const ttl = options.ttlSeconds ?? -1;
    const entry: MarkerEntry = {
      kind,
      tenantId,
      key,
      atMs: options.at?.getTime() ?? now,
      ttl,
      expiresAtMs: ttl > 0 ? now + ttl * 1000 : Number.POSITIVE_INFINITY,
      ...(options.data ? { data: { ...options.data } } : {}),
    };
    this.markers.set(this.key(kind, tenantId, key), entry);
    return entry;
  }

  private key(kind: MarkerKind, tenantId: TenantId, key: string): string {
    return `${tenantId}|${kind}|${key}`;
  }
}

interface MarkerEntry {
  kind: MarkerKind;
  tenantId: TenantId;
  key: string;
  atMs: number;
  ttl: number;
  expiresAtMs: number;
  data?: Marker['data'];
}

function markerOf(entry: MarkerEntry): Marker {
  return {
    id: `${entry.kind}:${entry.key}`,
    pk: `${entry.tenantId}|${entry.kind}|${entry.key}`,
    kind: entry.kind,
    tenantId: entry.tenantId,
    key: entry.key,
    at: new Date(entry.atMs).toISOString(),
    ttl: entry.ttl,
    ...(entry.ttl > 0 ? { expiresAt: new Date(entry.expiresAtMs).toISOString() } : {}),
    ...(entry.data ? { data: { ...entry.data } } : {}),
  };
}

export class InMemoryAudit implements AuditLog {
  readonly events: AuditEvent[] = [];
  constructor(private readonly clock: Clock) {}
  async record(input: AuditEventInput): Promise<AuditEvent> {
    const { idempotencyKey, ...fields } = input;
    const existing = idempotencyKey ? this.events.find((e) => e.id === idempotencyKey) : undefined;
    if (existing) return existing;
    const event: AuditEvent = { id: idempotencyKey ?? String(this.events.length + 1), at: this.clock.now().toISOString(), actor: input.actor ?? 'system', ...fields };
    this.events.push(event);
    return event;
  }

  async query(tenantId: TenantId, from: Date, to: Date, options: { type?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const [f, t] = [from.toISOString(), to.toISOString()];
    return this.events.filter((e) => e.tenantId === tenantId && e.at >= f && e.at < t && (!options.type || e.type === options.type)).slice(0, options.limit ?? 1000);
  }
}

/**
 * Tenants in memory. The tenants given are kept as they are (a test may change one in place, as an
 * operator would change the configuration); what `get` and `list` return are copies.
 */
export class InMemoryTenants implements TenantRepository {
  private readonly tenants = new Map<TenantId, Tenant>();
  constructor(tenants: Tenant[] = [], private readonly clock?: Clock) {
    for (const tenant of tenants) this.tenants.set(tenant.id, tenant);
  }
  async get(id: TenantId): Promise<Tenant | undefined> {
    const tenant = this.tenants.get(id);
    return tenant ? structuredClone(tenant) : undefined;
  }
  async list(): Promise<Tenant[]> {
    return [...this.tenants.values()].map((t) => structuredClone(t));
  }
  async put(id: TenantId, input: TenantInput): Promise<{ tenant: Tenant; created: boolean; previous?: Tenant }> {
    const previous = await this.get(id);
    const now = (this.clock?.now() ?? new Date()).toISOString();
    const tenant = tenantSchema.parse({ ...input, id, createdAt: previous?.createdAt ?? now, updatedAt: now, ...(previous?.cancelledAt ? { cancelledAt: previous.cancelledAt } : {}) });
    // One owner per phone number id, as the Cosmos adapter's claims enforce (synchronous here: atomic).
    for (const [index, phoneNumberId] of tenant.phoneNumberIds.entries()) {
      const owner = [...this.tenants.values()].find((t) => t.id !== id && t.phoneNumberIds.includes(phoneNumberId));
      if (owner) throw new PhoneNumberIdTakenError(index, owner.id);
    }
    this.tenants.set(id, structuredClone(tenant));
    return { tenant, created: previous === undefined, ...(previous ? { previous } : {}) };
  }
  async save(tenant: Tenant): Promise<void> {
    this.tenants.set(tenant.id, structuredClone(tenantSchema.parse(tenant)));
  }
  async delete(id: TenantId): Promise<void> {
    this.tenants.delete(id);
  }
  async findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined> {
    return [...this.tenants.values()].find((t) => t.phoneNumberIds.includes(phoneNumberId));
  }
}

/** A queue sender that only records what was sent. */
export class RecordingQueue implements QueueSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    for (const message of Array.isArray(messages) ? messages : [messages]) this.sent.push({ queue, message: structuredClone(message) });
  }
}

/** Identity links in memory (CosmosIdentityLinkStore's semantics: adding is atomic per identifier). */
export class InMemoryIdentityLinks implements IdentityLinkStore {
  private readonly links = new Map<string, Set<SubjectHash>>();

  async neighbours(tenantId: TenantId, hash: SubjectHash): Promise<SubjectHash[]> {
    return [...(this.links.get(`${tenantId}|${hash}`) ?? [])];
  }

  addLinks(tenantId: TenantId, hash: SubjectHash, others: readonly SubjectHash[]): Promise<SubjectHash[]> {
    const set = this.links.get(`${tenantId}|${hash}`) ?? new Set<SubjectHash>();
    const added = [...new Set(others)].filter((h) => h !== hash && !set.has(h));
    for (const h of added) set.add(h);
    this.links.set(`${tenantId}|${hash}`, set);
    return Promise.resolve(added);
  }
}
