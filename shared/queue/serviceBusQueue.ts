import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import {
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusSender,
} from '@azure/service-bus';
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

export type ServiceBusConnection = { connectionString: string } | { fullyQualifiedNamespace: string; credential?: TokenCredential };

/** The queue port on Azure Service Bus. Senders are kept per queue: creating one costs a link. */
export class ServiceBusQueue implements Queue {
  private readonly client: ServiceBusClient;
  private readonly senders = new Map<QueueName, ServiceBusSender>();

  constructor(connection: ServiceBusConnection) {
    this.client =
      'connectionString' in connection
        ? new ServiceBusClient(connection.connectionString)
        : new ServiceBusClient(connection.fullyQualifiedNamespace, connection.credential ?? new DefaultAzureCredential());
  }

  async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    const sender = this.sender(queue);
    const list = Array.isArray(messages) ? messages : [messages];
    const now = Date.now();
    const immediate = list.filter((m) => !m.scheduledAt || m.scheduledAt.getTime() <= now).map(toServiceBusMessage);
    if (immediate.length > 0) await sender.sendMessages(immediate);
    for (const m of list) {
      if (m.scheduledAt && m.scheduledAt.getTime() > now) await sender.scheduleMessages(toServiceBusMessage(m), m.scheduledAt);
    }
  }

  subscribe(queue: QueueName, handler: MessageHandler, options: { maxConcurrent?: number } = {}): () => Promise<void> {
    const receiver = this.client.createReceiver(queue, { receiveMode: 'peekLock' });
    const subscription = receiver.subscribe(
      {
        processMessage: async (message) => {
          // Settled as the Functions host settles a Node trigger's message (autoCompleteMessages): completed
          // when the handler returns, abandoned when it throws, whatever it throws; the broker dead-letters
          // it after maxDeliveryCount. The local host uses this against a real namespace, so it must not
          // prove a settlement (an immediate dead letter) that production does not have.
          try {
            await handler(fromServiceBusMessage(message));
          } catch {
            await receiver.abandonMessage(message);
            return;
          }
          await receiver.completeMessage(message);
        },
        processError: async () => {
          // Receiver errors are retried by the SDK; the message itself stays locked or is redelivered.
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: options.maxConcurrent ?? 16 },
    );
    return async () => {
      await subscription.close();
      await receiver.close();
    };
  }

  async peekDeadLetters(queue: QueueName, max = 100): Promise<DeadLetteredMessage[]> {
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter' });
    try {
      const messages = await receiver.peekMessages(max);
      return messages.map(deadLettered);
    } finally {
      await receiver.close();
    }
  }

  async countDeadLetters(queue: QueueName): Promise<number> {
    // Counting by peeking needs no management rights (the app has only Sender/Receiver roles).
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter' });
    try {
      let count = 0;
      let fromSequenceNumber: Long | undefined;
      for (;;) {
        const page = await receiver.peekMessages(250, fromSequenceNumber ? { fromSequenceNumber } : undefined);
        if (page.length === 0) return count;
        count += page.length;
        const last = page[page.length - 1]!.sequenceNumber;
        if (!last) return count;
        fromSequenceNumber = last.add(1);
      }
    } finally {
      await receiver.close();
    }
  }

  async replayDeadLetters(queue: QueueName, max = 1000): Promise<number> {
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    let replayed = 0;
    try {
      while (replayed < max) {
        const batch = await receiver.receiveMessages(Math.min(50, max - replayed), { maxWaitTimeInMs: 2000 });
        if (batch.length === 0) break;
        for (const message of batch) {
          await this.sender(queue).sendMessages({
            body: message.body,
            contentType: 'application/json',
            applicationProperties: { ...(message.applicationProperties ?? {}), replayedFrom: String(message.messageId) },
          });
          await receiver.completeMessage(message);
          replayed += 1;
        }
      }
      return replayed;
    } finally {
      await receiver.close();
    }
  }

  async settleDeadLetters(queue: QueueName, max: number, decide: (message: DeadLetteredMessage) => Promise<DeadLetterSettlement>): Promise<DeadLetterSettled> {
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    const settled: DeadLetterSettled = { resend: 0, complete: 0, keep: 0 };
    // Kept messages stay locked until the end, so a later receive of this run does not return them again.
    const locked: ServiceBusReceivedMessage[] = [];
    const seen = new Set<string>();
    try {
      let taken = 0;
      while (taken < max) {
        const batch = await receiver.receiveMessages(Math.min(50, max - taken), { maxWaitTimeInMs: 2000 });
        if (batch.length === 0) break;
        locked.push(...batch);
        for (const message of batch) {
          taken += 1;
          const id = String(message.messageId ?? '');
          // A kept message whose lock ran out comes back: this run has decided it already.
          const action: DeadLetterSettlement = seen.has(id) ? 'keep' : await decide(deadLettered(message));
          seen.add(id);
          if (action === 'resend') {
            await this.sender(queue).sendMessages({
              body: message.body,
              contentType: 'application/json',
              applicationProperties: { ...(message.applicationProperties ?? {}), replayedFrom: id },
            });
          }
          if (action !== 'keep') {
            await receiver.completeMessage(message);
            locked.splice(locked.indexOf(message), 1);
          }
          settled[action] += 1;
        }
      }
      return settled;
    } finally {
      // Kept, or not reached because `decide` failed: back to the dead-letter queue as they were.
      await Promise.allSettled(locked.map((m) => receiver.abandonMessage(m)));
      await receiver.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    await this.client.close();
  }

  private sender(queue: QueueName): ServiceBusSender {
    let sender = this.senders.get(queue);
    if (!sender) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }
}

function deadLettered(m: ServiceBusReceivedMessage): DeadLetteredMessage {
  return {
    ...fromServiceBusMessage(m),
    reason: m.deadLetterReason ?? 'unknown',
    description: m.deadLetterErrorDescription ?? '',
    deadLetteredAt: m.enqueuedTimeUtc ?? new Date(0),
  };
}

type Long = NonNullable<ServiceBusReceivedMessage['sequenceNumber']>;

function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  return {
    body: message.body,
    contentType: 'application/json',
    ...(message.messageId ? { messageId: message.messageId } : {}),
    ...(message.properties ? { applicationProperties: message.properties } : {}),
  };
}

export function fromServiceBusMessage(message: ServiceBusReceivedMessage): ReceivedMessage {
  return {
    messageId: String(message.messageId ?? ''),
    body: message.body as unknown,
    deliveryCount: message.deliveryCount ?? 1,
    enqueuedAt: message.enqueuedTimeUtc ?? new Date(),
    properties: Object.fromEntries(
      Object.entries(message.applicationProperties ?? {}).filter(
        (entry): entry is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof entry[1]),
      ),
    ),
  };
}
