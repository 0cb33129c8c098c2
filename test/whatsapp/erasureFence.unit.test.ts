import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSubject } from '../../shared/crypto';
import type { TenantId } from '../../shared/domain';
import type { AnySubjectDocument } from '../../shared/subjects';
import { tenantSchema, type Tenant } from '../../shared/tenants';
import { messages, newMediaId, newPhoneNumberId, newWaId, single } from '../fixtures/whatsapp/payloads';
import { inMemoryWebhookWorld, InMemorySubjectStore } from '../doubles';

/**
 * The webhook's side of the erasure fence (shared/markers/erasureFence.ts), with in-memory stores: the
 * races are set up exactly, where the end-to-end tests (test/privacy/erasureFence.e2e.test.ts) meet them
 * by running them many times.
 */

/** A subject store in which an erasure begins (its fence is written) while the webhook is writing. */
class StallingSubjectStore extends InMemorySubjectStore {
  onWrite: ((doc: AnySubjectDocument) => Promise<void>) | undefined;
  override async upsert(doc: AnySubjectDocument): Promise<void> {
    await this.onWrite?.(doc);
    await super.upsert(doc);
  }
}

function world() {
  const now = new Date().toISOString();
  const tenant: Tenant = tenantSchema.parse({ id: `u-${randomBytes(4).toString('hex')}`, name: 'Unit', phoneNumberIds: [newPhoneNumberId()], messageStorage: 'encrypted', flowScreens: ['PRIVACY'], createdAt: now, updatedAt: now });
  const { clock, deps, subjects, privacyCalls, post } = inMemoryWebhookWorld({ tenant, subjects: new StallingSubjectStore() });
  const fence = async (waId: string) => {
    const subjectHash = await hashSubject(deps.secrets, tenant.id as TenantId, waId as never);
    await deps.markers.put('fence', tenant.id as TenantId, subjectHash, { ttlSeconds: -1, data: { requestId: 'erasure-1', since: clock.now().toISOString(), scope: 'all' } });
    return subjectHash;
  };
  return { tenant, deps, subjects, privacyCalls, post, fence };
}

describe('the webhook and the erasure fence', () => {
  it('a message that arrives while its subject is being erased is included in the erasure: 200, nothing kept, counted', async () => {
    const w = world();
    const waId = newWaId();
    await w.fence(waId);
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'hello during the erasure')));
    expect(result).toMatchObject({ kind: 'accepted', summary: { messages: 1, stored: 0, includedInErasure: 1 } });
    expect(w.subjects.all()).toEqual([]);
    expect(w.deps.queue.sent).toEqual([]);
  });

  it('a writer that stalls while an erasure begins removes its own write (the contact it created and the message)', async () => {
    const w = world();
    const waId = newWaId();
    // The erasure begins, and its erasers pass this subject, between the webhook's check and its write.
    w.subjects.onWrite = async (doc) => {
      if (doc.type === 'message') await w.fence(waId);
    };
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'written as the erasure began')));
    expect(result).toMatchObject({ kind: 'accepted', summary: { stored: 0, includedInErasure: 1 } });
    expect(w.subjects.all()).toEqual([]);
  });

  it('a media message whose writer stalls as an erasure begins leaves no media reference behind', async () => {
    const w = world();
    const waId = newWaId();
    w.subjects.onWrite = async (doc) => {
      if (doc.type === 'message') await w.fence(waId);
    };
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.image(waId, { id: newMediaId(), sha256: 'abc=' }, 'a caption')));
    expect(result).toMatchObject({ kind: 'accepted', summary: { includedInErasure: 1 } });
    expect(w.subjects.all()).toEqual([]);
  });

  it('a STOP sent during an erasure is still honoured: the keyed hash goes on the suppression list, nothing else is kept', async () => {
    const w = world();
    const waId = newWaId();
    const subjectHash = await w.fence(waId);
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'STOP')));
    expect(result).toMatchObject({ kind: 'accepted', summary: { includedInErasure: 1 } });
    expect(await w.deps.markers.get('suppression', w.tenant.id as TenantId, subjectHash)).toBeDefined();
    expect(w.subjects.all()).toEqual([]);
  });

  it('a right asked for in a Flow during an erasure still reaches the privacy module (no answers kept)', async () => {
    const w = world();
    const waId = newWaId();
    await w.fence(waId);
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.flowCompletion(waId, { flow_token: 'privacy-centre', screen: 'PRIVACY', action: 'data_access_request' })));
    expect(result).toMatchObject({ kind: 'accepted', summary: { privacyRequests: 1 } });
    expect(w.privacyCalls).toEqual([expect.objectContaining({ type: 'access', channel: 'flow' })]);
    expect(w.subjects.all()).toEqual([]);
  });
});
