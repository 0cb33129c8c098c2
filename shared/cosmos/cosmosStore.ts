import { CosmosClient, type Container, type Database } from '@azure/cosmos';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

/**
 * The Cosmos containers, one place: name and partition key. Every container has `defaultTtl: -1`, so
 * TTL is on and each document decides its own lifetime with its `ttl` (infra/modules/cosmos.bicep matches).
 */
export const CONTAINERS = {
  /** A subject's personal data, one logical partition per subject: `/pk` = `<tenantId>|<waId>`. */
  subjects: { id: 'subjects', partitionKey: '/pk' },
  /** Privacy requests with their per-store tasks; the subject only as keyed hash (+ encrypted wa_id while running). */
  privacyRequests: { id: 'privacyRequests', partitionKey: '/id' },
  /** Append-only audit events, no personal data. */
  audit: { id: 'audit', partitionKey: '/tenantId' },
  /** Tenant configuration. */
  tenants: { id: 'tenants', partitionKey: '/id' },
  /** Keyed-hash markers: suppression list, erasure tombstones, idempotency keys, checkpoints. */
  markers: { id: 'markers', partitionKey: '/pk' },
} as const;

export type ContainerName = keyof typeof CONTAINERS;
export type CosmosContainers = Record<ContainerName, Container>;

export type CosmosConnection = { connectionString: string } | { endpoint: string; credential?: TokenCredential };

export function cosmosClientFor(connection: CosmosConnection): CosmosClient {
  if ('connectionString' in connection) {
    const parts = Object.fromEntries(
      connection.connectionString
        .split(';')
        .filter((p) => p.includes('='))
        .map((p) => {
          const at = p.indexOf('=');
          return [p.slice(0, at).trim().toLowerCase(), p.slice(at + 1).trim()];
        }),
    );
    const endpoint = parts['accountendpoint'];
    const key = parts['accountkey'];
    if (!endpoint || !key) throw new Error('COSMOS_CONNECTION must have AccountEndpoint and AccountKey');
    // Endpoint discovery would follow the account's regional endpoints, which an emulator does not have.
    return new CosmosClient({ endpoint, key, connectionPolicy: { enableEndpointDiscovery: !isLoopback(endpoint) } });
  }
  return new CosmosClient({ endpoint: connection.endpoint, aadCredentials: connection.credential ?? lazyDefaultCredential() });
}

/**
 * DefaultAzureCredential, with @azure/identity loaded at the first token request instead of at start-up
 * (bench/coldstart.ts): processes that connect with connection strings (locally, in tests) never load it.
 */
export function lazyDefaultCredential(): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    getToken: async (scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> => {
      credential ??= import('@azure/identity').then((identity) => new identity.DefaultAzureCredential());
      return (await credential).getToken(scopes, options);
    },
  };
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/** Creates the database and containers when missing (locally and in tests; in Azure the Bicep does it). */
export async function ensureCosmos(client: CosmosClient, databaseId: string): Promise<{ database: Database; containers: CosmosContainers }> {
  const { database } = await client.databases.createIfNotExists({ id: databaseId });
  const entries = await Promise.all(
    Object.entries(CONTAINERS).map(async ([name, def]) => {
      const { container } = await database.containers.createIfNotExists({
        id: def.id,
        partitionKey: { paths: [def.partitionKey] },
        defaultTtl: -1,
      });
      return [name, container] as const;
    }),
  );
  return { database, containers: Object.fromEntries(entries) as CosmosContainers };
}

/** The containers without creating anything (in Azure the app's identity has data-plane rights only). */
export function cosmosContainers(client: CosmosClient, databaseId: string): CosmosContainers {
  const database = client.database(databaseId);
  return Object.fromEntries(Object.entries(CONTAINERS).map(([name, def]) => [name, database.container(def.id)])) as CosmosContainers;
}

/** Cosmos reports "not found" as an error with code 404; callers usually want `undefined`. */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === 404 || (error as { statusCode?: unknown }).statusCode === 404;
}

export function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === 409;
}

export function isPreconditionFailed(error: unknown): boolean {
  return (error as { code?: unknown }).code === 412;
}
