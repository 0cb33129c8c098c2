import { declaredScreen } from '../domain/allowList';
import { createHash, randomUUID } from 'node:crypto';
import { encryptText } from '../crypto/dataEncryption';
import { hashIdentifier } from '../crypto/subjectKeys';
import type { SubjectHash, SubjectIdentifier, TenantId } from '../domain/ids';
import { fencePerson, personOf } from '../identity/person';
import type { PrivacyDeps } from './deps';
import type { VersionedRequest } from './ports';
import {
  dueDateOf,
  viewOf,
  type ErasureScope,
  type PrivacyRequestDocument,
  type PrivacyRequestType,
  type PrivacyRequestView,
  type RequestChannel,
} from './privacyRequest';

export interface CreatePrivacyRequestInput {
  tenantId: TenantId;
  /** The identifier the subject is known by here: a phone number or a business-scoped user id. */
  subject: SubjectIdentifier;
  type: PrivacyRequestType;
  scope?: ErasureScope;
  channel: RequestChannel;
  /** The operator's object id (admin API) or `system`. */
  actor?: string;
  /** The Flow screen the request was made on. */
  screen?: string;
  /** An erasure drill's request (shared/drills): marked, so the privacy figures leave it out. */
  drill?: true;
  rectification?: { profileName: string };
}

export type CreatePrivacyRequestResult = { kind: 'created' | 'existing'; request: PrivacyRequestView } | { kind: 'unknown-tenant' };

/**
 * Receives a data subject's request, from the admin API, a WhatsApp Flow or a message. The request is
 * written to Cosmos first (with its legal due date), then its id is sent to `privacy-requests`, then
 * `enqueuedAt` is set. A crash between the write and the send leaves a request without `enqueuedAt`,
 * which the reconciler sends a minute later: nothing is lost.
 *
 * An identical request that is still open (same tenant, subject, type and scope) is returned instead
 * of a second one (`existing`): a double tap in a Flow starts one erasure.
 */
export async function createPrivacyRequest(deps: PrivacyDeps, rawInput: CreatePrivacyRequestInput): Promise<CreatePrivacyRequestResult> {
  const tenant = await deps.recentTenants.get(rawInput.tenantId);
  if (!tenant) return { kind: 'unknown-tenant' };
  // The screen comes from a flow's payload: kept only when a flow declares it (shared/domain/allowList.ts).
  const screen = declaredScreen(rawInput.screen, tenant.flowScreens);
  const { screen: _given, ...rest } = rawInput;
  const input: CreatePrivacyRequestInput = { ...rest, ...(screen ? { screen } : {}) };
  const scope: ErasureScope = input.type === 'erasure' ? (input.scope ?? 'all') : 'all';
  const subjectHash = await hashIdentifier(deps.secrets, input.tenantId, input.subject);
  const openKey = openKeyOf(input.tenantId, subjectHash, input.type, scope, input.rectification?.profileName);

  const id = randomUUID();
  const lock = await deps.requests.acquireOpenLock(openKey, id);
  if (!lock.acquired) return { kind: 'existing', request: viewOf(lock.holder) };

  const now = deps.clock.now();
  const keyring = await deps.keyring();
  const doc: PrivacyRequestDocument = {
    id,
    docType: 'request',
    tenantId: input.tenantId,
    type: input.type,
    scope,
    channel: input.channel,
    ...(input.screen ? { screen: input.screen } : {}),
    ...(input.drill ? { drill: true as const } : {}),
    ...(input.actor ? { actor: input.actor } : {}),
    subjectHash,
    // The identifier is needed until the request is carried out; encrypted, bound to this request's id.
    subjectRef: encryptText(keyring, input.subject.value, id),
    ...(input.rectification ? { rectificationRef: encryptText(keyring, JSON.stringify(input.rectification), `${id}:rectification`) } : {}),
    openKey,
    ...(lock.etag ? { openLockEtag: lock.etag } : {}),
    status: 'received',
    receivedAt: now.toISOString(),
    dueAt: dueDateOf(now, tenant.jurisdiction).toISOString(),
    updatedAt: now.toISOString(),
    attempts: 0,
    tasks: [],
    ttl: -1,
  };
  const written = await deps.requests.create(doc);
  // The subject is fenced from now (shared/markers/erasureFence.ts); if this write fails, planning
  // writes the fence before any store is touched, and the verification catches what came in between.
  const fenced = input.type === 'erasure'
    ? fencePerson(deps, input.tenantId, [subjectHash], { requestId: id, since: now.toISOString(), scope }).catch(() => undefined)
    : undefined;
  // Written first; then the audit event and the send go out together.
  const audited = deps.audit.record({
    tenantId: input.tenantId,
    type: 'privacy.request.received',
    subjectHash,
    requestId: id,
    actor: input.actor ?? 'system',
    details: { type: input.type, scope, channel: input.channel, dueAt: doc.dueAt, jurisdiction: tenant.jurisdiction, ...(input.screen ? { screen: input.screen } : {}), ...(input.drill ? { drill: true } : {}) },
  });
  deps.telemetry.event('privacy.request.received', { tenantId: input.tenantId, type: input.type, channel: input.channel, ...(input.screen ? { screen: input.screen } : {}) });

  const [enqueued] = await Promise.all([enqueue(deps, id, id, written), audited, fenced]);
  return { kind: 'created', request: viewOf(enqueued ?? doc) };
}

/** Sends the request to `privacy-requests` and records that it was sent. A failed send is left to the reconciler. */
export async function enqueue(deps: PrivacyDeps, requestId: string, messageId = requestId, known?: VersionedRequest): Promise<PrivacyRequestDocument | undefined> {
  try {
    await deps.queue.send('privacy-requests', { messageId, body: { requestId } });
  } catch {
    deps.telemetry.event('privacy.request.enqueue-failed', { requestId });
    return undefined;
  }
  const now = deps.clock.now().toISOString();
  const result = await deps.requests.mutate(requestId, (doc) => (doc.enqueuedAt || doc.status !== 'received' ? undefined : { ...doc, enqueuedAt: now }), known);
  return result?.doc;
}

export async function getPrivacyRequest(deps: PrivacyDeps, id: string): Promise<PrivacyRequestView | undefined> {
  const doc = await deps.requests.get(id);
  return doc ? viewOf(doc) : undefined;
}

/** The subject's requests, newest first: what the WhatsApp Flows privacy centre shows. */
export async function latestRequestsForSubject(deps: PrivacyDeps, tenantId: TenantId, subject: SubjectIdentifier, limit = 10): Promise<PrivacyRequestView[]> {
  const subjectHash = await hashIdentifier(deps.secrets, tenantId, subject);
  return (await deps.requests.listForSubject(tenantId, subjectHash, { limit })).map(viewOf);
}

export interface AccessSummary {
  contact: boolean;
  /** When the contact was first and last seen, and whether a profile name is held (not the name). */
  contactDetails?: { firstSeenAt: string; lastSeenAt: string; hasProfileName: boolean };
  flowResponses: number;
  messages: number;
  media: number;
  consents: number;
  /** The tenant syncs contacts to HubSpot and holds a contact for the subject. */
  hubspot: boolean;
  marketing: 'opted_in' | 'opted_out' | 'unknown';
  /** The person's own choice in WhatsApp (`user_preferences`): `stop`, `resume`, or none recorded. */
  whatsappMarketing: 'stop' | 'resume' | 'none';
  restricted: boolean;
  openRequests: number;
}

/**
 * What is held about the person, as kinds and counts, for the privacy centre screen: one query per
 * identifier's partition and a few point reads, no call to HubSpot (a Flow screen must answer fast).
 */
export async function accessSummary(deps: PrivacyDeps, tenantId: TenantId, subject: SubjectIdentifier): Promise<AccessSummary> {
  const subjectHash = await hashIdentifier(deps.secrets, tenantId, subject);
  const subjectHashes = await personOf(deps, tenantId, [subjectHash]);
  const [docs, tenant, suppression, preference, restriction, requests] = await Promise.all([
    deps.subjects.summary({ tenantId, identifier: subject, subjectHash, subjectHashes }),
    deps.tenants.get(tenantId),
    deps.markers.get('suppression', tenantId, subjectHash),
    deps.markers.get('marketing-preference', tenantId, subjectHash),
    deps.markers.get('restriction', tenantId, subjectHash),
    deps.requests.listForSubject(tenantId, subjectHash, { limit: 50 }),
  ]);
  const count = (type: string) => docs.filter((d) => d.type === type).length;
  const contact = docs.find((d) => d.type === 'contact');
  const consent = docs.find((d) => d.type === 'consent');
  const whatsappMarketing = preference?.data?.value === 'stop' ? 'stop' : preference?.data?.value === 'resume' ? 'resume' : 'none';
  const marketing =
    suppression || whatsappMarketing === 'stop' || contact?.optIn === 'opted_out' || consent?.granted === false
      ? 'opted_out'
      : consent?.granted === true || contact?.optIn === 'opted_in'
        ? 'opted_in'
        : 'unknown';
  return {
    contact: contact !== undefined,
    ...(contact ? { contactDetails: { firstSeenAt: contact.firstSeenAt ?? '', lastSeenAt: contact.lastSeenAt ?? '', hasProfileName: Boolean(contact.profileName) } } : {}),
    flowResponses: count('flowResponse'),
    messages: count('message'),
    media: count('mediaRef'),
    consents: count('consent'),
    hubspot: Boolean(tenant?.hubspot.enabled) && contact !== undefined,
    marketing,
    whatsappMarketing,
    restricted: restriction !== undefined || docs.some((d) => d.type === 'contact' && d.restricted === true),
    openRequests: requests.filter((r) => ['received', 'in_progress', 'verifying'].includes(r.status)).length,
  };
}

/** The identity of an "identical" request: a hash, so the lock holds no name even for a rectification. */
function openKeyOf(tenantId: TenantId, subjectHash: SubjectHash, type: PrivacyRequestType, scope: ErasureScope, profileName?: string): string {
  return createHash('sha256')
    .update([tenantId, subjectHash, type, scope, profileName ?? ''].join('\u0000'))
    .digest('hex');
}
