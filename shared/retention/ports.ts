import type { CosmosContainers } from '../cosmos/cosmosStore';
import type { MarkerStore } from '../markers/markerStore';
import type { BlobContainers } from '../storage/blobStore';
import { blobSweepTarget } from './blobSweep';
import { markerCheckpoints } from './checkpoints';
import { cosmosRequestDeadlines, type DeadlineWatchPorts } from './deadlineWatch';
import { cosmosExpiredDocuments } from './expiredDocuments';
import type { RetentionSweepPorts } from './retentionSweep';

type Common = Pick<RetentionSweepPorts, 'tenants' | 'audit' | 'telemetry' | 'clock'> & { markerStore: MarkerStore };

/** The sweep's adapters over the real containers (the function entry point passes what it built). */
export function retentionSweepPorts(deps: Common & { cosmos: CosmosContainers; blobs: BlobContainers }): RetentionSweepPorts {
  return {
    tenants: deps.tenants,
    media: blobSweepTarget(deps.blobs.media),
    exports: blobSweepTarget(deps.blobs.exports),
    markers: cosmosExpiredDocuments(deps.cosmos.markers, 'kind'),
    subjects: cosmosExpiredDocuments(deps.cosmos.subjects, 'type'),
    checkpoints: markerCheckpoints(deps.markerStore),
    audit: deps.audit,
    telemetry: deps.telemetry,
    clock: deps.clock,
  };
}

/** The deadline watch's adapters over the real containers. */
export function deadlineWatchPorts(deps: Omit<Common, 'tenants'> & { tenants: DeadlineWatchPorts['tenants']; cosmos: CosmosContainers }): DeadlineWatchPorts {
  return {
    requests: cosmosRequestDeadlines(deps.cosmos.privacyRequests),
    tenants: deps.tenants,
    markers: deps.markerStore,
    audit: deps.audit,
    telemetry: deps.telemetry,
    clock: deps.clock,
  };
}
