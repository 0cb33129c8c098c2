import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEventInput } from '../../shared/audit';
import { EVENT_NAMES, OPERATIONS_AUDIT_TENANT, replayDeadLetters, type ReplayPorts } from '../../shared/metrics';
import { DeadLetterError, InProcessQueue, type DeadLetterStore, type MessageHandler, type QueueName } from '../../shared/queue';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { startProofWorld, type ProofWorld } from './support/world';
import { CosmosAuditLog } from '../../shared/cosmos';
import { RecordingTelemetry } from '../doubles';

/**
 * A dead-letter replay is an operator action on every tenant's messages: it is audited before anything
 * moves. With Cosmos DB down the audit event cannot be written, so nothing is replayed and the route
 * answers 503; once Cosmos is back the replay happens and the audit trail says how many moved, with
 * counts only, never a message body.
 */

const QUEUE: QueueName = 'media-downloads';

/**
 * The in-process queue, with the media-downloads workers replaced by a switch: while `poisoned` every
 * delivery fails (a bug in the worker) and is redelivered until the max delivery count (10) dead-letters
 * it, as the Functions host settles it; afterwards deliveries are only recorded (the fix deployed). Every
 * delivery is counted, so a replay that should not have happened shows.
 */
class SwitchedQueue extends InProcessQueue {
  poisoned = true;
  readonly poisonedDeliveries: unknown[] = [];
  readonly delivered: unknown[] = [];

  override subscribe(queue: QueueName, handler: MessageHandler, options?: { maxConcurrent?: number }): () => Promise<void> {
    if (queue !== QUEUE) return super.subscribe(queue, handler, options);
    return super.subscribe(
      queue,
      async (message) => {
        if (this.poisoned) {
          this.poisonedDeliveries.push(message.body);
          throw new DeadLetterError('MediaWorkerBug', 'dead-lettered by the test');
        }
        this.delivered.push(message.body);
      },
      options,
    );
  }
}

let world: ProofWorld;
const queue = new SwitchedQueue();
beforeAll(async () => {
  world = await startProofWorld({ cosmosProxy: true, queue });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

function replay(actor: string, max?: number): Promise<Response> {
  return fetch(`${world.t.url}/api/dead-letters/${QUEUE}/replay${max !== undefined ? `?max=${max}` : ''}`, { method: 'POST', headers: adminHeaders(actor) });
}

async function eventsBy(actor: string) {
  const audit = new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock);
  return (await audit.query(OPERATIONS_AUDIT_TENANT, new Date(Date.now() - 3_600_000), new Date(Date.now() + 60_000))).filter((e) => e.actor === actor);
}

describe('replaying dead letters while Cosmos DB is down (fault proxy in front of the emulator)', () => {
  it('the replay is refused with 503 and the dead letters stay; after the outage it is replayed and audited with the count, no message body', async () => {
    const admin = randomUUID();
    const marker = randomUUID();
    const bodies = [1, 2, 3].map((i) => ({ tenantId: `t-dlq-${marker}`, subjectHash: `hash-${marker}-${i}`, mediaRefId: `media-body-${marker}-${i}` }));
    await queue.send(QUEUE, bodies.map((body, i) => ({ messageId: `dlq-${marker}-${i}`, body })));
    await eventually(async () => ((await queue.countDeadLetters(QUEUE)) === 3 ? true : undefined), 10_000, 'three dead letters');
    const before = (await queue.peekDeadLetters(QUEUE, 10)).map((m) => m.messageId);
    expect(before).toEqual(bodies.map((_, i) => `dlq-${marker}-${i}`));
    expect(queue.poisonedDeliveries).toHaveLength(3 * 10);

    // The outage: the replay-requested event cannot be written, so nothing moves.
    world.cosmosProxy!.failUntilCleared({ kind: 'status', status: 503 });
    let refused: Response;
    try {
      refused = await replay(admin, 10);
    } finally {
      world.cosmosProxy!.clear();
    }
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await refused.json()).toEqual({ error: { message: 'Cosmos DB is unavailable, retry later' } });
    expect(world.cosmosProxy!.injected()['status:503']).toBeGreaterThan(0);
    // The same three messages (same ids: a replayed message gets a new id), none delivered again.
    expect((await queue.peekDeadLetters(QUEUE, 10)).map((m) => m.messageId)).toEqual(before);
    expect(queue.poisonedDeliveries).toHaveLength(3 * 10);
    expect(queue.delivered).toEqual([]);
    expect(await eventsBy(admin)).toEqual([]);

    // After the outage, with the worker fixed: replayed, delivered, audited with the count.
    queue.poisoned = false;
    const done = await replay(admin, 10);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ queue: QUEUE, dryRun: false, requested: 3, replayed: 3, redriven: 0, stale: 0, kept: 0, remaining: 0, countAudited: true });
    await eventually(() => (queue.delivered.length === 3 ? true : undefined), 10_000, 'the replayed messages to be delivered');
    expect(queue.delivered).toEqual(bodies);
    expect(await queue.countDeadLetters(QUEUE)).toBe(0);

    const events = await eventsBy(admin);
    const requested = events.find((e) => e.type === 'queue.dead-letters.replay-requested');
    const replayed = events.find((e) => e.type === 'queue.dead-letters.replayed');
    expect(events).toHaveLength(2);
    expect(requested).toMatchObject({ tenantId: OPERATIONS_AUDIT_TENANT, actor: admin, details: { queue: QUEUE, requested: 3, max: 10 } });
    expect(replayed).toMatchObject({ tenantId: OPERATIONS_AUDIT_TENANT, actor: admin, details: { queue: QUEUE, replayed: 3, redriven: 0, stale: 0, kept: 0, max: 10 } });
    // One replay's events are paired by id; the request was written first.
    expect(replayed!.id).toBe(`${requested!.id}.replayed`);
    expect(requested!.at <= replayed!.at).toBe(true);
    // Counts only: no body, no message id, no tenant or subject of a message.
    const trail = JSON.stringify(events);
    for (const needle of [marker, 'media-body', 'subjectHash', 'mediaRefId', 'dlq-']) expect(trail).not.toContain(needle);
    expect(world.t.services.telemetry.events).toContainEqual({ name: EVENT_NAMES.deadLettersReplayed, dimensions: { queue: QUEUE, count: 3, redriven: 0, stale: 0, kept: 0 } });
  }, 60_000);
});

/** Ports in memory: a recorded order of calls, so "audited before anything moves" is checked as such. */
function ports(options: { dead: number; moves?: (max: number) => Promise<number>; auditFails?: (type: string) => boolean }) {
  const calls: string[] = [];
  const recorded: AuditEventInput[] = [];
  const telemetry = new RecordingTelemetry();
  let dead = options.dead;
  const store: DeadLetterStore = {
    peekDeadLetters: async () => [],
    countDeadLetters: async () => {
      calls.push('count');
      return dead;
    },
    replayDeadLetters: async () => {
      throw new Error('the replay settles each dead letter: settleDeadLetters');
    },
    settleDeadLetters: async (_queue, max, decide) => {
      calls.push(`replay(max ${max})`);
      const moved = options.moves ? await options.moves(max) : Math.min(dead, max);
      for (let i = 0; i < moved; i++) await decide({ messageId: `m${i}`, body: {}, deliveryCount: 10, enqueuedAt: new Date(), properties: {}, reason: 'r', description: '', deadLetteredAt: new Date() });
      dead -= moved;
      return { resend: moved, complete: 0, keep: 0 };
    },
  };
  const p: ReplayPorts = {
    queue: store,
    audit: {
      record: async (input) => {
        calls.push(`audit ${input.type}`);
        if (options.auditFails?.(input.type)) throw Object.assign(new Error('Cosmos DB is unavailable'), { code: 503 });
        recorded.push(input);
        return input;
      },
    },
    telemetry,
  };
  return { p, calls, recorded, telemetry, setDead: (n: number) => void (dead = n) };
}

describe('the replay use case keeps its audit trail honest', () => {
  it('the request is audited before anything moves, and the move is bounded by the count it announced', async () => {
    const w = ports({ dead: 4 });
    expect(await replayDeadLetters(w.p, 'erasure-tasks', 100, 'admin-1')).toEqual({ queue: 'erasure-tasks', dryRun: false, requested: 4, replayed: 4, redriven: 0, stale: 0, kept: 0, remaining: 0, countAudited: true });
    expect(w.calls).toEqual(['count', 'audit queue.dead-letters.replay-requested', 'replay(max 4)', 'audit queue.dead-letters.replayed', 'count']);
    expect(w.recorded.map((e) => [e.type, e.details])).toEqual([
      ['queue.dead-letters.replay-requested', { queue: 'erasure-tasks', requested: 4, max: 100 }],
      ['queue.dead-letters.replayed', { queue: 'erasure-tasks', replayed: 4, redriven: 0, stale: 0, kept: 0, max: 100 }],
    ]);
    expect(w.recorded.every((e) => e.tenantId === OPERATIONS_AUDIT_TENANT && e.actor === 'admin-1')).toBe(true);
  });

  it('max caps the request: 7 dead letters, max 5 → "replay requested: 5", 5 moved, 2 left', async () => {
    const w = ports({ dead: 7 });
    expect(await replayDeadLetters(w.p, 'hubspot-sync', 5, 'admin-1')).toMatchObject({ requested: 5, replayed: 5, remaining: 2 });
    expect(w.calls).toContain('replay(max 5)');
  });

  it('fewer moved than announced: the final event records the shortfall next to what was requested', async () => {
    const w = ports({ dead: 5, moves: async () => 3 });
    const result = await replayDeadLetters(w.p, 'privacy-requests', 100, 'admin-1');
    expect(result).toMatchObject({ requested: 5, replayed: 3, countAudited: true });
    expect(w.recorded.at(-1)).toMatchObject({ type: 'queue.dead-letters.replayed', details: { queue: 'privacy-requests', replayed: 3, redriven: 0, stale: 0, kept: 0, max: 100, requested: 5, shortfall: 2 } });
    expect(w.telemetry.events).toEqual([{ name: EVENT_NAMES.deadLettersReplayed, dimensions: { queue: 'privacy-requests', count: 3, redriven: 0, stale: 0, kept: 0 } }]);
  });

  it('when the audit cannot be written nothing moves, and the outage reaches the route (which answers 503)', async () => {
    const w = ports({ dead: 3, auditFails: () => true });
    await expect(replayDeadLetters(w.p, 'media-downloads', 100, 'admin-1')).rejects.toMatchObject({ code: 503 });
    expect(w.calls).toEqual(['count', 'audit queue.dead-letters.replay-requested']);
    expect(w.telemetry.events).toEqual([]);
  });

  it('a move that fails half-way is recorded as failed with what is left, and the error still reaches the route', async () => {
    const w = ports({ dead: 6 });
    w.p.queue.settleDeadLetters = async () => {
      w.setDead(4); // two went back before the namespace stopped answering
      throw Object.assign(new Error('ServiceCommunicationProblem'), { name: 'ServiceBusError', retryable: true });
    };
    await expect(replayDeadLetters(w.p, 'erasure-tasks', 100, 'admin-1')).rejects.toMatchObject({ name: 'ServiceBusError' });
    expect(w.recorded.map((e) => [e.type, e.details])).toEqual([
      ['queue.dead-letters.replay-requested', { queue: 'erasure-tasks', requested: 6, max: 100 }],
      ['queue.dead-letters.replay-failed', { queue: 'erasure-tasks', requested: 6, max: 100, remaining: 4, replayed: 0, redriven: 0, stale: 0, kept: 0 }],
    ]);
    expect(w.recorded[1]!.idempotencyKey).toBe(`${w.recorded[0]!.idempotencyKey}.failed`);
  });

  it('if Cosmos goes down during the move, the replay that happened is still answered (countAudited: false), not a 503 that invites a second one', async () => {
    const w = ports({ dead: 2, auditFails: (type) => type === 'queue.dead-letters.replayed' });
    expect(await replayDeadLetters(w.p, 'media-downloads', 100, 'admin-1')).toEqual({ queue: 'media-downloads', dryRun: false, requested: 2, replayed: 2, redriven: 0, stale: 0, kept: 0, remaining: 0, countAudited: false });
    expect(w.recorded.map((e) => e.type)).toEqual(['queue.dead-letters.replay-requested']);
    expect(w.telemetry.events).toEqual([{ name: EVENT_NAMES.deadLettersReplayed, dimensions: { queue: 'media-downloads', count: 2, redriven: 0, stale: 0, kept: 0, countAudited: false } }]);
  });

  it('an empty queue: the request (0) is still audited, nothing is asked of the queue', async () => {
    const w = ports({ dead: 0 });
    expect(await replayDeadLetters(w.p, 'media-downloads', 100, 'admin-1')).toMatchObject({ requested: 0, replayed: 0 });
    expect(w.calls).toEqual(['count', 'audit queue.dead-letters.replay-requested', 'audit queue.dead-letters.replayed', 'count']);
  });
});
