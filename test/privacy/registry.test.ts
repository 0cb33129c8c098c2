import { describe, expect, it } from 'vitest';
import { documentTypesFor, ERASURE_SCOPES, STORE_NAMES, SUBJECT_DOCUMENT_POLICIES, TASK_STORES, type PersonalDataStore } from '../../shared/privacy';
import { SUBJECT_DOCUMENT_TYPES } from '../../shared/subjects';
import { testServices } from '../support/testServices';
import { buildPrivacyDeps } from '../../shared/runtime';

const RIGHTS = ['exportSubject', 'eraseSubject', 'verifyErased'] as const;

describe('the store registry (the map of personal data)', () => {
  it('every store that holds personal data declares what it holds, its retention, and how to export, erase and verify', async () => {
    const services = await testServices();
    try {
      const { registry } = buildPrivacyDeps(services);
      const missing: string[] = [];
      for (const store of registry.stores as PersonalDataStore[]) {
        if (store.holds.length === 0) missing.push(`${store.name}: holds`);
        if (!store.retention.trim()) missing.push(`${store.name}: retention`);
        if (!store.description.trim()) missing.push(`${store.name}: description`);
        if (store.scopes.length === 0) missing.push(`${store.name}: scopes`);
        for (const right of RIGHTS) if (typeof store[right] !== 'function') missing.push(`${store.name}: ${right}`);
      }
      expect(missing).toEqual([]);
      // Every store an erasure can fan out to is in the registry, and nothing else is.
      expect(registry.stores.map((s) => s.name).sort()).toEqual([...TASK_STORES].sort());
      expect(STORE_NAMES.every((name) => registry.get(name))).toBe(true);
      // Every scope reaches at least the Cosmos partition; `all` reaches every store.
      for (const scope of ERASURE_SCOPES) expect(registry.storesFor(scope).map((s) => s.name)).toContain('cosmos');
      expect(registry.storesFor('all')).toHaveLength(registry.stores.length);
    } finally {
      await services.close();
    }
  });

  it('every document type of the subject partition is declared with what it holds, its retention and the scopes that erase it', () => {
    const undeclared = SUBJECT_DOCUMENT_TYPES.filter((type) => {
      const policy = SUBJECT_DOCUMENT_POLICIES[type] as (typeof SUBJECT_DOCUMENT_POLICIES)[typeof type] | undefined;
      return !policy || policy.holds.length === 0 || policy.scopes.length === 0 || !policy.retention({ contactDays: 1, flowResponseDays: 1, messageDays: 1, mediaDays: 1, exportDays: 1 });
    });
    expect(undeclared).toEqual([]);
    // `all` erases every type; each partial scope erases exactly its own types.
    expect(documentTypesFor('all').sort()).toEqual([...SUBJECT_DOCUMENT_TYPES].sort());
    expect(documentTypesFor('messages')).toEqual(['message']);
    expect(documentTypesFor('media')).toEqual(['mediaRef']);
    expect(documentTypesFor('flow_responses')).toEqual(['flowResponse']);
    expect(documentTypesFor('marketing')).toEqual(['consent']);
  });
});
