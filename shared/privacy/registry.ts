import type { SubjectRef } from './ports';
import type { SubjectDocumentType } from '../subjects/documents';
import type { Retention, Tenant } from '../tenants/tenant';
import type { ErasureScope, TaskStore } from './privacyRequest';

/**
 * The map of personal data, as code (compare Fides' dataset annotations). Every store that can hold
 * personal data is declared here once, with what it holds, how long, and how a subject's records are
 * exported, erased and verified gone. The erasure planner, the access export and the account
 * cancellation read this registry; test/privacy/registry.test.ts fails when a store, or a document
 * type of the subject partition, lacks any of the four.
 */
export type DataCategory =
  | 'phone-number'
  | 'profile-name'
  | 'flow-answers'
  | 'message-content'
  | 'media'
  | 'consent'
  | 'processing-flags'
  | 'crm-contact'
  | 'access-export';

/**
 * Who a store step is about: the person, by every identifier hash (`subjectHashes`), and the identifier
 * the request names, which only lives in memory for the step (decrypted from the request).
 */
export interface SubjectContext extends SubjectRef {
  tenant: Tenant;
  /** When the request was received (ISO 8601): a rate-limited store serves older requests first. */
  requestedAt?: string;
}

export interface ErasureOutcome {
  found: number;
  deleted: number;
  /** Store-side ids of what was erased, when verification needs them (HubSpot contact ids). */
  refs?: string[];
}

export interface PersonalDataStore {
  name: TaskStore;
  description: string;
  holds: readonly DataCategory[];
  /** How long data lives there and what removes it. */
  retention: string;
  /** The erasure scopes that reach this store. */
  scopes: readonly ErasureScope[];
  /** Why the store does not apply to this tenant (a task is then done with 0), or undefined. */
  notApplicable(tenant: Tenant): string | undefined;
  /**
   * Optional: a cheap check, from the keyed hash alone, that the store holds nothing for the subject.
   * The planner then records the task as done with 0 instead of fanning out a message for it (the
   * verification pass still reads the store).
   */
  holdsNothing?(subject: Pick<SubjectContext, 'tenantId' | 'subjectHash' | 'subjectHashes'>): Promise<boolean>;
  exportSubject(subject: SubjectContext): Promise<{ records: number; data: unknown }>;
  eraseSubject(subject: SubjectContext, scope: ErasureScope): Promise<ErasureOutcome>;
  /** What is still there for the subject in this scope (0 = verified gone). `refs` are what the erasure reported. */
  verifyErased(subject: SubjectContext, scope: ErasureScope, refs?: readonly string[]): Promise<number>;
}

/**
 * The document types of a subject's Cosmos partition, each with what it holds, its lifetime and the
 * erasure scopes that remove it. Typed as a Record over SUBJECT_DOCUMENT_TYPES: a new type that is not
 * declared here does not compile (and the registry test names it).
 */
export interface DocumentPolicy {
  holds: readonly DataCategory[];
  retention: (retention: Retention) => string;
  scopes: readonly ErasureScope[];
}

export const SUBJECT_DOCUMENT_POLICIES: Record<SubjectDocumentType, DocumentPolicy> = {
  contact: {
    holds: ['phone-number', 'profile-name', 'processing-flags'],
    retention: (r) => `per-item ttl ${r.contactDays} days after the last activity`,
    scopes: ['all'],
  },
  flowResponse: {
    holds: ['phone-number', 'flow-answers'],
    retention: (r) => `per-item ttl ${r.flowResponseDays} days`,
    scopes: ['all', 'flow_responses'],
  },
  message: {
    holds: ['phone-number', 'message-content'],
    retention: (r) => `per-item ttl ${r.messageDays} days (encrypted mode; hubspot mode until HubSpot confirms)`,
    scopes: ['all', 'messages'],
  },
  mediaRef: {
    holds: ['phone-number', 'media'],
    retention: (r) => `per-item ttl ${r.mediaDays} days`,
    scopes: ['all', 'media'],
  },
  consent: {
    holds: ['phone-number', 'consent'],
    retention: (r) => `per-item ttl ${r.contactDays} days`,
    scopes: ['all', 'marketing'],
  },
};

/** The subject document types an erasure of `scope` removes. */
export function documentTypesFor(scope: ErasureScope): SubjectDocumentType[] {
  return (Object.entries(SUBJECT_DOCUMENT_POLICIES) as [SubjectDocumentType, DocumentPolicy][])
    .filter(([, policy]) => policy.scopes.includes(scope))
    .map(([type]) => type);
}

export class StoreRegistry {
  private readonly byName: Map<TaskStore, PersonalDataStore>;

  constructor(readonly stores: readonly PersonalDataStore[]) {
    this.byName = new Map(stores.map((s) => [s.name, s]));
  }

  get(name: TaskStore): PersonalDataStore {
    const store = this.byName.get(name);
    if (!store) throw new Error(`no personal-data store named ${name} in the registry`);
    return store;
  }

  /** The stores an erasure of `scope` has a task for (applicable or not: a task says why not). */
  storesFor(scope: ErasureScope): PersonalDataStore[] {
    return this.stores.filter((s) => s.scopes.includes(scope));
  }
}
