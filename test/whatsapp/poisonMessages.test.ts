import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../local/emulators';
import { CosmosAuditLog, cosmosClientFor, cosmosContainers } from '../../shared/cosmos';
import { hashSubject } from '../../shared/crypto';
import type { TenantId, WaId } from '../../shared/domain';
import { InputFailure, isInputFailure } from '../../shared/failures';
import { useServices } from '../../shared/runtime';
import { change, delivery, messages, newWaId } from '../fixtures/whatsapp/payloads';
import { phoneNeedles, sweepForPii } from '../support/piiSweep';
import { startTestHost, type TestHost } from '../support/testHost';
import { createTenant, json, postWebhook, subjectDocuments } from './support';

/**
 * A signed delivery with one message that can never be processed: that message is counted, audited by
 * keyed hash and skipped, the rest of the delivery is stored and Meta gets 200 (not 503 forever). A store
 * outage still answers 503 so Meta retries.
 */
let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  useServices(t.services);
  await t?.close();
});

const NAME = 'Morwenna Trevithick';

/** A delivery whose JSON is built as text: a contact card nested `depth` deep cannot be JSON.stringify-ed. */
function deliveryWithDeepCard(phoneNumberId: string, waId: string, depth: number, others: Record<string, unknown>[]): string {
  const card = { ...messages.contacts(waId), contacts: [{ name: { formatted_name: NAME }, org: '__DEEP__' }] };
  const text = JSON.stringify(delivery([change({ phoneNumberId, contacts: [{ waId, name: NAME }], messages: [card, ...others] })]));
  return text.replace('"__DEEP__"', `${'{"a":'.repeat(depth)}"${NAME} 07700 900123"${'}'.repeat(depth)}`);
}

describe('a bad message costs only itself', () => {
  for (const storage of ['encrypted', 'none'] as const) {
    it(`(${storage}) a far-future timestamp and a contact card nested 8,000 deep are rejected on their own; the other messages are stored and Meta gets 200, also on a retry`, async () => {
      const tenant = await createTenant(t, { messageStorage: storage });
      const waId = newWaId();
      const future = { ...messages.text(waId, `${NAME} writes from the future`), timestamp: '99999999999999' };
      const first = messages.text(waId, 'first good message');
      const second = messages.text(waId, 'second good message');

      const timestamp = await postWebhook(t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: NAME }], messages: [future, first] })]));
      expect(timestamp.status).toBe(200);
      expect((await json<{ received: Record<string, number> }>(timestamp)).received).toMatchObject({ messages: 2, stored: 1, rejected: 1 });

      const body = deliveryWithDeepCard(tenant.phoneNumberId, waId, 8000, [second]);
      const deep = await postWebhook(t.url, body);
      expect(deep.status).toBe(200);
      expect((await json<{ received: Record<string, number> }>(deep)).received).toMatchObject({ messages: 2, stored: 1, rejected: 1 });

      // Meta redelivers (it always may): the rejected message is remembered, nothing is counted twice.
      const again = await postWebhook(t.url, body);
      expect(again.status).toBe(200);
      expect((await json<{ received: Record<string, number> }>(again)).received).toMatchObject({ messages: 2, duplicates: 1, rejected: 1 });

      const stored = (await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
      expect(stored).toHaveLength(storage === 'encrypted' ? 2 : 0);

      const subjectHash = await hashSubject(t.services.secrets, tenant.tenantId, waId as WaId);
      const audited = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId as TenantId, new Date(Date.now() - 60_000), new Date(Date.now() + 1000), { type: 'webhook.message.rejected' });
      expect(audited.map((e) => e.details?.reason).sort()).toEqual(['timestamp', 'too-deep']);
      for (const event of audited) {
        expect(event.subjectHash).toBe(subjectHash);
        expect(Object.keys(event.details ?? {}).sort()).toEqual(['messageKey', 'messageType', 'reason']);
        expect(String(event.details?.messageKey)).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(t.services.telemetry.metrics.filter((m) => m.name === 'webhook.message.rejected' && m.dimensions.tenantId === tenant.tenantId).map((m) => m.dimensions.reason).sort()).toEqual(['timestamp', 'too-deep', 'too-deep']);
      // No content of the rejected messages anywhere but the subject's own partition.
      const hits = await sweepForPii([NAME, 'from the future', ...phoneNeedles('447700900123')], { cosmos: t.services.cosmos.audit.database, queue: t.services.queue, logs: t.logs, telemetry: t.services.telemetry });
      expect(hits.filter((h) => !h.location.startsWith('cosmos:subjects/'))).toEqual([]);
    });
  }

  it('a store outage is not the message: still 503 so Meta retries, and the retry once it is back stores everything', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const payload = delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: NAME }], messages: [{ ...messages.text(waId, 'bad time'), timestamp: '99999999999999' }, messages.text(waId, 'good')] })]);
    const client = cosmosClientFor({ connectionString: `AccountEndpoint=http://127.0.0.1:9/;AccountKey=${COSMOS_EMULATOR_KEY};` });
    useServices({ ...t.services, cosmos: cosmosContainers(client, t.services.settings.COSMOS_DATABASE) });
    try {
      expect((await postWebhook(t.url, payload)).status).toBe(503);
    } finally {
      useServices(t.services);
      client.dispose();
    }
    const back = await postWebhook(t.url, payload);
    expect(back.status).toBe(200);
    expect((await json<{ received: Record<string, number> }>(back)).received).toMatchObject({ stored: 1, rejected: 1 });
  });

  it('the failure classifier tells the input from an outage', () => {
    expect(isInputFailure(new InputFailure('timestamp'))).toBe(true);
    expect(isInputFailure(new RangeError('Invalid time value'))).toBe(true);
    expect(isInputFailure(new RangeError('Maximum call stack size exceeded'))).toBe(true);
    expect(isInputFailure(Object.assign(new Error('Request entity too large'), { name: 'RestError', statusCode: 413, request: { url: 'https://acct.documents.azure.com/dbs/x' } }))).toBe(true);
    expect(isInputFailure(Object.assign(new Error('forbidden'), { name: 'RestError', statusCode: 403, request: { url: 'https://acct.documents.azure.com/dbs/x' } }))).toBe(false);
    expect(isInputFailure(Object.assign(new Error('unavailable'), { name: 'RestError', statusCode: 503, request: { url: 'https://acct.documents.azure.com/dbs/x' } }))).toBe(false);
    expect(isInputFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }))).toBe(false);
    expect(isInputFailure(new Error('something else'))).toBe(false);
  });
});
