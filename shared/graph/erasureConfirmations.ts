import type { SubjectIdentifier } from '../domain/ids';
import type { ErasureConfirmations } from '../privacy/ports';

/** The addressee fields of a Cloud API send: `to` for a phone number, `recipient` for a BSUID. */
export function recipientOf(identifier: SubjectIdentifier): { to: string } | { recipient: string } {
  return identifier.kind === 'waId' ? { to: identifier.value } : { recipient: identifier.value };
}
import type { SecretProvider } from '../secrets/secretProvider';

/**
 * The optional WhatsApp confirmation of an erasure, through the Graph API, sent before the number is
 * forgotten. Best effort: a free-form message only reaches the subject inside WhatsApp's 24-hour
 * customer-service window, and a failed confirmation must not undo or fail a completed erasure (the
 * audit event records whether it went).
 */
export function graphErasureConfirmations(deps: { baseUrl: string; fetch: typeof fetch; secrets: SecretProvider }): ErasureConfirmations {
  return {
    async send(tenant, subject) {
      const phoneNumberId = tenant.phoneNumberIds[0];
      const token = await deps.secrets.get('WHATSAPP_ACCESS_TOKEN');
      if (!phoneNumberId || !token) return false;
      try {
        const response = await deps.fetch(`${deps.baseUrl.replace(/\/+$/, '')}/${phoneNumberId}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            messaging_product: 'whatsapp',
            recipient_type: 'individual',
            // A username user is addressed by BSUID in `recipient`, with `to` omitted (Meta, "Business-scoped
            // user IDs", updated Jun 29 2026: "Sending messages").
            ...recipientOf(subject.identifier),
            type: 'text',
            text: { body: `${tenant.name}: your data has been erased as you asked. We no longer hold your messages, answers or media.` },
          }),
          signal: AbortSignal.timeout(5000),
        });
        return response.ok;
      } catch {
        return false;
      }
    },
  };
}
