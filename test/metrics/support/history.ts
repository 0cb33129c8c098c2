import { randomUUID } from 'node:crypto';
import { subjectHashOf, type SubjectHash, type TenantId, type WaId } from '../../../shared/domain';
import type { AuditRecord, MetricsRecords, RequestRecord, TombstoneRecord } from '../../../shared/metrics';
import type { PrivacyRequestDocument, PrivacyRequestStatus, PrivacyRequestType, RequestChannel } from '../../../shared/privacy';
import type { TestServices } from '../../support/testServices';

/** The key testEnv() gives SUBJECT_HASH_KEY: the history hashes its subjects as the app would. */
export const TEST_SUBJECT_HASH_KEY = 'test-subject-hash-key-0123456789abcdef0123';

export const PERIOD = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };
export const AS_OF = new Date('2026-02-20T00:00:00.000Z');

/** Personal data planted in the history where a careless implementation could pass it on. */
export const PLANTED = {
  phones: ['447700900461', '447700900462', '447700900463', '447700900464', '447700900465', '447700900466'],
  /** A flow screen id that carries a phone number: must be reported as "(other)", never as itself. */
  phoneScreen: 'SCREEN_447700900461',
  /** A flow completion whose details (wrongly) hold a name next to the screen. */
  name: 'Morwenna Trevithick',
};

export interface ScriptedAuditEvent {
  id: string;
  tenantId: TenantId;
  type: string;
  at: string;
  subjectHash?: SubjectHash;
  details?: NonNullable<AuditRecord['details']>;
}

export interface ScriptedHistory {
  tenantId: TenantId;
  requests: PrivacyRequestDocument[];
  audit: ScriptedAuditEvent[];
  tombstones: TombstoneRecord[];
}

const DAY = 86_400_000;
const at = (iso: string, plusMs = 0) => new Date(Date.parse(iso) + plusMs).toISOString();

/**
 * January 2026 of one tenant, as the expected figures in privacyMetrics.test.ts assume it:
 * - r1 erasure via flow (screen PRICING), completed in 2 s; r2 erasure via message, 4 s, preceded by the
 *   subject's DELIVERY_SLOTS flow an hour before; r3 erasure via admin, 8 s, no flow before;
 *   r4 erasure via admin, failed in hubspot, preceded by a CHECKOUT flow in December (within 30 days);
 *   r8 erasure via flow on a screen id holding a phone number, 1.5 s;
 * - r5 access via flow, 60 s; r10 access via message, completed 33 days later (after its due date);
 * - r6 objection via message, still in progress and past due at asOf; r7 rectification via admin,
 *   received 28 January, not due yet; r9 restriction in December (outside the period);
 * - tombstones (full erasures) of r1, r2, r8 in the period, r3's was media-only, one from December;
 *   an erasure of h9 known only from its audit event (its tombstone was rewritten in February);
 * - re-engagements: h1 after its erasure (counts), h2 before its erasure (does not), the December
 *   subject (not erased in the period), h8 in February (after the period), h9 after its erasure (counts);
 * - 100 flow completions in January (98 of other subjects, 2 of h2), one on 28 December.
 */
export function scriptedHistory(tenantId: TenantId = 'metrics-acme' as TenantId): ScriptedHistory {
  const hash = (i: number) => subjectHashOf(TEST_SUBJECT_HASH_KEY, tenantId, (PLANTED.phones[i] ?? `4477009${String(i).padStart(5, '0')}`) as WaId);
  const h = { 1: hash(0), 2: hash(1), 3: hash(2), 4: hash(3), 8: hash(4), 9: hash(5), x: hash(7), other: hash(8) };

  const request = (
    type: PrivacyRequestType,
    channel: RequestChannel,
    status: PrivacyRequestStatus,
    receivedAt: string,
    subjectHash: SubjectHash,
    extra: Partial<PrivacyRequestDocument> = {},
  ): PrivacyRequestDocument => ({
    id: randomUUID(),
    docType: 'request',
    tenantId,
    type,
    scope: 'all',
    channel,
    subjectHash,
    openKey: `${tenantId}:${randomUUID()}`,
    status,
    receivedAt,
    // A month, as dueDateOf() gives for GDPR (the figures only compare it).
    dueAt: at(receivedAt, 31 * DAY),
    updatedAt: receivedAt,
    attempts: 0,
    tasks: [],
    ttl: 761 * 86_400,
    ...extra,
  });

  const requests = [
    request('erasure', 'flow', 'completed', '2026-01-02T10:00:00.000Z', h[1], { screen: 'PRICING', completedAt: at('2026-01-02T10:00:00.000Z', 2000) }),
    request('erasure', 'message', 'completed', '2026-01-03T10:00:00.000Z', h[2], { completedAt: at('2026-01-03T10:00:00.000Z', 4000) }),
    request('erasure', 'admin', 'completed', '2026-01-05T10:00:00.000Z', h[3], { scope: 'media', completedAt: at('2026-01-05T10:00:00.000Z', 8000) }),
    request('erasure', 'admin', 'failed', '2026-01-06T10:00:00.000Z', h[4], {
      failedAt: at('2026-01-06T10:00:00.000Z', 60_000),
      failure: { store: 'hubspot', reason: 'HubSpot answered 500 on contact search' },
    }),
    request('access', 'flow', 'completed', '2026-01-07T10:00:00.000Z', h.other, { screen: 'PRIVACY_CENTRE', completedAt: at('2026-01-07T10:00:00.000Z', 60_000) }),
    request('objection', 'message', 'in_progress', '2026-01-08T10:00:00.000Z', h.other),
    request('rectification', 'admin', 'received', '2026-01-28T10:00:00.000Z', h.other),
    request('erasure', 'flow', 'completed', '2026-01-25T10:00:00.000Z', h[8], { screen: PLANTED.phoneScreen, completedAt: at('2026-01-25T10:00:00.000Z', 1500) }),
    request('restriction', 'admin', 'completed', '2025-12-20T10:00:00.000Z', h.other, { completedAt: '2025-12-20T10:00:05.000Z' }),
    request('access', 'message', 'completed', '2026-01-10T00:00:00.000Z', h.other, { completedAt: '2026-02-12T00:00:00.000Z' }),
  ];

  const event = (type: string, when: string, subjectHash?: SubjectHash, details?: ScriptedAuditEvent['details']): ScriptedAuditEvent => ({
    id: randomUUID(),
    tenantId,
    type,
    at: when,
    ...(subjectHash ? { subjectHash } : {}),
    ...(details ? { details } : {}),
  });
  const audit = [
    // flow completions: 98 of other subjects spread over January, h2's two, and one in December
    ...Array.from({ length: 98 }, (_, i) => event('flow.completed', at('2026-01-01T06:00:00.000Z', i * 7 * 3_600_000), hash(100 + i), { screen: i % 2 === 0 ? 'WELCOME' : 'PRICING' })),
    event('flow.completed', '2026-01-01T12:00:00.000Z', h[2], { screen: 'WELCOME', name: PLANTED.name }),
    event('flow.completed', '2026-01-03T09:00:00.000Z', h[2], { screen: 'DELIVERY_SLOTS' }),
    event('flow.completed', '2025-12-20T09:00:00.000Z', h[4], { screen: 'CHECKOUT' }),
    // erasure completions as verifyAndComplete writes them
    event('privacy.erasure.completed', at('2026-01-02T10:00:00.000Z', 2000), h[1], { type: 'erasure', scope: 'all', channel: 'flow' }),
    event('privacy.erasure.completed', at('2026-01-03T10:00:00.000Z', 4000), h[2], { type: 'erasure', scope: 'all', channel: 'message' }),
    event('privacy.erasure.completed', at('2026-01-05T10:00:00.000Z', 8000), h[3], { type: 'erasure', scope: 'media', channel: 'admin' }),
    event('privacy.erasure.completed', '2026-01-12T10:00:00.000Z', h[9], { type: 'erasure', scope: 'all', channel: 'admin' }),
    // re-engagements
    event('subject.reengaged', '2026-01-10T08:00:00.000Z', h[1]),
    event('subject.reengaged', '2026-01-02T08:00:00.000Z', h[2]),
    event('subject.reengaged', '2026-01-03T08:00:00.000Z', h.x),
    event('subject.reengaged', '2026-02-05T08:00:00.000Z', h[8]),
    event('subject.reengaged', '2026-01-20T08:00:00.000Z', h[9]),
  ];

  const tombstones: TombstoneRecord[] = [
    { subjectHash: h[1], erasedAt: at('2026-01-02T10:00:00.000Z', 2000), scope: 'all' },
    { subjectHash: h[2], erasedAt: at('2026-01-03T10:00:00.000Z', 4000), scope: 'all' },
    { subjectHash: h[3], erasedAt: at('2026-01-05T10:00:00.000Z', 8000), scope: 'media' },
    { subjectHash: h[8], erasedAt: at('2026-01-25T10:00:00.000Z', 1500), scope: 'all' },
    { subjectHash: h.x, erasedAt: '2025-12-15T10:00:00.000Z', scope: 'all' },
    { subjectHash: h[9], erasedAt: '2026-02-15T10:00:00.000Z', scope: 'all' },
  ];
  return { tenantId, requests, audit, tombstones };
}

/** The history as the pure function takes it (what the Cosmos loader would return). */
export function recordsOf(history: ScriptedHistory): MetricsRecords {
  const requests: RequestRecord[] = history.requests.map((r) => ({
    id: r.id,
    tenantId: r.tenantId,
    type: r.type,
    scope: r.scope,
    channel: r.channel,
    screen: r.screen,
    status: r.status,
    receivedAt: r.receivedAt,
    dueAt: r.dueAt,
    completedAt: r.completedAt,
    failedAt: r.failedAt,
    subjectHash: r.subjectHash,
    failure: r.failure,
  }));
  const audit: AuditRecord[] = history.audit.map((e) => ({ type: e.type, at: e.at, subjectHash: e.subjectHash, requestId: undefined, details: e.details }));
  return { requests, audit, tombstones: history.tombstones };
}

/** Writes the history where the app keeps it: request documents, audit events, tombstone markers. */
export async function writeHistory(s: TestServices, history: ScriptedHistory): Promise<void> {
  for (const doc of history.requests) await s.cosmos.privacyRequests.items.create(doc);
  for (const e of history.audit) await s.cosmos.audit.items.create({ ...e, actor: 'system', ttl: -1 });
  for (const t of history.tombstones) {
    await s.cosmos.markers.items.upsert({
      id: `tombstone:${t.subjectHash}`,
      pk: `${history.tenantId}|tombstone|${t.subjectHash}`,
      kind: 'tombstone',
      tenantId: history.tenantId,
      key: t.subjectHash,
      at: t.erasedAt,
      ttl: -1,
      data: { erasedAt: t.erasedAt, requestId: randomUUID(), scope: t.scope ?? 'all' },
    });
  }
}

/** What the history must give, figure by figure (derivation in the comment of scriptedHistory). */
export const EXPECTED = {
  completionRate: { value: 0.75, completed: 6, outOf: 8 },
  latency: { count: 6, p50Ms: 4000, p95Ms: 33 * DAY, p99Ms: 33 * DAY, maxMs: 33 * DAY },
  latencyHistogram: { '≤1 s': 0, '≤2 s': 2, '≤5 s': 1, '≤10 s': 1, '≤30 s': 0, '≤1 min': 1, '≤5 min': 0, '≤1 h': 0, '≤1 day': 0, '>1 day': 1 },
  deletionLatency: { count: 4, p50Ms: 2000, p95Ms: 8000, p99Ms: 8000, maxMs: 8000 },
  requestsByType: { erasure: 5, access: 2, rectification: 1, restriction: 0, objection: 1 },
  requestsTotal: 9,
  requestsByChannel: { admin: 3, flow: 3, message: 3 },
  overdue: 2,
  failed: 1,
  failedByStore: { hubspot: 1 },
  completedLate: 1,
  reengagement: { value: 0.5, reengaged: 2, erased: 4 },
  trust: { value: 20, flowCompletions: 100, deletionRequests: 5 },
  deletionsByScreen: { PRICING: 1, DELIVERY_SLOTS: 1, '(none)': 1, CHECKOUT: 1, '(other)': 1 },
};
