import { describe, expect, it } from 'vitest';
import { identifierHashOf, identifierOf, normaliseUserId, subjectHashOf, type SubjectHash, type TenantId, type WaId } from '../../shared/domain';
import { closure, linkIdentifiers, markPerson, personMarker, spreadPersonMarkers, unmarkPerson } from '../../shared/identity';
import { senderOf } from '../../shared/whatsapp/sender';
import { InMemoryAudit, InMemoryIdentityLinks, InMemoryMarkers, ManualClock } from '../doubles';

const TENANT = 'acme' as TenantId;
const h = (n: number) => String(n).padStart(64, '0') as SubjectHash;

function world() {
  const clock = new ManualClock(new Date('2026-12-01T10:00:00Z'));
  const links = new InMemoryIdentityLinks();
  const markers = new InMemoryMarkers(clock);
  const audit = new InMemoryAudit(clock);
  return { clock, links, markers, audit, deps: { links, markers, audit } };
}

describe('identifiers', () => {
  it('a wa_id hashes as it did before BSUIDs; a BSUID never hashes like a phone number', () => {
    const key = 'k'.repeat(32);
    expect(identifierHashOf(key, TENANT, { kind: 'waId', value: '447700900123' as WaId })).toBe(subjectHashOf(key, TENANT, '447700900123' as WaId));
    expect(identifierHashOf(key, TENANT, identifierOf('GB.13491208655302741918')!)).not.toBe(subjectHashOf(key, TENANT, '447700900123' as WaId));
  });

  it('reads digits as a phone number and CC.… as a BSUID, byte for byte; anything else is neither', () => {
    expect(identifierOf('+44 7700 900123')).toEqual({ kind: 'waId', value: '447700900123' });
    expect(identifierOf('US.ENT.11815799212886844830')).toEqual({ kind: 'userId', value: 'US.ENT.11815799212886844830' });
    expect(identifierOf('gb.AbC123')).toEqual({ kind: 'userId', value: 'gb.AbC123' });
    for (const bad of ['', 'GB.', 'GB-123', 'GBR.123', `GB.${'1'.repeat(129)}`, 'hello']) expect(identifierOf(bad)).toBeUndefined();
    expect(normaliseUserId(' GB.1 ')).toBe('GB.1');
  });

  it('a sender is every identifier Meta sent: an empty or missing phone number is absent, the contact block fills what the message lacks', () => {
    expect(senderOf({ from_user_id: 'GB.1' }, [{ user_id: 'GB.1', profile: { name: 'Priya', username: 'priya' } }])).toEqual({ primary: { kind: 'userId', value: 'GB.1' }, identifiers: [{ kind: 'userId', value: 'GB.1' }], profileName: 'Priya' });
    expect(senderOf({ from: '', from_user_id: 'GB.1' }, [{ wa_id: '', user_id: 'GB.1' }])?.identifiers).toEqual([{ kind: 'userId', value: 'GB.1' }]);
    expect(senderOf({ from: '447700900123' }, [{ wa_id: '447700900123', user_id: 'GB.2' }])?.identifiers).toEqual([
      { kind: 'waId', value: '447700900123' },
      { kind: 'userId', value: 'GB.2' },
    ]);
    expect(senderOf({ from_user_id: 'GB.3', from_parent_user_id: 'GB.ENT.9' })?.identifiers.map((i) => i.value)).toEqual(['GB.3', 'GB.ENT.9']);
    expect(senderOf({ from: 'not a number' })).toBeUndefined();
  });
});

describe('the person: identity links and person markers', () => {
  it('the closure follows links through any number of identifiers, and stops at a bound', async () => {
    const w = world();
    await linkIdentifiers(w.deps, TENANT, [h(1), h(2)], 'contact');
    await linkIdentifiers(w.deps, TENANT, [h(2), h(3)], 'user_changed_number');
    await linkIdentifiers(w.deps, TENANT, [h(3), h(4)], 'user_id_update');
    expect((await closure(w.links, TENANT, [h(4)])).sort()).toEqual([h(1), h(2), h(3), h(4)]);
    expect(await closure(w.links, 'other' as TenantId, [h(4)])).toEqual([h(4)]);
    for (let i = 10; i < 100; i++) await w.links.addLinks(TENANT, h(i), [h(i + 1)]);
    expect((await closure(w.links, TENANT, [h(10)])).length).toBe(64);
  });

  it('a link is audited once per pair by keyed hashes only, and linking again changes nothing', async () => {
    const w = world();
    expect(await linkIdentifiers(w.deps, TENANT, [h(1), h(2), h(1)], 'contact')).toEqual({ linked: 1 });
    expect(await linkIdentifiers(w.deps, TENANT, [h(2), h(1)], 'contact')).toEqual({ linked: 0 });
    const events = w.audit.events.filter((e) => e.type === 'identity.linked');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subjectHash: h(1), details: { linkedTo: h(2), cause: 'contact' } });
  });

  it('a person marker is written under every identifier, and a link made later spreads markers and tombstones to the new identifier', async () => {
    const w = world();
    await linkIdentifiers(w.deps, TENANT, [h(1), h(2)], 'contact');
    expect(await markPerson(w.deps, TENANT, [h(1)], 'suppression', { ttlSeconds: -1, data: { since: 'x' } })).toHaveLength(2);
    await w.markers.put('tombstone', TENANT, h(2), { ttlSeconds: -1, data: { erasedAt: '2026-12-01T09:00:00.000Z' } });
    expect(await w.markers.get('suppression', TENANT, h(2))).toBeDefined();
    // A number change: h(3) is new. Both markers follow.
    await linkIdentifiers(w.deps, TENANT, [h(2), h(3)], 'user_changed_number');
    expect(await w.markers.get('suppression', TENANT, h(3))).toBeDefined();
    expect((await w.markers.get('tombstone', TENANT, h(3)))?.data?.erasedAt).toBe('2026-12-01T09:00:00.000Z');
    expect(await personMarker(w, TENANT, [h(3)], 'tombstone')).toBeDefined();
    // START lifts the suppression for the whole person.
    await unmarkPerson(w.deps, TENANT, [h(3)], 'suppression');
    for (const hash of [h(1), h(2), h(3)]) expect(await w.markers.get('suppression', TENANT, hash)).toBeUndefined();
  });

  it('a marker written while a link is made concurrently ends up under every identifier either way', async () => {
    for (let round = 0; round < 20; round++) {
      const w = world();
      await linkIdentifiers(w.deps, TENANT, [h(1), h(2)], 'contact');
      await Promise.all([
        markPerson(w.deps, TENANT, [h(1)], 'tombstone', { ttlSeconds: -1, data: { erasedAt: '2026-12-01T10:00:00.000Z' } }),
        linkIdentifiers(w.deps, TENANT, [h(2), h(3)], 'user_changed_number'),
      ]);
      for (const hash of [h(1), h(2), h(3)]) expect(await w.markers.get('tombstone', TENANT, hash)).toBeDefined();
    }
  });

  it('spreading keeps the newest marker: an older one does not overwrite a newer one', async () => {
    const w = world();
    await w.links.addLinks(TENANT, h(1), [h(2)]);
    await w.links.addLinks(TENANT, h(2), [h(1)]);
    await w.markers.put('tombstone', TENANT, h(1), { ttlSeconds: -1, data: { erasedAt: '2026-11-01T00:00:00.000Z' } });
    await w.markers.put('tombstone', TENANT, h(2), { ttlSeconds: -1, data: { erasedAt: '2026-12-01T00:00:00.000Z' } });
    await spreadPersonMarkers(w, TENANT, [h(1)]);
    expect((await w.markers.get('tombstone', TENANT, h(1)))?.data?.erasedAt).toBe('2026-12-01T00:00:00.000Z');
    expect((await w.markers.get('tombstone', TENANT, h(2)))?.data?.erasedAt).toBe('2026-12-01T00:00:00.000Z');
  });
});
