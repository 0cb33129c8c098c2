import { afterAll, describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../shared/queue';
import { hubspotTokenSecret } from '../../shared/secrets';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually } from '../support/testServices';
import { buildSubjectThroughWebhooks, createPrivacyTenant, getRequest, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from './support';

// Its own file: a second host in this process takes over the process-wide services.
let first: PrivacyWorld | undefined;
let second: TestHost | undefined;
afterAll(async () => {
  await second?.close();
  await first?.hubspot.close();
  await first?.graph.close();
  await first?.t.services.close();
});

describe('a worker that dies mid-task', () => {
  it('killing the worker mid-task and starting a new one completes the request; the dead worker waking up later changes nothing', async () => {
    // Short message locks: a dead worker's message is handed to another worker after 1.5 s (Service Bus: the lock duration).
    const queue = new InProcessQueue({ lockDurationMs: 1500 });
    first = await startPrivacyWorld({ queue });
    const { t, hubspot } = first;
    const tenant = await createPrivacyTenant(first, { hubspot: true });
    const subject = newSubject();
    const { hubspotContactId } = await buildSubjectThroughWebhooks(first, tenant, subject);

    hubspot.hangNext(1, /search$/); // the HubSpot task is in the middle of its search when the worker dies
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    const { id } = (await response.json()) as { id: string };
    await eventually(async () => {
      const view = await getRequest(t, id);
      const hub = view.tasks.find((x) => x.store === 'hubspot');
      return hub?.status === 'running' && view.tasks.filter((x) => x.store !== 'hubspot').every((x) => x.status === 'done') ? view : undefined;
    }, 15_000, 'the HubSpot task to be running');

    // The worker dies: no more deliveries to it, its in-flight invocation never settles its message.
    void t.host.close();
    await new Promise((resolve) => setTimeout(resolve, 50));

    // A new worker starts on the same database and the same queue (a new instance of the function app).
    second = await startTestHost(
      {
        HUBSPOT_API_BASE_URL: hubspot.url,
        GRAPH_API_BASE_URL: first.graph.baseUrl,
        SECRET_CACHE_SECONDS: '0',
        COSMOS_DATABASE: t.services.env.COSMOS_DATABASE,
        DATA_ENCRYPTION_KEY: t.services.env.DATA_ENCRYPTION_KEY,
        [hubspotTokenSecret(tenant.tenantId)]: tenant.token,
      },
      { queue },
    );
    const done = await waitForStatus(second, id, ['completed', 'failed'], 20_000);
    expect(done.status).toBe('completed');
    expect(done.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', attempts: 2, counts: { found: 1, deleted: 1 } });
    expect(hubspot.gdprDeleted).toContain(hubspotContactId);

    // The dead worker's hung call finally fails: its late failure must not reopen or fail the request.
    hubspot.releaseHanging();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await getRequest(second, id);
    expect(after.status).toBe('completed');
    expect(after.tasks).toEqual(done.tasks);
    expect(await queue.countDeadLetters('erasure-tasks')).toBe(0);
  }, 60_000);
});
