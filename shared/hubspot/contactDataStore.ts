import type { HubSpotContacts } from './contacts';
import type { CrmContacts } from '../privacy/ports';
import { pushRectifiedName } from './contactDirectory';
import { step } from '../privacy/errors';
import type { PersonalDataStore } from '../privacy/registry';

/**
 * The subject's contact in the tenant's HubSpot portal (only when the tenant syncs to HubSpot). Found by
 * phone number in every form HubSpot may hold, removed with the GDPR delete (which also purges its
 * engagements and conversations; HubSpot finishes within 30 days). "Not found" is success.
 *
 * Verification reads every contact the erasure found by id, with HubSpot's batch read (100 ids a call,
 * merged across the concurrent verifications of a tenant: one call where a GET per contact would spend
 * one call of the burst limit each): each must be gone. It does not search again: HubSpot's search
 * index lags writes by seconds, so a search right after the delete may still list the deleted contact
 * and would not yet list one created a moment ago; a read by id is exact, and is not held to the search
 * limit of 4 per second. A contact created from a message sent after the request is new data (the
 * webhook treats it as a new relationship), not a leftover.
 *
 * In the `hubspot` message mode the conversation messages Flowkeeper published to the tenant's custom
 * channel hang off the same contact: the GDPR delete removes them too (HubSpot has no per-message
 * delete; see docs/hubspot.md for what HubSpot keeps and for how long). A tenant in that mode is in
 * scope even if `hubspot.enabled` was left off.
 */
export function hubspotContactDataStore(deps: { contacts: HubSpotContacts }): PersonalDataStore {
  const { contacts } = deps;
  return {
    name: 'hubspot',
    description: "The subject's contact (with engagements and conversations, including the messages Flowkeeper published to the custom channel) in the tenant's HubSpot portal",
    holds: ['crm-contact', 'phone-number', 'profile-name', 'message-content'],
    retention: "the tenant's HubSpot policy; Flowkeeper stops syncing an erased or suppressed subject (tombstones, suppression list)",
    scopes: ['all'],
    notApplicable: (tenant) => (tenant.hubspot.enabled || tenant.messageStorage === 'hubspot' ? undefined : 'not applicable: HubSpot is not enabled for this tenant'),

    async exportSubject(subject) {
      const found = await step('HubSpot', 'contact search', () => contacts.findByPhone(subject.tenantId, subject.waId));
      return { records: found.length, data: found.map((c) => ({ id: c.id, properties: c.properties })) };
    },

    async eraseSubject(subject) {
      const found = await contacts.findByPhone(subject.tenantId, subject.waId);
      let deleted = 0;
      for (const contact of found) {
        if (await contacts.gdprDelete(subject.tenantId, contact.id)) deleted += 1;
      }
      return { found: found.length, deleted, refs: found.map((c) => c.id) };
    },

    async verifyErased(subject, _scope, refs = []) {
      if (refs.length === 0) return 0;
      const still = await step('HubSpot', 'contact batch read', () => contacts.stillPresent(subject.tenantId, refs));
      return still.size;
    },
  };
}

/** The privacy core's CRM port on HubSpot: a rectified name pushed to every contact of the subject's number. */
export function hubspotCrmContacts(contacts: HubSpotContacts): CrmContacts {
  return { renameSubject: (subject, profileName) => pushRectifiedName(contacts, subject.tenantId, subject.waId, profileName) };
}
