import type { Database } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import { normaliseWaId } from '../../shared/domain';
import { phoneVariants } from '../../shared/hubspot';
import { QUEUE_NAMES, type InProcessQueue } from '../../shared/queue';
import type { HubSpotFake } from '../fakes/hubspot';
import { type RecordingTelemetry } from '../doubles';

/**
 * Searches everywhere Flowkeeper could have left personal data for the given needles (phone numbers in
 * every written form, names, flow answers, message texts) and returns every hit with its location:
 * every document of every Cosmos container of the database, every blob (current, snapshots and
 * versions: names, metadata and content), every message of every queue and dead-letter queue, the
 * HubSpot fake's contacts, captured log lines and telemetry.
 *
 * A sweep that finds nothing proves something only if it would have found a planted needle:
 * test/privacy/piiSweep.test.ts plants one in each place.
 */
export interface PiiHit {
  location: string;
  needle: string;
}

export interface SweepTargets {
  cosmos?: Database;
  blobs?: ContainerClient[];
  queue?: InProcessQueue;
  hubspot?: HubSpotFake;
  logs?: readonly string[];
  telemetry?: RecordingTelemetry;
}

/** Every form of a phone number worth searching for: what HubSpot may hold, plus the bare national digits. */
export function phoneNeedles(phone: string): string[] {
  const waId = normaliseWaId(phone);
  if (!waId) throw new Error('not a phone number');
  return [...new Set([...phoneVariants(waId), waId])];
}

export async function sweepForPii(needles: readonly string[], targets: SweepTargets): Promise<PiiHit[]> {
  const wanted = needles.filter((n) => n.trim().length >= 3).map((n) => n.toLowerCase());
  const hits: PiiHit[] = [];
  const check = (location: string, text: string) => {
    const haystack = text.toLowerCase();
    for (const needle of wanted) if (haystack.includes(needle)) hits.push({ location, needle });
  };

  if (targets.cosmos) {
    const { resources: containers } = await targets.cosmos.containers.readAll().fetchAll();
    for (const def of containers) {
      const { resources } = await targets.cosmos.container(def.id).items.query<Record<string, unknown>>('SELECT * FROM c').fetchAll();
      for (const doc of resources) check(`cosmos:${def.id}/${String(doc.id)}`, JSON.stringify(doc));
    }
  }

  for (const container of targets.blobs ?? []) {
    for await (const item of listAll(container)) {
      const label = `blob:${container.containerName}/${item.name}${item.snapshot ? `@snapshot=${item.snapshot}` : ''}${item.versionId ? `@version=${item.versionId}` : ''}`;
      check(`${label} (name)`, item.name);
      if (item.metadata) check(`${label} (metadata)`, JSON.stringify(item.metadata));
      let client = container.getBlobClient(item.name);
      if (item.snapshot) client = client.withSnapshot(item.snapshot);
      else if (item.versionId && item.isCurrentVersion === false) client = client.withVersion(item.versionId);
      const content = await client.downloadToBuffer();
      check(label, content.toString('utf8'));
      check(`${label} (latin1)`, content.toString('latin1'));
    }
  }

  if (targets.queue) {
    for (const name of QUEUE_NAMES) {
      for (const m of await targets.queue.peekMessages(name)) check(`queue:${name}/${m.messageId}`, JSON.stringify({ id: m.messageId, body: m.body, properties: m.properties }));
      for (const m of await targets.queue.peekDeadLetters(name, 10_000)) {
        check(`dead-letter:${name}/${m.messageId}`, JSON.stringify({ id: m.messageId, body: m.body, properties: m.properties, reason: m.reason, description: m.description }));
      }
    }
  }

  if (targets.hubspot) {
    for (const contact of targets.hubspot.contacts.values()) check(`hubspot:contact/${contact.id}`, JSON.stringify(contact));
    for (const [id, message] of targets.hubspot.conversationMessages) check(`hubspot:conversation-message/${id}`, JSON.stringify(message));
    for (const [id, thread] of targets.hubspot.threads) check(`hubspot:thread/${id}`, JSON.stringify(thread));
  }

  targets.logs?.forEach((line, i) => check(`log:${i}`, line));
  targets.telemetry?.events.forEach((e, i) => check(`telemetry:event/${i}:${e.name}`, JSON.stringify(e)));
  targets.telemetry?.metrics.forEach((m, i) => check(`telemetry:metric/${i}:${m.name}`, JSON.stringify(m)));
  return hits;
}

/** Current blobs, snapshots and versions (Azurite has no versioning: it lists without them). */
async function* listAll(container: ContainerClient) {
  try {
    yield* container.listBlobsFlat({ includeSnapshots: true, includeVersions: true, includeMetadata: true });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 400) throw error;
    yield* container.listBlobsFlat({ includeSnapshots: true, includeMetadata: true });
  }
}
