import { describe, expect, it } from 'vitest';
import { wamid } from '../fixtures/whatsapp/payloads';
import { phoneNeedles } from '../support/piiSweep';
import { testServices } from '../support/testServices';
import { base64Forms, captureConsole, sweep } from './support/sweep';

describe("the proof's PII sweep extension (a clean result means something only if it finds what is there)", () => {
  it('finds a phone number hidden in a WhatsApp message id, a base64 body, and a console line; the allow rule keeps only what it permits', async () => {
    const services = await testServices();
    const output = captureConsole();
    try {
      const phone = '447700900731';
      const name = 'Lowenna Chenoweth';
      const needles = [...phoneNeedles(phone), name];
      expect(await sweep(needles, { cosmos: services.cosmos.audit.database, console: output.lines })).toEqual([]);

      // Meta's message ids are base64 with the sender's number inside: a leak a plain-text search misses.
      await services.cosmos.audit.items.create({ id: 'leaky-wamid', tenantId: 't', details: { messageId: wamid(phone) } });
      await services.cosmos.markers.items.create({ id: 'leaky-body', pk: 'p', data: Buffer.from(JSON.stringify({ from: `+${phone}` })).toString('base64') });
      await services.cosmos.subjects.items.create({ id: 'contact', pk: `t|${phone}`, profileName: name });
      console.log(`processing a message from ${name}`);

      const hits = await sweep(needles, { cosmos: services.cosmos.audit.database, console: output.lines });
      expect(hits).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ location: 'cosmos:audit/leaky-wamid', original: `${phone} (base64)` }),
          expect.objectContaining({ location: 'cosmos:markers/leaky-body', original: `+${phone} (base64)` }),
          expect.objectContaining({ location: 'cosmos:subjects/contact', original: name }),
          expect.objectContaining({ location: expect.stringMatching(/^log:\d+$/), original: name }),
        ]),
      );
      const allowed = await sweep(needles, { cosmos: services.cosmos.audit.database }, (hit) => hit.location.startsWith('cosmos:subjects/'));
      expect([...new Set(allowed.map((h) => h.location))].sort()).toEqual(['cosmos:audit/leaky-wamid', 'cosmos:markers/leaky-body']);
    } finally {
      output.stop();
      await services.close();
    }
  });

  it('a needle is found in base64 at every byte alignment', () => {
    const needle = '447700900731';
    for (const prefix of ['', 'x', 'xy', 'xyz']) {
      const encoded = Buffer.from(`${prefix}${needle}!`).toString('base64');
      expect(base64Forms(needle).some((form) => encoded.includes(form))).toBe(true);
    }
  });
});
