import './startupCheck';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { reconcilePrivacyRequests } from '../shared/privacy';
import { compositionRoot } from '../shared/runtime';

/** Every minute (RECONCILER_SCHEDULE): sends what was written but not enqueued, re-drives stuck tasks, advances cancellations. */
export async function privacyReconciler(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await reconcilePrivacyRequests((await compositionRoot()).privacy);
  context.log(`privacy reconciler: ${JSON.stringify(report)}`);
}

app.timer('privacyReconciler', { schedule: '%RECONCILER_SCHEDULE%', handler: privacyReconciler });
