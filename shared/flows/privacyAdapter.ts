import { accessSummary, createPrivacyRequest, latestRequestsForSubject, type PrivacyDeps, type PrivacyRequestView } from '../privacy';
import type { PrivacyCentrePort, RequestView } from './privacyCentrePort';

/**
 * The Privacy Centre port over the privacy use cases: the same `createPrivacyRequest` as the admin API
 * (channel `flow`, the screen recorded), the access use case's summary, and the subject's requests.
 */
export function privacyCentrePortOf(deps: PrivacyDeps): PrivacyCentrePort {
  return {
    async tenant(tenantId) {
      const tenant = await deps.tenants.get(tenantId);
      if (!tenant || tenant.cancelledAt) return undefined;
      return {
        name: tenant.name,
        retention: tenant.retention,
        usesHubspot: tenant.hubspot.enabled || tenant.messageStorage === 'hubspot',
      };
    },
    async heldData(tenantId, subject) {
      const summary = await accessSummary(deps, tenantId, subject);
      return {
        contact: summary.contactDetails
          ? {
              ...(summary.contactDetails.firstSeenAt ? { firstSeenAt: summary.contactDetails.firstSeenAt } : {}),
              ...(summary.contactDetails.lastSeenAt ? { lastSeenAt: summary.contactDetails.lastSeenAt } : {}),
              hasProfileName: summary.contactDetails.hasProfileName,
            }
          : summary.contact
            ? { hasProfileName: false }
            : undefined,
        flowResponses: summary.flowResponses,
        messages: summary.messages,
        media: summary.media,
        marketing: summary.marketing,
        ...(summary.whatsappMarketing !== 'none' ? { whatsappMarketing: summary.whatsappMarketing } : {}),
        restricted: summary.restricted,
      };
    },
    async requests(tenantId, subject) {
      return (await latestRequestsForSubject(deps, tenantId, subject)).map(requestView);
    },
    async createRequest(input) {
      const result = await createPrivacyRequest(deps, { ...input, channel: 'flow', actor: 'subject' });
      if (result.kind === 'unknown-tenant') throw new Error('the tenant no longer exists');
      return requestView(result.request);
    },
  };
}

function requestView(view: PrivacyRequestView): RequestView {
  return {
    id: view.id,
    type: view.type,
    scope: view.scope,
    status: view.status,
    receivedAt: view.receivedAt,
    dueAt: view.dueAt,
    ...(view.completedAt ? { completedAt: view.completedAt } : {}),
  };
}
