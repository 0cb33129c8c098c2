import type { PrivacyDeps } from './deps';
import type { PrivacyRequestDocument, TaskStore } from './privacyRequest';
import type { SubjectContext } from './registry';

export type Leftovers = Partial<Record<TaskStore, number>>;

export interface VerificationPass {
  /** What is still there, per store, after at most one re-run of the erasers that found leftovers. */
  leftovers: Leftovers;
  reruns: number;
  /** The request as last written (the re-run records its counts). */
  current: PrivacyRequestDocument;
}

/**
 * The verification of an erasure: every store the erasure reached is read again for the subject.
 * Leftovers (a webhook or sync that raced the erasure) get one re-run of those erasers and a second pass.
 * Throws what a store throws (the caller decides on a retry).
 */
export async function verifyErasure(deps: PrivacyDeps, doc: PrivacyRequestDocument, subject: SubjectContext): Promise<VerificationPass> {
  let reruns = doc.verification?.reruns ?? 0;
  let current = doc;
  let leftovers = await verifyAll(deps, doc, subject);
  if (total(leftovers) > 0 && reruns < 1) {
    reruns += 1;
    current = await rerunErasers(deps, doc, subject, leftovers, reruns);
    leftovers = await verifyAll(deps, current, subject);
  }
  return { leftovers, reruns, current };
}

async function verifyAll(deps: PrivacyDeps, doc: PrivacyRequestDocument, subject: SubjectContext): Promise<Leftovers> {
  // Every store the erasure reached, including those that held nothing at planning; not those that do
  // not apply to the tenant (HubSpot without the integration).
  const checks = doc.tasks
    .filter((t) => t.status === 'done' && !deps.registry.get(t.store).notApplicable(subject.tenant))
    .map(async (t) => [t.store, await deps.registry.get(t.store).verifyErased(subject, doc.scope, t.refs)] as const);
  return Object.fromEntries(await Promise.all(checks));
}

async function rerunErasers(
  deps: PrivacyDeps,
  doc: PrivacyRequestDocument,
  subject: SubjectContext,
  leftovers: Leftovers,
  reruns: number,
): Promise<PrivacyRequestDocument> {
  const outcomes = await Promise.all(
    (Object.entries(leftovers) as [TaskStore, number][])
      .filter(([, n]) => n > 0)
      .map(async ([store]) => [store, await deps.registry.get(store).eraseSubject(subject, doc.scope)] as const),
  );
  const result = await deps.requests.mutate(doc.id, (d) => {
    if (d.status !== 'verifying') return undefined;
    for (const [store, outcome] of outcomes) {
      const task = d.tasks.find((t) => t.store === store);
      if (!task) continue;
      task.counts = { found: task.counts.found + outcome.found, deleted: task.counts.deleted + outcome.deleted };
      if (outcome.refs) task.refs = [...new Set([...(task.refs ?? []), ...outcome.refs])];
    }
    d.verification = { checkedAt: deps.clock.now().toISOString(), reruns, leftovers: Object.fromEntries(Object.entries(leftovers)) as Record<string, number> };
    return d;
  });
  deps.telemetry.event('privacy.verification.rerun', { tenantId: doc.tenantId, requestId: doc.id, stores: outcomes.map(([s]) => s).join(',') });
  return result?.doc ?? doc;
}

function total(counts: Partial<Record<string, number>>): number {
  return Object.values(counts).reduce<number>((n, v) => n + (v ?? 0), 0);
}

