/**
 * The queue port: what the application needs from Service Bus. Two implementations keep the same
 * semantics: Service Bus itself, and an in-process queue for local runs and tests.
 *
 * Messages carry ids and keyed hashes only, never a phone number, name or answer: a dead-letter queue
 * keeps messages until someone acts, and must not become a second copy of the data.
 */
export const QUEUE_NAMES = ['media-downloads', 'hubspot-sync', 'privacy-requests', 'erasure-tasks'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type MessageProperties = Record<string, string | number | boolean>;

export interface OutgoingMessage {
  /** Duplicate detection drops a second message with the same id inside the window (10 minutes). */
  messageId?: string;
  body: unknown;
  /** Delivered no earlier than this: how backoff is done (complete the message, schedule a new one). */
  scheduledAt?: Date;
  properties?: MessageProperties;
}

export interface ReceivedMessage {
  messageId: string;
  body: unknown;
  /** 1 on the first delivery; grows each time a handler fails and the message is redelivered. */
  deliveryCount: number;
  enqueuedAt: Date;
  properties: MessageProperties;
}

export interface DeadLetteredMessage extends ReceivedMessage {
  reason: string;
  description: string;
  deadLetteredAt: Date;
}

export type MessageHandler = (message: ReceivedMessage) => Promise<void>;

export interface QueueSender {
  send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void>;
}

export interface QueueConsumer {
  /** Delivers messages to the handler until the returned function is called. */
  subscribe(queue: QueueName, handler: MessageHandler, options?: { maxConcurrent?: number }): () => Promise<void>;
}

export interface DeadLetterStore {
  /** Dead-lettered messages of a queue, oldest first, without removing them. */
  peekDeadLetters(queue: QueueName, max?: number): Promise<DeadLetteredMessage[]>;
  countDeadLetters(queue: QueueName): Promise<number>;
  /** Sends dead-lettered messages back to their queue (fresh delivery count) and removes them from the DLQ. */
  replayDeadLetters(queue: QueueName, max?: number): Promise<number>;
  /**
   * Takes up to `max` dead letters of a queue, oldest first, and settles each as `decide` says: `resend`
   * sends a copy to the queue (new message id, fresh delivery count) and then completes the original;
   * `complete` removes it without a resend; `keep` leaves it in the dead-letter queue. The original is
   * always completed, never left behind next to its copy. If `decide` throws, that message and every one
   * not yet settled stay, and the error escapes.
   */
  settleDeadLetters(queue: QueueName, max: number, decide: (message: DeadLetteredMessage) => Promise<DeadLetterSettlement>): Promise<DeadLetterSettled>;
}

export type DeadLetterSettlement = 'resend' | 'complete' | 'keep';
export type DeadLetterSettled = Record<DeadLetterSettlement, number>;

export type Queue = QueueSender & QueueConsumer & DeadLetterStore & { close(): Promise<void> };

/**
 * Thrown by a handler that gives up on a message for good (a malformed body, a missing configuration, a
 * failure recorded elsewhere), with a readable reason for the logs and telemetry. It settles nothing by
 * itself: the Functions host abandons a Node trigger's message on any thrown error (Node functions cannot
 * dead-letter explicitly outside the preview SDK bindings, README "Queues"), so the message is redelivered
 * until the queue's max delivery count (10) dead-letters it as `MaxDeliveryCountExceeded`. The in-process
 * queue does exactly the same. Handlers therefore throw it deterministically on every redelivery.
 */
export class DeadLetterError extends Error {
  constructor(
    readonly reason: string,
    readonly description: string,
  ) {
    super(`${reason}: ${description}`);
    this.name = 'DeadLetterError';
  }
}
