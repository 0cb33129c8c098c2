import { describe, expect, it } from 'vitest';
import { DeadLetterError, InProcessQueue } from '../../shared/queue';
import { startHubSpotFake } from '../fakes/hubspot';
import { EVERY_STORE_PLACE, everyStore, phoneNeedles, sweepForPii } from '../support/piiSweep';
import { eventually, testServices } from '../support/testServices';

describe('the PII sweep (a clean result means something only if it finds what is there)', () => {
  it('finds a planted phone number, name or answer in every place it searches, and says where', async () => {
    const queue = new InProcessQueue();
    const services = await testServices({}, { queue });
    const hubspot = await startHubSpotFake();
    try {
      const phone = '+447700900777';
      const needles = [...phoneNeedles(phone), 'Ysolde Penhaligon', 'favourite-colour-teal'];
      expect(needles).toEqual(expect.arrayContaining(['+447700900777', '447700900777', '07700 900777', '07700900777']));
      expect(await sweepForPii(needles, { cosmos: services.cosmos.audit.database, blobs: [services.blobs.media], queue, hubspot, logs: [], telemetry: services.telemetry })).toEqual([]);

      await services.cosmos.audit.items.create({ id: 'leak', tenantId: 't', details: { note: 'call 07700 900777' } });
      const blob = services.blobs.media.getBlockBlobClient(`t/${Date.now()}/photo`);
      await blob.uploadData(Buffer.from('Ysolde Penhaligon on holiday'));
      await blob.createSnapshot();
      await blob.uploadData(Buffer.from('nothing personal'));
      // An access export left behind: the exports container is searched like the media one.
      await services.blobs.exports.getBlockBlobClient(`t/${Date.now()}/request.json`).uploadData(Buffer.from(JSON.stringify({ contact: { phone: '07700 900777' } })));
      await queue.send('hubspot-sync', { body: { note: 'favourite-colour-teal' } });
      await queue.send('erasure-tasks', { body: { phone: '447700900777' } });
      const stop = queue.subscribe('erasure-tasks', async () => {
        throw new DeadLetterError('Poison', 'with a phone number in the body');
      });
      await eventually(async () => (await queue.countDeadLetters('erasure-tasks')) === 1 || undefined);
      await stop();
      hubspot.addContact({ firstname: 'Ysolde', mobilephone: '07700900777' });
      services.telemetry.event('leaky', { who: 'Ysolde Penhaligon' });

      const searched: string[] = [];
      const hits = await sweepForPii(needles, {
        ...everyStore({ ...services, queue }),
        hubspot,
        logs: ['[fn] information: ok', '[fn] error: could not reach +447700900777'],
        telemetry: services.telemetry,
        searched,
      });
      expect(searched).toEqual(expect.arrayContaining(EVERY_STORE_PLACE));
      const places = new Set(hits.map((h) => h.location.replace(/\/.*$/, '').replace(/:\d+$/, '')));
      expect([...places].sort()).toEqual(['blob:exports', 'blob:media', 'cosmos:audit', 'dead-letter:erasure-tasks', 'hubspot:contact', 'log', 'queue:hubspot-sync', 'telemetry:event'].sort());
      expect(hits.some((h) => h.location.includes('@snapshot='))).toBe(true); // found in the snapshot only
      expect(hits.find((h) => h.location.startsWith('log'))).toEqual({ location: 'log:1', needle: '+447700900777' });
    } finally {
      await hubspot.close();
      await services.close();
    }
  });
});
