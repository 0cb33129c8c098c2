import './startupCheck';
import { app, type InvocationContext } from '@azure/functions';
import { processPrivacyRequest } from '../shared/privacy';
import { compositionRoot } from '../shared/runtime';

/**
 * `privacy-requests` consumer: plans an erasure into one `erasure-tasks` message per store, or carries
 * out access, rectification, restriction and objection. A thrown error is a retry (redelivery) or, for
 * a request that failed for good, a dead letter with a readable reason.
 */
export async function privacyRequestQueue(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await processPrivacyRequest((await compositionRoot()).privacy, message);
  context.log(`privacy request message ${String(context.triggerMetadata?.messageId)}: ${outcome}`);
}

app.serviceBusQueue('privacyRequestQueue', { queueName: 'privacy-requests', connection: 'SERVICEBUS_CONNECTION', handler: privacyRequestQueue });
