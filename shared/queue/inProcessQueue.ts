import { randomUUID } from 'node:crypto';
import type { Clock } from '../domain/clock';
import { systemClock } from '../domain/clock';
import {
  type DeadLetteredMessage,
  type DeadLetterSettled,
  type DeadLetterSettlement,
  type MessageHandler,
  type OutgoingMessage,
  type Queue,
  type QueueName,
  type ReceivedMessage,
} from './queuePort';

export interface InProcessQueueOptions {
  /** After this many failed deliveries the message is dead-lettered (Service Bus default: 10). */
  maxDeliveryCount?: number;
  /** A handler still running after this long loses its lock and the message is delivered again. */
  lockDurationMs?: number;
  /** Window of duplicate detection by message id (Service Bus default: 10 minutes). */
  duplicateDetectionWindowMs?: number;
  clock?: Clock;
}

interface StoredMessage {
  messageId: string;
  body: string; // serialised, as on the wire: a handler can never mutate the stored copy
  properties: Record<string, string | number | boolean>;
  enqueuedAt: Date;
  visibleAt: number;
  deliveryCount: number;
  lockToken?: string;
}

interface QueueState {
  ready: StoredMessage[];
  deadLetters: DeadLetteredMessage[];
  seenIds: Map<string, number>;
  subscribers: Set<Subscriber>;
}

interface Subscriber {
  handler: MessageHandler;
  maxConcurrent: number;
  running: number;
  closed: boolean;
  idle: Set<() => void>;
}

/**
 * An in-process queue with Service Bus semantics as a Functions Service Bus trigger in Node sees them:
 * peek-lock, and a handler that throws (whatever it throws, a DeadLetterError included) abandons the
 * message, which is redelivered at once with a growing delivery count until the max delivery count (10),
 * when it is dead-lettered with Service Bus' own reason (`MaxDeliveryCountExceeded`) and description;
 * scheduled messages, duplicate detection by message id. Used by the local host and tests when no Service
 * Bus is set; never in Azure (shared/config/platform.ts). See README, "Queues", for why the Node worker
 * cannot dead-letter a message itself.
 */
export class InProcessQueue implements Queue {
  private readonly queues = new Map<QueueName, QueueState>();
  private readonly maxDeliveryCount: number;
  private readonly lockDurationMs: number;
  private readonly duplicateWindowMs: number;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: InProcessQueueOptions = {}) {
    this.maxDeliveryCount = options.maxDeliveryCount ?? 10;
    this.lockDurationMs = options.lockDurationMs ?? 60_000;
    this.duplicateWindowMs = options.duplicateDetectionWindowMs ?? 10 * 60_000;
    this.clock = options.clock ?? systemClock;
  }

  async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    const now = this.clock.now().getTime();
    const state = this.state(queue);
    for (const message of Array.isArray(messages) ? messages : [messages]) {
      const messageId = message.messageId ?? randomUUID();
      this.forgetOldIds(state, now);
      if (state.seenIds.has(messageId)) continue; // duplicate detection: silently dropped, as Service Bus does
      state.seenIds.set(messageId, now);
      state.ready.push({
        messageId,
        body: JSON.stringify(message.body ?? null),
        properties: { ...(message.properties ?? {}) },
        enqueuedAt: new Date(now),
        visibleAt: message.scheduledAt ? message.scheduledAt.getTime() : now,
        deliveryCount: 0,
      });
    }
    this.pump(queue);
  }

  subscribe(queue: QueueName, handler: MessageHandler, options: { maxConcurrent?: number } = {}): () => Promise<void> {
    const subscriber: Subscriber = {
      handler,
      maxConcurrent: options.maxConcurrent ?? 16,
      running: 0,
      closed: false,
      idle: new Set(),
    };
    this.state(queue).subscribers.add(subscriber);
    this.pump(queue);
    return async () => {
      subscriber.closed = true;
      this.state(queue).subscribers.delete(subscriber);
      if (subscriber.running > 0) await new Promise<void>((resolve) => subscriber.idle.add(resolve));
    };
  }

  async peekDeadLetters(queue: QueueName, max = 100): Promise<DeadLetteredMessage[]> {
    return this.state(queue).deadLetters.slice(0, max).map((m) => ({ ...m, body: structuredClone(m.body) }));
  }

  async countDeadLetters(queue: QueueName): Promise<number> {
    return this.state(queue).deadLetters.length;
  }

  async replayDeadLetters(queue: QueueName, max = Number.MAX_SAFE_INTEGER): Promise<number> {
    const state = this.state(queue);
    const replayed = state.deadLetters.splice(0, max);
    for (const message of replayed) this.resend(state, message);
    this.pump(queue);
    return replayed.length;
  }

  async settleDeadLetters(queue: QueueName, max: number, decide: (message: DeadLetteredMessage) => Promise<DeadLetterSettlement>): Promise<DeadLetterSettled> {
    const state = this.state(queue);
    // Taken out of the dead-letter queue while decided (as a receive locks them); kept ones go back in order.
    const taken = state.deadLetters.splice(0, max);
    const kept: DeadLetteredMessage[] = [];
    const settled: DeadLetterSettled = { resend: 0, complete: 0, keep: 0 };
    let index = 0;
    try {
      for (; index < taken.length; index++) {
        const message = taken[index]!;
        const action = await decide({ ...message, body: structuredClone(message.body) });
        settled[action] += 1;
        if (action === 'keep') kept.push(message);
        if (action === 'resend') this.resend(state, message);
      }
    } finally {
      state.deadLetters.unshift(...kept, ...taken.slice(index));
      this.pump(queue);
    }
    return settled;
  }

  /** A resend is a new message: fresh id (duplicate detection would drop the old one) and delivery count. */
  private resend(state: QueueState, message: DeadLetteredMessage): void {
    const now = this.clock.now().getTime();
    state.ready.push({
      messageId: randomUUID(),
      body: JSON.stringify(message.body),
      properties: { ...message.properties, replayedFrom: message.messageId },
      enqueuedAt: new Date(now),
      visibleAt: now,
      deliveryCount: 0,
    });
  }

  /** Messages waiting, scheduled or in flight, without receiving them (what Service Bus' peek shows). */
  async peekMessages(queue: QueueName): Promise<ReceivedMessage[]> {
    return this.state(queue).ready.map((m) => ({
      messageId: m.messageId,
      body: JSON.parse(m.body) as unknown,
      deliveryCount: m.deliveryCount,
      enqueuedAt: m.enqueuedAt,
      properties: { ...m.properties },
    }));
  }

  /** Messages waiting or in flight: lets tests and the local host wait until the work is done. */
  pending(queue?: QueueName): number {
    const states = queue ? [this.state(queue)] : [...this.queues.values()];
    return states.reduce((n, s) => n + s.ready.length, 0);
  }

  /** Delivers whatever is due now; the local host and tests with a manual clock call this after advancing. */
  tick(): void {
    for (const queue of this.queues.keys()) this.pump(queue);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const waits: Promise<void>[] = [];
    for (const state of this.queues.values()) {
      for (const s of state.subscribers) {
        s.closed = true;
        if (s.running > 0) waits.push(new Promise<void>((resolve) => s.idle.add(resolve)));
      }
      state.subscribers.clear();
    }
    await Promise.all(waits);
  }

  private state(queue: QueueName): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      state = { ready: [], deadLetters: [], seenIds: new Map(), subscribers: new Set() };
      this.queues.set(queue, state);
    }
    return state;
  }

  private forgetOldIds(state: QueueState, now: number): void {
    for (const [id, at] of state.seenIds) {
      if (now - at < this.duplicateWindowMs) break; // insertion order is time order
      state.seenIds.delete(id);
    }
  }

  private pump(queue: QueueName): void {
    if (this.closed) return;
    const state = this.state(queue);
    const now = this.clock.now().getTime();
    for (const subscriber of state.subscribers) {
      while (!subscriber.closed && subscriber.running < subscriber.maxConcurrent) {
        const index = state.ready.findIndex((m) => m.lockToken === undefined && m.visibleAt <= now);
        if (index < 0) break;
        const message = state.ready[index]!;
        this.deliver(queue, state, subscriber, message);
      }
    }
    this.scheduleWake(now);
  }

  private deliver(queue: QueueName, state: QueueState, subscriber: Subscriber, message: StoredMessage): void {
    const lockToken = randomUUID();
    message.lockToken = lockToken;
    message.deliveryCount += 1;
    const lockedUntil = this.clock.now().getTime() + this.lockDurationMs;
    message.visibleAt = lockedUntil; // when the lock expires, the message is visible again
    subscriber.running += 1;

    const received: ReceivedMessage = {
      messageId: message.messageId,
      body: JSON.parse(message.body) as unknown,
      deliveryCount: message.deliveryCount,
      enqueuedAt: message.enqueuedAt,
      properties: { ...message.properties },
    };
    const lockExpiry = setTimeout(() => {
      if (message.lockToken !== lockToken) return;
      message.lockToken = undefined; // lock lost: the broker hands the message to someone else
      this.afterFailure(queue, state, message, 'MessageLockLost', 'the handler held the message longer than the lock duration');
    }, this.lockDurationMs);
    lockExpiry.unref();

    void Promise.resolve()
      .then(() => subscriber.handler(received))
      .then(
        () => {
          if (message.lockToken !== lockToken) return; // settled after the lock was lost: ignored
          this.remove(state, message);
        },
        () => {
          if (message.lockToken !== lockToken) return;
          message.lockToken = undefined;
          // As the Functions host settles a Node Service Bus trigger: any thrown error (a DeadLetterError too)
          // abandons the message; the broker dead-letters it once the delivery count reaches the maximum.
          this.afterFailure(queue, state, message, 'MaxDeliveryCountExceeded', maxDeliveryDescription(this.maxDeliveryCount));
        },
      )
      .finally(() => {
        clearTimeout(lockExpiry);
        subscriber.running -= 1;
        if (subscriber.running === 0) {
          for (const resolve of subscriber.idle) resolve();
          subscriber.idle.clear();
        }
        this.pump(queue);
      });
  }

  private afterFailure(queue: QueueName, state: QueueState, message: StoredMessage, reason: string, description: string): void {
    if (message.deliveryCount >= this.maxDeliveryCount) {
      this.deadLetter(state, message, reason, description);
    } else {
      message.visibleAt = this.clock.now().getTime(); // abandoned: available again at once
    }
    this.pump(queue);
  }

  private deadLetter(state: QueueState, message: StoredMessage, reason: string, description: string): void {
    this.remove(state, message);
    state.deadLetters.push({
      messageId: message.messageId,
      body: JSON.parse(message.body) as unknown,
      deliveryCount: message.deliveryCount,
      enqueuedAt: message.enqueuedAt,
      properties: { ...message.properties },
      reason,
      description,
      deadLetteredAt: this.clock.now(),
    });
  }

  private remove(state: QueueState, message: StoredMessage): void {
    const index = state.ready.indexOf(message);
    if (index >= 0) state.ready.splice(index, 1);
  }

  /**
   * One timer for the earliest scheduled or abandoned message, so scheduled messages arrive on time. A
   * message already due on another queue (its wake-up not run yet) counts as due now: re-arming the one
   * timer without it would leave it waiting for that queue's next send.
   */
  private scheduleWake(now: number): void {
    let earliest = Infinity;
    for (const state of this.queues.values()) {
      if (state.subscribers.size === 0) continue;
      const canTake = [...state.subscribers].some((s) => !s.closed && s.running < s.maxConcurrent);
      for (const m of state.ready) {
        if (m.lockToken !== undefined) continue;
        if (m.visibleAt > now) earliest = Math.min(earliest, m.visibleAt);
        else if (canTake) earliest = now;
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (earliest === Infinity) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, earliest - now));
    this.timer.unref();
  }
}

/** What Service Bus writes as the dead-letter description of a message that ran out of deliveries (no error: the broker never sees it). */
function maxDeliveryDescription(maxDeliveryCount: number): string {
  return `Message could not be consumed after ${maxDeliveryCount} delivery attempts.`;
}
