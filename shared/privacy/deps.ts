import { hubspotClientOf, hubspotObjectRegistryOf } from '../hubspot/hubspotSync';
import { HubSpotConversations } from '../hubspot/conversations';
import type { HubSpotObjectRegistry } from '../hubspot/objectRegistry';
import type { Container } from '@azure/cosmos';
import type { AuditLog } from '../audit/auditLog';
import { dataKeyring } from '../crypto/subjectKeys';
import type { DataKeyring } from '../crypto/dataEncryption';
import type { Clock } from '../domain/clock';
import { HubSpotContacts } from '../hubspot/contacts';
import { HubSpotClient } from '../hubspot/hubspotClient';
import type { MarkerStore } from '../markers/markerStore';
import type { QueueSender } from '../queue/queuePort';
import { repositoriesOf } from '../runtime/repositories';
import type { Services } from '../runtime/services';
import type { SecretProvider } from '../secrets/secretProvider';
import type { BlobContainers } from '../storage/blobStore';
import { CosmosSubjectStore, type SubjectStore } from '../subjects/subjectStore';
import type { Telemetry } from '../telemetry/telemetry';
import type { TenantRepository } from '../tenants/tenantRepository';
import { StoreRegistry } from './registry';
import { PrivacyRequestRepository } from './requestRepository';
import { accessExportStore } from './stores/accessExportStore';
import { blobMediaStore } from './stores/blobMediaStore';
import { cosmosSubjectStore } from './stores/cosmosSubjectStore';
import { hubspotContactStore } from './stores/hubspotContactStore';

/** Exponential backoff with jitter, by rescheduling the queue message (never by sleeping in a handler). */
export interface RetryPolicy {
  /** First delay; each further attempt doubles it, up to `capMs`. */
  baseMs: number;
  capMs: number;
  /** Attempts (transient failures) before the task fails and its message goes to the dead-letter queue. */
  maxAttempts: number;
  /** 429 answers honoured with Retry-After before the task fails anyway. */
  maxRateLimited: number;
  /** The shortest wait after a 429, whatever Retry-After says (`0` would spend the 429 budget at once). */
  minRateLimitedMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 2000, capMs: 5 * 60_000, maxAttempts: 8, maxRateLimited: 50, minRateLimitedMs: 1000 };

/** Everything the privacy use cases need, as ports: the functions build it once per Services. */
export interface PrivacyDeps {
  requests: PrivacyRequestRepository;
  tenants: TenantRepository;
  audit: AuditLog;
  markers: MarkerStore;
  subjects: Container;
  subjectStore: SubjectStore;
  blobs: BlobContainers;
  queue: QueueSender;
  secrets: SecretProvider;
  clock: Clock;
  telemetry: Telemetry;
  registry: StoreRegistry;
  hubspot: HubSpotContacts;
  /** What Flowkeeper created or used in HubSpot per subject (account cancellation deletes the tenant's records). */
  hubspotObjects: HubSpotObjectRegistry;
  keyring: () => Promise<DataKeyring>;
  /** The subject's WhatsApp confirmation (optional per tenant), through the Graph API. */
  graph: { baseUrl: string; fetch: typeof fetch };
  retry: RetryPolicy;
  /** [0, 1): the jitter of the backoff (a parameter so tests can pin it). */
  random: () => number;
}

const built = new WeakMap<Services, PrivacyDeps>();

export function privacyDepsOf(services: Services): PrivacyDeps {
  let deps = built.get(services);
  if (!deps) {
    deps = buildPrivacyDeps(services);
    built.set(services, deps);
  }
  return deps;
}

/** The same wiring with parts replaced (tests, the benchmark): a new object, not cached. */
export function buildPrivacyDeps(services: Services, options: Partial<PrivacyDeps> & { hubspotClient?: HubSpotClient } = {}): PrivacyDeps {
  const { hubspotClient, ...overrides } = options;
  const { tenants, audit, markers } = repositoriesOf(services);
  const requests = overrides.requests ?? new PrivacyRequestRepository(services.cosmos.privacyRequests, services.clock);
  const keyring = overrides.keyring ?? (() => dataKeyring(services.secrets));
  const client =
    // One client per Services: erasure and conversation sync share one rate limit per HubSpot token.
    hubspotClient ?? hubspotClientOf(services);
  const hubspot = overrides.hubspot ?? new HubSpotContacts(client);
  const hubspotObjects = overrides.hubspotObjects ?? hubspotObjectRegistryOf(services);
  const registry =
    overrides.registry ??
    new StoreRegistry([
      cosmosSubjectStore({ subjects: services.cosmos.subjects, markers, clock: services.clock, keyring }),
      blobMediaStore({ media: services.blobs.media }),
      hubspotContactStore({ contacts: hubspot, conversations: new HubSpotConversations(client), registry: hubspotObjects }),
      accessExportStore({ exports: services.blobs.exports, requests }),
    ]);
  return {
    requests,
    tenants,
    audit,
    markers,
    subjects: services.cosmos.subjects,
    subjectStore: new CosmosSubjectStore(services.cosmos.subjects),
    blobs: services.blobs,
    queue: services.queue,
    secrets: services.secrets,
    clock: services.clock,
    telemetry: services.telemetry,
    registry,
    hubspot,
    hubspotObjects,
    keyring,
    graph: { baseUrl: services.settings.GRAPH_API_BASE_URL, fetch: services.fetch },
    retry: { ...DEFAULT_RETRY_POLICY },
    random: Math.random,
    ...overrides,
  };
}
