import { describe, expect, it } from 'vitest';
import { contactOf, inboundMessage, messageIdFor, messagesChange, parseWebhook, unixSeconds, webhookDelivery } from '../../shared/whatsapp';

describe('the webhook envelope builder', () => {
  it("builds Meta's documented text-message example field for field (messages webhook reference)", () => {
    const sender = { waId: '16505551234', name: 'Sheena Nelson' };
    const built = webhookDelivery([
      [
        messagesChange({
          phoneNumberId: '106540352242922',
          displayPhoneNumber: '15550783881',
          contacts: [sender],
          messages: [inboundMessage(sender, { type: 'text', id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=', at: new Date(1749416383_000), text: { body: 'Does it come in another color?' } })],
        }),
      ],
    ]);
    expect(built).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
                contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }],
                messages: [{ from: '16505551234', id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=', timestamp: '1749416383', type: 'text', text: { body: 'Does it come in another color?' } }],
              },
              field: 'messages',
            },
          ],
        },
      ],
    });
  });

  it('what it builds is what the webhook parses: messages, statuses, several entries, and another field beside', () => {
    const sender = { waId: '447700900123', name: 'Jo Bloggs' };
    const parsed = parseWebhook(
      webhookDelivery([
        [messagesChange({ phoneNumberId: '1065', contacts: [sender], messages: [inboundMessage(sender, { type: 'text', text: { body: 'hi' } })] })],
        [messagesChange({ phoneNumberId: '1065', statuses: [{ id: messageIdFor('447700900000'), status: 'read', timestamp: unixSeconds(), recipient_id: sender.waId }] }), { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } }],
      ]),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.changes.map((c) => c.field)).toEqual(['messages', 'messages', 'other']);
    const first = parsed.changes[0]!;
    expect(first.field === 'messages' && first.value.messages?.[0]).toMatchObject({ type: 'text', from: '447700900123' });
  });

  it('leaves out what is not given: no contacts or messages in a statuses-only change, no profile for a sender without a name', () => {
    expect(messagesChange({ phoneNumberId: '1065', statuses: [] }).value).toEqual({ messaging_product: 'whatsapp', metadata: { display_phone_number: '447700900000', phone_number_id: '1065' }, statuses: [] });
    expect(contactOf({ waId: '447700900123' })).toEqual({ wa_id: '447700900123' });
    expect(webhookDelivery([])).toEqual({ object: 'whatsapp_business_account', entry: [] });
  });

  it("message ids are shaped like Meta's (they hold the number), distinct, or repeatable when a benchmark names them", () => {
    const id = messageIdFor('447700900123');
    expect(id).toMatch(/^wamid\.[A-Za-z0-9+/=]+$/);
    expect(Buffer.from(id.slice('wamid.'.length), 'base64').toString('latin1')).toContain('447700900123');
    expect(messageIdFor('447700900123')).not.toBe(id);
    expect(messageIdFor('447700900123', 'run-1-0001')).toBe(messageIdFor('447700900123', 'run-1-0001'));
  });
});
