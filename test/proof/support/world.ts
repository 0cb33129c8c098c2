import { inject } from 'vitest';
import type { Clock, TenantId } from '../../../shared/domain';
import { InProcessQueue, type MessageHandler, type QueueName } from '../../../shared/queue';
import { useServices } from '../../../shared/runtime';
import { endpointOf, startFaultProxy, viaProxy, type FaultProxy } from '../../fakes/faultProxy';
import { startGraphApiFake, type GraphApiFake } from '../../fakes/graphApi';
import { startHubSpotFake, type HubSpotFake, type HubSpotFakeOptions } from '../../fakes/hubspot';
import { startTestHost, type TestHost } from '../../support/testHost';
import { createPrivacyTenant } from '../../privacy/support';

export const GRAPH_TOKEN = 'test-graph-token';
export const APP_SECRET = 'test-app-secret';

/**
 * The local host on the emulators, optionally with Cosmos and/or Blob behind a fault proxy, and the
 * HubSpot and Graph API fakes on loopback. Secrets are not cached (SECRET_CACHE_SECONDS=0) so a tenant's
 * HubSpot token can be set after start-up.
 */
export interface ProofWorld {
  t: TestHost;
  hubspot: HubSpotFake;
  graph: GraphApiFake;
  cosmosProxy?: FaultProxy;
  blobProxy?: FaultProxy;
  close(): Promise<void>;
}

export interface ProofWorldOptions {
  cosmosProxy?: boolean;
  blobProxy?: boolean;
  queue?: InProcessQueue;
  clock?: Clock;
  hubspot?: HubSpotFakeOptions;
  env?: Record<string, string | undefined>;
}

export async function startProofWorld(options: ProofWorldOptions = {}): Promise<ProofWorld> {
  const hubspot = await startHubSpotFake(options.hubspot);
  const graph = await startGraphApiFake({ token: GRAPH_TOKEN });
  const cosmosConnection = inject('cosmosConnection');
  const blobConnection = inject('blobConnection');
  const cosmosProxy = options.cosmosProxy ? await startFaultProxy({ target: endpointOf(cosmosConnection), flavor: 'cosmos' }) : undefined;
  const blobProxy = options.blobProxy ? await startFaultProxy({ target: endpointOf(blobConnection), flavor: 'blob' }) : undefined;
  const t = await startTestHost(
    {
      HUBSPOT_API_BASE_URL: hubspot.url,
      GRAPH_API_BASE_URL: graph.baseUrl,
      WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
      SECRET_CACHE_SECONDS: '0',
      ...(cosmosProxy ? { COSMOS_CONNECTION: viaProxy(cosmosConnection, cosmosProxy) } : {}),
      ...(blobProxy ? { MEDIA_STORAGE: viaProxy(blobConnection, blobProxy) } : {}),
      ...options.env,
    },
    { ...(options.queue ? { queue: options.queue } : {}), ...(options.clock ? { clock: options.clock } : {}) },
  );
  return {
    t,
    hubspot,
    graph,
    ...(cosmosProxy ? { cosmosProxy } : {}),
    ...(blobProxy ? { blobProxy } : {}),
    close: async () => {
      cosmosProxy?.clear();
      blobProxy?.clear();
      useServices(t.services);
      await t.close();
      await Promise.all([hubspot.close(), graph.close(), cosmosProxy?.close(), blobProxy?.close()]);
    },
  };
}

export interface ProofTenant {
  tenantId: TenantId;
  phoneNumberId: string;
  hubspotToken: string;
}

/** A tenant configured through the admin API (as an operator would); its HubSpot token set where the app reads it. HubSpot is off unless asked for. */
export async function createProofTenant(
  world: { t: TestHost },
  config: { hubspot?: boolean; messageStorage?: 'none' | 'encrypted' | 'hubspot'; prefix?: string } = {},
): Promise<ProofTenant> {
  const { tenantId, phoneNumberId, token } = await createPrivacyTenant(world, { hubspot: config.hubspot ?? false, prefix: config.prefix ?? 'pf', ...(config.messageStorage ? { messageStorage: config.messageStorage } : {}) });
  return { tenantId, phoneNumberId, hubspotToken: token };
}

/**
 * An in-process queue whose consumers are held: subscriptions receive nothing (a worker fleet that is
 * down), so what a request wrote is all there is to count. Messages stay in the queue, counted.
 */
export class HoldableQueue extends InProcessQueue {
  held = true;

  override subscribe(queue: QueueName, handler: MessageHandler, options?: { maxConcurrent?: number }): () => Promise<void> {
    if (!this.held) return super.subscribe(queue, handler, options);
    return async () => undefined;
  }
}
