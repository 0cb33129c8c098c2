import { z } from 'zod';
import { openSealed } from '../crypto/subjectKeys';
import { erasureCovering } from '../markers/erasureFence';
import { subjectPartitionKey } from '../domain/ids';
import { markPerson } from '../identity/person';
import { lifetime, type ConsentDocument } from '../subjects/documents';
import type { StoredContact } from '../subjects/subjectStore';
import { ttlSeconds } from '../tenants/tenant';
import { finish, taskDetails } from './completion';
import type { PrivacyDeps } from './deps';
import { step, StoreError } from './errors';
import type { PrivacyRequestDocument, PrivacyTask } from './privacyRequest';
import type { SubjectContext } from './registry';
import { exportBlobName } from './exportNames';
import { subjectOf } from './subject';

type Outcome = Record<string, string | number | boolean>;

/** Carries out a request that needs no fan-out, completes it and audits it (no personal data in the event). */
export async function carryOutDirectRequest(deps: PrivacyDeps, doc: PrivacyRequestDocument): Promise<void> {
  const subject = await subjectOf(deps, doc);
  const started = deps.clock.now();
  let outcome: Outcome = {};
  let tasks: PrivacyTask[] = doc.tasks;
  let exportInfo: PrivacyRequestDocument['export'];
  switch (doc.type) {
    case 'access': {
      const result = await accessExport(deps, doc, subject);
      tasks = result.tasks;
      exportInfo = result.export;
      outcome = { records: tasks.reduce((n, t) => n + t.counts.found, 0), bytes: result.export.bytes, expiresAt: result.export.expiresAt };
      break;
    }
    case 'rectification':
    case 'restriction':
    case 'objection': {
      // An erasure of the subject in flight makes a change to their data moot (and must not meet a write
      // that recreates what it deleted); an objection's suppression (a keyed hash) still goes on the list.
      const erasing = await erasureCovering(deps.markers, doc.tenantId, doc.subjectHash, started);
      if (erasing?.state === 'in-progress') {
        outcome = { includedInErasure: erasing.requestId, ...(doc.type === 'objection' ? await suppress(deps, subject) : {}) };
      } else {
        outcome = doc.type === 'rectification' ? await rectify(deps, doc, subject) : doc.type === 'restriction' ? await restrict(deps, subject) : await object(deps, subject, started);
      }
      break;
    }
    case 'erasure':
      throw new StoreError('permanent', 'an erasure is planned, not carried out directly');
  }
  const completedAt = deps.clock.now();
  const totalMs = completedAt.getTime() - Date.parse(doc.receivedAt);
  await deps.audit.record({
    tenantId: doc.tenantId,
    type: `privacy.${doc.type}.completed`,
    subjectHash: doc.subjectHash,
    requestId: doc.id,
    details: { type: doc.type, channel: doc.channel, receivedAt: doc.receivedAt, dueAt: doc.dueAt, totalMs, stepMs: completedAt.getTime() - started.getTime(), ...outcome, ...taskDetails(tasks) },
  });
  await finish(deps, doc.id, (d) => (d.status === 'received' ? { ...d, status: 'completed', completedAt: completedAt.toISOString(), tasks, outcome, subjectHashes: [...subject.subjectHashes], ...(exportInfo ? { export: exportInfo } : {}) } : undefined));
  deps.telemetry.event('privacy.request.completed', { tenantId: doc.tenantId, type: doc.type, channel: doc.channel, latencyMs: totalMs, requestId: doc.id });
}

/**
 * Art. 15/20: everything every store of the registry holds on the subject, as one JSON document
 * (machine readable, with what each store is and how long it keeps data), written to
 * `exports/<tenantId>/<subject-hash>/<requestId>.json` and expiring after the tenant's `exportDays`.
 */
async function accessExport(deps: PrivacyDeps, doc: PrivacyRequestDocument, subject: SubjectContext): Promise<{ tasks: PrivacyTask[]; export: NonNullable<PrivacyRequestDocument['export']> }> {
  const generatedAt = deps.clock.now();
  const expiresAt = new Date(generatedAt.getTime() + ttlSeconds(subject.tenant.retention.exportDays) * 1000);
  const blobName = exportBlobName(subject.tenantId, subject.subjectHash, doc.id);
  // An erasure of the subject in flight: its data is going, and a copy of it must not stay behind.
  const before = await erasureCovering(deps.markers, doc.tenantId, doc.subjectHash, generatedAt);
  if (before?.state === 'in-progress') return { tasks: [], export: { blobName, expiresAt: expiresAt.toISOString(), bytes: 0, erasedBy: before.requestId } };
  const stores: Record<string, unknown> = {};
  const tasks: PrivacyTask[] = [];
  for (const store of deps.registry.stores) {
    const startedAt = deps.clock.now();
    const note = store.notApplicable(subject.tenant);
    const base = { store: store.name, status: 'done' as const, attempts: note ? 0 : 1, generation: 0, rateLimited: 0, startedAt: startedAt.toISOString() };
    if (note) {
      tasks.push({ ...base, note, counts: { found: 0, deleted: 0 }, finishedAt: startedAt.toISOString(), durationMs: 0 });
      continue;
    }
    const { records, data } = await store.exportSubject(subject);
    stores[store.name] = { description: store.description, retention: store.retention, records, data };
    const finishedAt = deps.clock.now();
    tasks.push({ ...base, counts: { found: records, deleted: 0 }, finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - startedAt.getTime() });
  }
  const document = {
    format: 'flowkeeper.access-export/v1',
    requestId: doc.id,
    controller: { tenantId: subject.tenantId, name: subject.tenant.name },
    subject: subject.identifier.kind === 'waId' ? { waId: subject.identifier.value, phone: `+${subject.identifier.value}` } : { userId: subject.identifier.value },
    identifiers: subject.subjectHashes.length,
    generatedAt: generatedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    stores,
  };
  const bytes = Buffer.from(JSON.stringify(document, null, 2), 'utf8');
  await step('Blob Storage', 'export upload', () => deps.exports.write(blobName, bytes));
  // Write, then look again: an erasure that began after the data was read covers this copy, and its
  // exports eraser may have listed the subject's exports before this one existed.
  const after = await erasureCovering(deps.markers, doc.tenantId, doc.subjectHash, generatedAt);
  if (after) {
    await step('Blob Storage', 'export delete', () => deps.exports.delete(blobName));
    return { tasks, export: { blobName, expiresAt: expiresAt.toISOString(), bytes: 0, deletedAt: deps.clock.now().toISOString(), erasedBy: after.requestId } };
  }
  return { tasks, export: { blobName, expiresAt: expiresAt.toISOString(), bytes: bytes.length } };
}

const rectificationSchema = z.object({ profileName: z.string().min(1) });

/** Art. 16: the contact's profile name corrected. The event records that it happened, not the name. */
async function rectify(deps: PrivacyDeps, doc: PrivacyRequestDocument, subject: SubjectContext): Promise<Outcome> {
  if (!doc.rectificationRef) throw new StoreError('permanent', 'the rectification has no corrected value left');
  const { profileName } = rectificationSchema.parse(JSON.parse(await openSealed(deps.keyring, doc.rectificationRef, `${doc.id}:rectification`)));
  const now = deps.clock.now().toISOString();
  // Every identifier's contact of the person holds the name.
  const contact = await step('Cosmos DB', 'contact update', () =>
    eachContact(deps, subject, (current) => (current ? { ...current, profileName, rectifiedAt: now } : undefined)),
  );
  // HubSpot holds the name too where the tenant syncs to it: corrected there at once, not at the next message.
  const syncsToHubSpot = subject.tenant.hubspot.enabled || subject.tenant.messageStorage === 'hubspot';
  const hubspotUpdated = contact && syncsToHubSpot
    ? await step('HubSpot', 'contact name update', () => deps.crm.renameSubject(subject, profileName))
    : 0;
  return { contactFound: contact !== undefined, rectified: contact !== undefined, hubspotContactsUpdated: hubspotUpdated };
}

/** Art. 18: processing restricted (stored, not used: no HubSpot sync, no messages). */
async function restrict(deps: PrivacyDeps, subject: SubjectContext): Promise<Outcome> {
  // A person marker (every identifier, and any linked later), beside the contacts' flag.
  await step('Cosmos DB', 'restriction marker write', () =>
    markPerson(deps, subject.tenantId, subject.subjectHashes, 'restriction', { ttlSeconds: -1, data: { since: deps.clock.now().toISOString() } }),
  );
  const contact = await step('Cosmos DB', 'contact update', () =>
    eachContact(deps, subject, (current) => (current && !current.restricted ? { ...current, restricted: true } : current)),
  );
  return { contactFound: contact !== undefined, restricted: true };
}

/** Applies `change` to the contact of each identifier of the person; returns the request identifier's (or any). */
async function eachContact(deps: PrivacyDeps, subject: SubjectContext, change: (current: StoredContact | undefined) => StoredContact | undefined): Promise<StoredContact | undefined> {
  const results = await Promise.all(
    [...new Set([subject.subjectHash, ...subject.subjectHashes])].map((h) => deps.subjects.updateContact(subject.tenantId, h, change)),
  );
  return results[0]?.contact ?? results.find((r) => r.contact)?.contact;
}

/**
 * Art. 21: marketing opt-out. The keyed hash goes onto the suppression list (which survives erasure),
 * and the subject's marketing consent, if any is held, is recorded as withdrawn.
 */
async function object(deps: PrivacyDeps, subject: SubjectContext, started: Date): Promise<Outcome> {
  const now = deps.clock.now();
  const pk = subjectPartitionKey(subject.tenantId, subject.subjectHash);
  const { alreadySuppressed } = await suppress(deps, subject);
  const [consents, contact] = await step('Cosmos DB', 'consent query', async () =>
    Promise.all([
      deps.subjects.consents(subject),
      deps.subjects.getContact(subject.tenantId, subject.subjectHash),
    ]),
  );
  const marketing = consents.filter((c) => c.purpose === 'marketing');
  const withdrawn: ConsentDocument[] = marketing.length > 0
    ? marketing.map((c) => ({ ...c, granted: false, at: now.toISOString() }))
    : contact
      ? [{ id: 'consent-marketing', pk, tenantId: subject.tenantId, type: 'consent', purpose: 'marketing', granted: false, at: now.toISOString(), createdAt: now.toISOString(), ...lifetime(now, ttlSeconds(subject.tenant.retention.contactDays)) }]
      : [];
  await step('Cosmos DB', 'consent write', async () => {
    for (const consent of withdrawn) await deps.subjects.upsert(consent);
  });
  // Write, then look again: an erasure that began meanwhile may have passed the consents already.
  if (await erasureCovering(deps.markers, subject.tenantId, subject.subjectHash, started)) {
    await step('Cosmos DB', 'consent delete', () => deps.subjects.delete(subject, withdrawn.map((c) => ({ id: c.id, pk: c.pk, type: c.type }))));
    return { suppressed: true, alreadySuppressed, consentsWithdrawn: 0 };
  }
  return { suppressed: true, alreadySuppressed, consentsWithdrawn: withdrawn.length };
}

/** The keyed hash on the suppression list (it survives erasure, so the subject is not messaged again). */
async function suppress(deps: PrivacyDeps, subject: SubjectContext): Promise<{ suppressed: true; alreadySuppressed: boolean }> {
  const existing = await deps.markers.get('suppression', subject.tenantId, subject.subjectHash);
  if (!existing) await markPerson(deps, subject.tenantId, subject.subjectHashes, 'suppression', { ttlSeconds: -1, data: { since: deps.clock.now().toISOString(), source: 'objection' } });
  return { suppressed: true, alreadySuppressed: existing !== undefined };
}
