import './startupCheck';
import { app, type InvocationContext } from '@azure/functions';
import { compositionRoot } from '../shared/runtime';

/**
 * `hubspot-sync`: publish one message to the tenant's HubSpot custom channel, then delete its encrypted
 * copy. Backoff is a rescheduled message; a permanent failure dead-letters it with a reason (ids only).
 */
export async function hubspotSync(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await (await compositionRoot()).syncToHubSpot(message);
  context.log(`hubspot sync ${outcome} (delivery ${String(context.triggerMetadata?.deliveryCount ?? 1)})`);
}

app.serviceBusQueue('hubspotSync', { queueName: 'hubspot-sync', connection: 'SERVICEBUS_CONNECTION', handler: hubspotSync });
