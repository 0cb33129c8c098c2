import type { Clock } from '../../../shared/domain';
import { QUEUE_NAMES, type InProcessQueue } from '../../../shared/queue';
import type { TestServices } from '../../support/testServices';
import { postWebhook } from '../../whatsapp/support';
import { tenantsOf } from './sweep';

/**
 * Real time plus an offset the test can move forward: "Meta retries two minutes later", "the reconciler
 * runs eleven minutes later", without sleeping. Everything that reads the app's clock (leases, markers'
 * expiry, the queue's scheduled messages, backoff) sees the jump; timers keep real time.
 */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface MetaDelivery {
  /** Every answer, in order: Meta retries a delivery until one is 2xx (4xx: it gives up, and so do we). */
  statuses: number[];
}

/**
 * Delivers a webhook as Meta does: signed, retried after a 5xx or a network failure, up to `attempts`
 * times; `beforeRetry` runs between attempts (clear a fault, move the clock on as Meta's backoff would).
 */
export async function deliverLikeMeta(
  url: string,
  payload: unknown,
  options: { attempts?: number; beforeRetry?: (attempt: number) => Promise<void> | void } = {},
): Promise<MetaDelivery> {
  const statuses: number[] = [];
  const attempts = options.attempts ?? 8;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await options.beforeRetry?.(attempt);
    let status: number;
    try {
      const response = await postWebhook(url, payload);
      await response.arrayBuffer();
      status = response.status;
    } catch {
      status = 0; // the connection failed: Meta retries
    }
    statuses.push(status);
    if (status >= 200 && status < 500 && status !== 0) break;
  }
  return { statuses };
}

/** How many records every store of the app holds: documents per Cosmos container, blobs per container, queue messages and dead letters. */
export interface StoreCounts {
  cosmos: Record<string, number>;
  blobs: Record<string, number>;
  queued: number;
  deadLettered: number;
}

export async function storeCounts(s: TestServices): Promise<StoreCounts> {
  const database = s.cosmos.subjects.database;
  const { resources: containers } = await database.containers.readAll().fetchAll();
  const cosmos: Record<string, number> = {};
  for (const def of containers) {
    const { resources } = await database.container(def.id).items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll();
    cosmos[def.id] = resources[0] ?? 0;
  }
  // Blobs under this test's tenants only: Azurite is shared by the test files running at the same time.
  const tenants = await tenantsOf(database);
  const blobs: Record<string, number> = {};
  for (const [name, container] of Object.entries(s.blobs)) {
    let n = 0;
    for (const tenantId of tenants) for await (const item of container.listBlobsFlat({ includeSnapshots: true, prefix: `${tenantId}/` })) if (item.name) n += 1;
    blobs[name] = n;
  }
  return { cosmos, blobs, queued: s.queue.pending(), deadLettered: await deadLetters(s.queue) };
}

async function deadLetters(queue: InProcessQueue): Promise<number> {
  let n = 0;
  for (const name of QUEUE_NAMES) n += await queue.countDeadLetters(name);
  return n;
}

/** Resolves when no message is waiting or in flight in any queue. */
export async function queuesDrained(queue: InProcessQueue, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (queue.pending() > 0) {
    if (Date.now() > deadline) throw new Error(`queues not drained after ${timeoutMs} ms: ${queue.pending()} pending`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
