import type { Repositories } from '../runtime/repositories';
import type { Services } from '../runtime/services';
import { CosmosSubjectStore } from '../subjects/subjectStore';
import { mediaBlobsOf, type MediaDownloadDeps } from './mediaDownload';
import type { RequestPrivacy, WebhookDeps } from './ports';

/** The webhook's ports on the app's real adapters (the function entry point passes services and repositories). */
export function webhookDepsOf(services: Services, repositories: Pick<Repositories, 'tenants' | 'markers' | 'audit'>, requestPrivacy: RequestPrivacy): WebhookDeps {
  return {
    secrets: services.secrets,
    tenants: repositories.tenants,
    markers: repositories.markers,
    audit: repositories.audit,
    subjects: new CosmosSubjectStore(services.cosmos.subjects),
    queue: services.queue,
    clock: services.clock,
    telemetry: services.telemetry,
    requestPrivacy,
  };
}

/** The media download worker's ports on the app's real adapters. */
export function mediaDownloadDepsOf(services: Services): MediaDownloadDeps {
  return {
    subjects: new CosmosSubjectStore(services.cosmos.subjects),
    blobs: mediaBlobsOf(services.blobs.media),
    queue: services.queue,
    secrets: services.secrets,
    clock: services.clock,
    telemetry: services.telemetry,
    fetch: services.fetch,
    graphBaseUrl: services.settings.GRAPH_API_BASE_URL,
  };
}
