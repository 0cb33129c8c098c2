import './startupCheck';
import { app, type InvocationContext } from '@azure/functions';
import { runErasureTask } from '../shared/privacy';
import { compositionRoot } from '../shared/runtime';

/**
 * `erasure-tasks` consumer: one store's erasure of one request (`{requestId, store, attempt}`). Backoff
 * is a rescheduled message; a task that failed for good throws a DeadLetterError naming the store.
 */
export async function erasureTasks(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await runErasureTask((await compositionRoot()).privacy, message);
  context.log(`erasure task ${String(context.triggerMetadata?.messageId)} (delivery ${String(context.triggerMetadata?.deliveryCount)}): ${outcome}`);
}

app.serviceBusQueue('erasureTasks', { queueName: 'erasure-tasks', connection: 'SERVICEBUS_CONNECTION', handler: erasureTasks });
