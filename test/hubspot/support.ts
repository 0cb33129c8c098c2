import { randomBytes } from 'node:crypto';
import type { TenantId } from '../../shared/domain';
import { HubSpotError } from '../../shared/hubspot';
import type { Tenant } from '../../shared/tenants';
import { hubspotTokenSecret } from '../../shared/secrets';
import { startGraphApiFake, type GraphApiFake } from '../fakes/graphApi';
import { startHubSpotFake, type FakeConversationMessage, type HubSpotFake, type HubSpotFakeOptions } from '../fakes/hubspot';
import { newPhoneNumberId } from '../fixtures/whatsapp/payloads';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { RecordingInProcessQueue } from '../whatsapp/support';

export const GRAPH_TOKEN = 'test-graph-token';

export interface HubSpotWorld {
  t: TestHost;
  hubspot: HubSpotFake;
  graph: GraphApiFake;
  queue: RecordingInProcessQueue;
  close(): Promise<void>;
}

/**
 * The local host on the emulators with the HubSpot and Graph API fakes on loopback, every function
 * registered (the `hubspot-sync` consumer among them). Secrets are not cached, so a test can give a
 * tenant its HubSpot token, or rotate the data key, after start-up.
 */
export async function startHubSpotWorld(options: { hubspot?: HubSpotFakeOptions; env?: Record<string, string> } = {}): Promise<HubSpotWorld> {
  const hubspot = await startHubSpotFake(options.hubspot);
  const graph = await startGraphApiFake({ token: GRAPH_TOKEN });
  const queue = new RecordingInProcessQueue();
  const t = await startTestHost(
    { HUBSPOT_API_BASE_URL: hubspot.url, GRAPH_API_BASE_URL: graph.baseUrl, WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN, SECRET_CACHE_SECONDS: '0', ...options.env },
    { queue },
  );
  return {
    t,
    hubspot,
    graph,
    queue,
    close: async () => {
      await t.close();
      await Promise.all([hubspot.close(), graph.close()]);
    },
  };
}

export interface HubSpotTenant {
  tenantId: TenantId;
  phoneNumberId: string;
  token: string;
  channelId: string;
  channelAccountId: string;
}

export type TenantConfig = { messageStorage: 'none' | 'encrypted' | 'hubspot'; hubspot?: boolean; channel?: boolean; retention?: Record<string, number> };

/** Each tenant of a file its own channel in the shared fake (random ids could collide and mix two tenants' messages). */
const firstChannelId = 1000 + Math.floor(Math.random() * 8000);
let channelsIssued = 0;

/**
 * A tenant configured through the admin API, with a HubSpot private-app token and a custom channel
 * (registered in the fake with its channel account) unless `channel: false`.
 */
export async function createHubSpotTenant(world: HubSpotWorld, config: TenantConfig): Promise<HubSpotTenant> {
  const tenantId = uniqueTenantId('hs') as TenantId;
  const tenant: HubSpotTenant = {
    tenantId,
    phoneNumberId: newPhoneNumberId(),
    token: `pat-eu1-${randomBytes(8).toString('hex')}`,
    channelId: String(firstChannelId + channelsIssued++),
    channelAccountId: String(Math.floor(Math.random() * 1e9)),
  };
  world.t.services.env[hubspotTokenSecret(tenantId)] = tenant.token;
  world.hubspot.addCustomChannel(tenant.channelId, tenant.channelAccountId);
  const response = await putTenant(world, tenant, config);
  if (response.status !== 201) throw new Error(`tenant setup failed: ${response.status} ${await response.text()}`);
  return tenant;
}

/** PUT /api/tenants/{id} with the tenant's phone number id and channel: how an operator switches modes. */
export async function putTenant(world: HubSpotWorld, tenant: HubSpotTenant, config: TenantConfig, objectId?: string): Promise<Response> {
  return fetch(`${world.t.url}/api/tenants/${tenant.tenantId}`, {
    method: 'PUT',
    headers: adminHeaders(objectId),
    body: JSON.stringify({
      name: 'Acme Lettings',
      phoneNumberIds: [tenant.phoneNumberId],
      messageStorage: config.messageStorage,
      hubspot: {
        enabled: config.hubspot ?? config.messageStorage === 'hubspot',
        ...(config.channel === false ? {} : { customChannelId: tenant.channelId, channelAccountId: tenant.channelAccountId }),
      },
      ...(config.retention ? { retention: config.retention } : {}),
    }),
  });
}

export async function getTenant(world: HubSpotWorld, tenantId: TenantId): Promise<Tenant> {
  const response = await fetch(`${world.t.url}/api/tenants/${tenantId}`, { headers: adminHeaders() });
  return (await response.json()) as Tenant;
}

/** The messages the fake holds on a tenant's channel. */
export function channelMessages(world: HubSpotWorld, tenant: HubSpotTenant): FakeConversationMessage[] {
  return [...world.hubspot.conversationMessages.values()].filter((m) => m.channelId === tenant.channelId);
}

/** Waits until the tenant's channel holds `count` messages and no sync work is left in the queue. */
export async function waitForChannel(world: HubSpotWorld, tenant: HubSpotTenant, count: number, timeoutMs = 15_000): Promise<FakeConversationMessage[]> {
  return eventually(
    () => {
      const found = channelMessages(world, tenant);
      return found.length >= count && world.queue.pending('hubspot-sync') === 0 ? found : undefined;
    },
    timeoutMs,
    `${count} message(s) on channel ${tenant.channelId}`,
  );
}

/** Waits until no hubspot-sync message is waiting or in flight (scheduled retries included). */
export async function syncIdle(world: HubSpotWorld, timeoutMs = 15_000): Promise<void> {
  await eventually(() => world.queue.pending('hubspot-sync') === 0 || undefined, timeoutMs, 'the hubspot-sync queue to drain');
}

/** The HubSpotError a call ends with (the test fails if it succeeds or fails otherwise). */
export async function hubspotFailureOf(promise: Promise<unknown>): Promise<HubSpotError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HubSpotError) return error;
    throw error;
  }
  throw new Error('expected a HubSpotError');
}
