import type { AuditEvent, AuditEventInput, AuditLog } from '../audit/auditLog';
import type { Clock } from '../domain/clock';
import type { TenantId, WaId } from '../domain/ids';
import type { Marker, MarkerKind, MarkerStore } from '../markers/markerStore';
import type { ErasureScope, PrivacyRequestType } from '../privacy/privacyRequest';
import type { OutgoingMessage, QueueName, QueueSender } from '../queue/queuePort';
import type { SecretProvider } from '../secrets/secretProvider';
import type { SubjectStore } from '../subjects/subjectStore';
import type { Telemetry } from '../telemetry/telemetry';
import type { Tenant, TenantRepository } from '../tenants';

/** The parts of the shared repositories the webhook uses: ports, so tests and the benchmark pass their own. */
export type Markers = Pick<MarkerStore, 'get' | 'put' | 'claim' | 'delete'>;
export type AuditRecorder = Pick<AuditLog, 'record'>;
export type TenantLookup = Pick<TenantRepository, 'findByPhoneNumberId'>;

/** What the webhook asks of the privacy module when a flow completion is a data request. */
export interface PrivacyRequestCall {
  tenantId: TenantId;
  waId: WaId;
  type: PrivacyRequestType;
  scope: ErasureScope;
  channel: 'flow' | 'message';
  screen?: string;
  rectification?: { profileName: string };
}
export type RequestPrivacy = (input: PrivacyRequestCall) => Promise<{ id: string }>;

export interface WebhookDeps {
  secrets: SecretProvider;
  tenants: TenantLookup;
  subjects: SubjectStore;
  markers: Markers;
  audit: AuditRecorder;
  queue: QueueSender;
  clock: Clock;
  telemetry: Telemetry;
  requestPrivacy: RequestPrivacy;
}

/**
 * Markers in memory, with the same semantics as MarkerStore (expired markers are absent). Entries are
 * kept compact (times as numbers) and turned into Marker objects only when read: the benchmark writes
 * two per message.
 */
export class InMemoryMarkers implements Markers {
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

export class InMemoryAudit implements AuditRecorder {
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
}

export class InMemoryTenants implements TenantLookup {
  constructor(private readonly tenants: Tenant[]) {}
  async findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined> {
    return this.tenants.find((t) => t.phoneNumberIds.includes(phoneNumberId));
  }
}

/** A queue sender that only records what was sent. */
export class RecordingQueue implements QueueSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    for (const message of Array.isArray(messages) ? messages : [messages]) this.sent.push({ queue, message: structuredClone(message) });
  }
}
