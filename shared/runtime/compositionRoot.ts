import type { Settings } from '../config/settings';
import { CosmosAuditLog } from '../cosmos/auditLog';
import { CosmosHubSpotObjectRegistry } from '../cosmos/hubspotObjectRecords';
import { cosmosExpiredDocuments } from '../cosmos/expiredDocuments';
import { CosmosMarkerStore } from '../cosmos/markerStore';
import { CosmosIdentityLinkStore } from '../cosmos/identityLinkStore';
import { cosmosLegacyDocuments } from '../cosmos/legacyDocuments';
import type { MigrationDeps } from '../identity/migration';
import { requireSecret } from '../secrets/secretProvider';
import { CosmosMessageStore } from '../cosmos/messageStore';
import { cosmosMetricsSource } from '../cosmos/metricsSource';
import { CosmosPrivacyRequestRepository } from '../cosmos/privacyRequestRepository';
import { cosmosRequestDeadlines } from '../cosmos/requestDeadlines';
import { cosmosRequestList } from '../cosmos/requestList';
import { CosmosSubjectRepository } from '../cosmos/subjectRepository';
import { CosmosTenantRepository } from '../cosmos/tenantRepository';
import type { AuditLog } from '../audit/auditLog';
import { dataKeyring } from '../crypto/subjectKeys';
import { timerSleep, type Clock } from '../domain/clock';
import { CachedFlowKeys, type FlowsEndpointDeps } from '../flows';
import { privacyCentrePortOf } from '../flows/privacyAdapter';
import { graphErasureConfirmations } from '../graph/erasureConfirmations';
import type { checkHealth } from '../health/checkHealth';
import { ContactDirectory } from '../hubspot/contactDirectory';
import { hubspotContactDataStore, hubspotCrmContacts } from '../hubspot/contactDataStore';
import { HubSpotContacts } from '../hubspot/contacts';
import { HubSpotConversations } from '../hubspot/conversations';
import { HubSpotClient } from '../hubspot/hubspotClient';
import type { HubSpotObjectRegistry } from '../hubspot/objectRegistry';
import { DEFAULT_SYNC_RETRY, syncMessageToHubSpot, type HubSpotSyncDeps, type HubSpotSyncOutcome } from '../hubspot/hubspotSync';
import type { MarkerStore } from '../markers/markerStore';
import type { StoredMessageDeps } from '../messages/storedMessages';
import type { MetricsSource } from '../metrics/metricsSource';
import type { RequestListSource } from '../metrics/requestList';
import {
  createPrivacyRequest,
  DEFAULT_RETRY_POLICY,
  RecentTenants,
  StoreRegistry,
  subjectPartitionDataStore,
  type PrivacyDeps,
} from '../privacy';
import type { Queue } from '../queue/queuePort';
import { markerCheckpoints } from '../retention/checkpoints';
import type { DeadlineWatchPorts } from '../retention/deadlineWatch';
import type { RetentionSweepPorts } from '../retention/retentionSweep';
import type { SecretProvider } from '../secrets/secretProvider';
import { blobSweepTarget } from '../storage/blobSweepTarget';
import { accessExportDataStore, blobExportStore, blobTenantFiles } from '../storage/exportDataStore';
import { mediaBlobsOf, revokedMediaOf } from '../storage/mediaBlobs';
import { blobMediaDataStore } from '../storage/mediaDataStore';
import type { Telemetry } from '../telemetry/telemetry';
import type { TenantRepository } from '../tenants/tenantRepository';
import type { MediaDownloadDeps, RequestPrivacy, WebhookDeps } from '../whatsapp';
import type { DrillPorts } from '../drills/erasureDrill';
import type { TombstonePorts } from '../operations/tombstones';
import { cosmosTombstoneList } from '../cosmos/tombstoneList';
import { drillMediaOf } from '../storage/drillMedia';
import { drillStores } from './drillStores';
import { services, type Services } from './services';

/**
 * The composition root: every adapter and every use case's ports, built once per process from the
 * Services (the clients the settings name). Function entry points ask it for what they need and build
 * nothing themselves; tests and benchmarks build one with parts replaced (`buildPrivacyDeps`,
 * `buildHubSpotSyncDeps`). Nothing below shared/runtime imports this module (.dependency-cruiser.cjs).
 */
export interface CompositionRoot {
  settings: Settings;
  clock: Clock;
  telemetry: Telemetry;
  secrets: SecretProvider;
  queue: Queue;
  tenants: TenantRepository;
  audit: AuditLog;
  markers: MarkerStore;
  /** One HubSpot client per process: its pacers hold the per-token limits every caller of a token shares. */
  hubspot: HubSpotClient;
  /** What Flowkeeper created or used in HubSpot per subject: written by the sync, read by the erasure. */
  hubspotObjects: HubSpotObjectRegistry;
  privacy: PrivacyDeps;
  webhook: WebhookDeps;
  mediaDownload: MediaDownloadDeps;
  /** The `hubspot-sync` worker, bound to its ports (the HubSpot adapter drives the API itself). */
  syncToHubSpot(message: unknown): Promise<HubSpotSyncOutcome>;
  flows: FlowsEndpointDeps;
  subjectMessages: StoredMessageDeps & { tenants: TenantRepository; audit: AuditLog };
  /** The identity migration (legacy phone-number partition keys to identifier hashes). */
  identityMigration: MigrationDeps;
  metrics: MetricsSource;
  requestList: RequestListSource;
  retentionSweep: RetentionSweepPorts;
  deadlineWatch: DeadlineWatchPorts;
  health: Parameters<typeof checkHealth>[0];
  /** The erasure drill (shared/drills): the privacy ports, the stores through their adapters, its limits. */
  drills: DrillPorts;
  /** Tombstones out (export) and back in (reapply) around a restore from backup (shared/operations/tombstones.ts). */
  tombstones: TombstonePorts;
}

/** The root of each Services with the stateful adapters it shares: the one per-process cache of wiring. */
const roots = new WeakMap<Services, { root: CompositionRoot; shared: SharedParts }>();

/** The root of these Services, built on first use. */
export function rootOf(s: Services): CompositionRoot {
  return built(s).root;
}

function built(s: Services): { root: CompositionRoot; shared: SharedParts } {
  let entry = roots.get(s);
  if (!entry) {
    const shared = sharedParts(s);
    entry = { root: buildRoot(s, shared), shared };
    roots.set(s, entry);
  }
  return entry;
}

/** The process's root: what a function entry point calls. */
export async function compositionRoot(): Promise<CompositionRoot> {
  return rootOf(await services());
}

function sharedParts(s: Services): SharedParts {
  const tenants = new CosmosTenantRepository(s.cosmos.tenants, s.clock);
  return {
    tenants,
    audit: new CosmosAuditLog(s.cosmos.audit, s.clock),
    markers: new CosmosMarkerStore(s.cosmos.markers, s.clock),
    subjects: new CosmosSubjectRepository(s.cosmos.subjects),
    messages: new CosmosMessageStore(s.cosmos.subjects),
    recentTenants: new RecentTenants(tenants),
    hubspot: new HubSpotClient({
      baseUrl: s.settings.HUBSPOT_API_BASE_URL,
      requestsPerInterval: s.settings.HUBSPOT_REQUESTS_PER_TEN_SECONDS,
      secrets: s.secrets,
      fetch: s.fetch,
      clock: s.clock,
    }),
    // One per process: the sync's writes and the erasure's deletes share its cache.
    hubspotObjects: new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock),
    links: new CosmosIdentityLinkStore(s.cosmos.markers, () => s.clock.now()),
  };
}

function buildRoot(s: Services, shared: SharedParts): CompositionRoot {
  const { tenants, audit, markers, subjects, messages, hubspot, hubspotObjects, links } = shared;
  const privacy = privacyDeps(s, shared);
  const requestPrivacy: RequestPrivacy = async (input) => {
    // A flow's data request goes through the same use case as the admin API (an open identical one is reused).
    const result = await createPrivacyRequest(privacy, input);
    if (result.kind === 'unknown-tenant') throw new Error('tenant not found while creating a privacy request');
    return { id: result.request.id };
  };
  const hubspotSync = hubspotSyncDeps(s, shared);
  const common = { clock: s.clock, telemetry: s.telemetry };
  return {
    settings: s.settings,
    ...common,
    secrets: s.secrets,
    queue: s.queue,
    tenants,
    audit,
    markers,
    hubspot,
    hubspotObjects,
    privacy,
    webhook: { ...common, secrets: s.secrets, tenants, markers, media: revokedMediaOf(s.blobs.media), audit, subjects, links, legacy: cosmosLegacyDocuments(s.cosmos.subjects), queue: s.queue, sleep: timerSleep, requestPrivacy },
    mediaDownload: { ...common, subjects, markers, blobs: mediaBlobsOf(s.blobs.media), queue: s.queue, secrets: s.secrets, fetch: s.fetch, graphBaseUrl: s.settings.GRAPH_API_BASE_URL },
    syncToHubSpot: (message) => syncMessageToHubSpot(hubspotSync, message),
    flows: {
      ...common,
      secrets: s.secrets,
      // Parsing an encrypted PEM costs milliseconds: the parsed keys are cached for SECRET_CACHE_SECONDS.
      keys: new CachedFlowKeys(s.secrets, s.clock, s.settings.SECRET_CACHE_SECONDS * 1000),
      privacy: privacyCentrePortOf(privacy),
    },
    subjectMessages: { tenants, audit, secrets: s.secrets, messages },
    identityMigration: { legacy: cosmosLegacyDocuments(s.cosmos.subjects), subjectHashKey: () => requireSecret(s.secrets, 'SUBJECT_HASH_KEY'), audit, clock: s.clock },
    metrics: cosmosMetricsSource(s.cosmos),
    requestList: cosmosRequestList(s.cosmos.privacyRequests),
    retentionSweep: {
      ...common,
      tenants,
      audit,
      media: blobSweepTarget(s.blobs.media),
      exports: blobSweepTarget(s.blobs.exports),
      markers: cosmosExpiredDocuments(s.cosmos.markers, 'kind'),
      subjects: cosmosExpiredDocuments(s.cosmos.subjects, 'type'),
      checkpoints: markerCheckpoints(markers),
    },
    deadlineWatch: { ...common, requests: cosmosRequestDeadlines(s.cosmos.privacyRequests), tenants, markers, audit },
    drills: {
      ...common,
      privacy,
      audit,
      stores: drillStores({ subjects, markers, media: drillMediaOf(s.blobs.media), contacts: new HubSpotContacts(hubspot), secrets: s.secrets, clock: s.clock }),
      sleep: timerSleep,
      targetMs: s.settings.ERASURE_DRILL_TARGET_SECONDS * 1000,
      timeoutMs: s.settings.ERASURE_DRILL_TIMEOUT_SECONDS * 1000,
    },
    tombstones: { privacy, markers, tombstones: cosmosTombstoneList(s.cosmos.markers) },
    health: {
      probes: { cosmos: () => s.cosmos.tenants.read(), blob: () => s.blobs.media.getProperties() },
      queue: s.queue,
      secrets: s.secrets,
    },
  };
}

/** The stateful adapters every use case of a process shares (caches, pacers). */
interface SharedParts {
  links: CosmosIdentityLinkStore;
  tenants: CosmosTenantRepository;
  audit: CosmosAuditLog;
  markers: CosmosMarkerStore;
  subjects: CosmosSubjectRepository;
  messages: CosmosMessageStore;
  recentTenants: RecentTenants;
  hubspot: HubSpotClient;
  hubspotObjects: HubSpotObjectRegistry;
}

export type PrivacyOverrides = Partial<PrivacyDeps> & {
  /** Another HubSpot client (its own base URL or pacing) under the contacts port and the registry. */
  hubspotClient?: HubSpotClient;
  /** Another Graph API for the erasure confirmation. */
  graph?: { baseUrl: string; fetch: typeof fetch };
  /** The HubSpot contacts adapter the registry and the CRM port use. */
  hubspotContacts?: HubSpotContacts;
};

function privacyDeps(s: Services, shared: SharedParts, overrides: PrivacyOverrides = {}): PrivacyDeps {
  const { hubspotClient, graph, hubspotContacts, ...rest } = overrides;
  const clock = rest.clock ?? s.clock;
  // A repository of its own: it remembers the versions it wrote, as one instance of the app does.
  const requests = rest.requests ?? new CosmosPrivacyRequestRepository(s.cosmos.privacyRequests, clock);
  const keyring = rest.keyring ?? ((needs?: string) => dataKeyring(s.secrets, needs));
  const client = hubspotClient ?? shared.hubspot;
  const contacts = hubspotContacts ?? new HubSpotContacts(client);
  const markers = rest.markers ?? shared.markers;
  const subjects = rest.subjects ?? shared.subjects;
  const links = rest.links ?? shared.links;
  const registry =
    rest.registry ??
    new StoreRegistry([
      subjectPartitionDataStore({ subjects, markers, links, clock, keyring }),
      blobMediaDataStore({ media: s.blobs.media }),
      hubspotContactDataStore({ contacts, conversations: new HubSpotConversations(client), registry: shared.hubspotObjects }),
      accessExportDataStore({ exports: s.blobs.exports, requests }),
    ]);
  return {
    requests,
    tenants: shared.tenants,
    recentTenants: shared.recentTenants,
    audit: shared.audit,
    markers,
    subjects,
    links,
    exports: blobExportStore(s.blobs.exports),
    tenantFiles: blobTenantFiles(s.blobs),
    queue: s.queue,
    secrets: s.secrets,
    clock,
    telemetry: s.telemetry,
    registry,
    crm: hubspotCrmContacts(contacts),
    crmRecords: shared.hubspotObjects,
    confirmations: graphErasureConfirmations({ ...(graph ?? { baseUrl: s.settings.GRAPH_API_BASE_URL, fetch: s.fetch }), secrets: s.secrets }),
    keyring,
    retry: { ...DEFAULT_RETRY_POLICY },
    random: Math.random,
    ...rest,
  };
}

function hubspotSyncDeps(s: Services, shared: SharedParts, overrides: Partial<HubSpotSyncDeps> & { client?: HubSpotClient } = {}): HubSpotSyncDeps {
  const { client: clientOverride, ...rest } = overrides;
  const client = clientOverride ?? shared.hubspot;
  const contacts = rest.contacts ?? new HubSpotContacts(client);
  const registry = rest.registry ?? shared.hubspotObjects;
  return {
    tenants: shared.tenants,
    messages: shared.messages,
    subjects: shared.subjects,
    markers: shared.markers,
    // The contact cache: one per sync worker (per process), so a conversation costs one search.
    directory: new ContactDirectory(contacts, { registry }),
    contacts,
    registry,
    conversations: new HubSpotConversations(client),
    queue: s.queue,
    secrets: s.secrets,
    clock: s.clock,
    telemetry: s.telemetry,
    retry: { ...DEFAULT_SYNC_RETRY },
    random: Math.random,
    ...rest,
  };
}

/**
 * The privacy ports of these Services with parts replaced (tests, bench/erasure.ts): a new object with
 * a request repository of its own (a second "instance"), sharing the root's tenants, audit, markers,
 * subject store and HubSpot client.
 */
export function buildPrivacyDeps(s: Services, overrides: PrivacyOverrides = {}): PrivacyDeps {
  return privacyDeps(s, built(s).shared, overrides);
}

/** The HubSpot sync worker's ports with parts replaced (tests): a new object with its own contact cache. */
export function buildHubSpotSyncDeps(s: Services, overrides: Partial<HubSpotSyncDeps> & { client?: HubSpotClient } = {}): HubSpotSyncDeps {
  return hubspotSyncDeps(s, built(s).shared, overrides);
}
