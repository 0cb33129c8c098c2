import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators';
import { getPrivacyRequest } from '../../shared/privacy';
import { simulate } from '../../scripts/simulate';
import { newPhoneNumberId, newWaId } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { uniqueTenantId } from '../support/testServices';
import { mediaPrefixFor } from '../../shared/storage';
import { subjectDocuments, subjectHashOf } from './support';
import { rootOf } from '../../shared/runtime';

let t: TestHost;
let graphBaseUrl: string;
beforeAll(async () => {
  graphBaseUrl = `http://127.0.0.1:${await freePort()}/v23.0`;
  t = await startTestHost({ GRAPH_API_BASE_URL: graphBaseUrl });
});
afterAll(async () => {
  await t?.close();
});

describe('npm run simulate', () => {
  it('plays a signed conversation against the local host and reports each step, the media download and the privacy request', async () => {
    const lines: string[] = [];
    const tenantId = uniqueTenantId('sim');
    const waId = newWaId();
    const report = await simulate({
      url: t.url,
      appSecret: 'test-app-secret',
      verifyToken: 'test-verify-token',
      accessToken: 'test-graph-token',
      graphBaseUrl,
      tenantId,
      phoneNumberId: newPhoneNumberId(),
      waId,
      waitSeconds: 10,
      log: (line) => lines.push(line),
    });
    const status = Object.fromEntries(report.steps.map((s) => [s.step, s.status]));
    expect(status).toMatchObject({
      verification: 200,
      tenant: 201,
      'text message': 200,
      'status updates': 200,
      image: 200,
      'flow completion': 200,
      'duplicate delivery': 200,
      'forged delivery': 401,
      'media download': 200,
      'erasure via flow': 200,
    });
    expect(report.steps.find((s) => s.step === 'duplicate delivery')?.detail).toMatch(/duplicates 1/);
    expect(report.steps.find((s) => s.step === 'status updates')?.detail).toMatch(/statuses 3/);
    // A username user (BSUID only) is stored; a number change links the numbers (identity event, nothing stored).
    expect(report.steps.find((s) => s.step === 'username user (BSUID)')).toMatchObject({ status: 200, detail: expect.stringMatching(/stored 1/) });
    expect(report.steps.find((s) => s.step === 'number change')).toMatchObject({ status: 200, detail: expect.stringMatching(/identity 1/) });
    expect((await subjectDocuments(t.services, tenantId, 'GB.1502576394655843')).map((d) => d.type)).toContain('contact');
    expect(report.media.fetched).toBe(true);
    expect(report.privacyRequest?.id).toBeDefined();
    const request = await getPrivacyRequest(rootOf(t.services).privacy, report.privacyRequest!.id);
    expect(request).toMatchObject({ tenantId, type: 'erasure', scope: 'all', channel: 'flow' });
    // The erasure the flow asked for ran through the privacy pipeline: nothing of the subject is left.
    expect(report.privacyRequest?.status).toBe('completed');
    expect(await subjectDocuments(t.services, tenantId, waId)).toEqual([]);
    const blobs: string[] = [];
    for await (const b of t.services.blobs.media.listBlobsFlat({ prefix: mediaPrefixFor(tenantId, await subjectHashOf(t.services, tenantId as never, waId)) })) blobs.push(b.name);
    expect(blobs).toEqual([]);
    expect(lines.length).toBe(report.steps.length);
    expect(lines.join('\n')).toMatch(/privacy request/);
  });
});
