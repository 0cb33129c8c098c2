import { DecryptionError } from '../crypto/dataEncryption';
import { classifyFailure, STORE_NAMES, storeNamed, type Store } from '../failures';

/**
 * How a store step failed, in words an operator can act on and that hold no personal data: the
 * system, the operation and a status code or error class, never a request body or an SDK message
 * (an SDK message may quote the query or the document it was given). The class comes from the one
 * failure classifier (shared/failures); a store that answers "not found" to a step it needs is a
 * permanent failure here (the eraser treats the 404s it expects itself).
 */
export type FailureKind = 'transient' | 'throttled' | 'permanent';

export class StoreError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly retryAfterMs?: number,
    /** The store that failed, when known: a failed direct request names it as `failure.store`. */
    readonly store?: Store,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface Failure {
  kind: FailureKind;
  reason: string;
  retryAfterMs?: number;
  store?: Store;
}

/** Runs one operation of a store and turns whatever it throws into a StoreError that says where. */
export async function step<T>(system: string, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const failure = describeFailure(error, system, operation);
    throw new StoreError(failure.kind, failure.reason, failure.retryAfterMs, failure.store);
  }
}

export function describeFailure(error: unknown, system = 'Flowkeeper', operation = 'processing'): Failure {
  if (error instanceof StoreError) {
    return { kind: error.kind, reason: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}), ...(error.store ? { store: error.store } : {}) };
  }
  if (error instanceof DecryptionError) return { kind: 'permanent', reason: `the subject reference cannot be decrypted (${error.message}): is DATA_ENCRYPTION_KEY_PREVIOUS set after a rotation?` };
  const failure = classifyFailure(error);
  const kind: FailureKind = failure.class === 'not-found' ? 'permanent' : failure.class;
  const store = failure.store ?? storeNamed(system);
  // The store's own name when the error says which, else the system the caller named.
  const who = failure.store && !storeNamed(system) ? STORE_NAMES[failure.store] : system;
  // A reason Flowkeeper wrote itself (the HubSpot client, a missing secret) holds no personal data; an SDK's does not count.
  const reason = failure.reason ?? (failure.status !== undefined ? `${who} answered ${failure.status} on ${operation}` : `${who} failed on ${operation} (${failure.code ?? failure.detail})`);
  return { kind, reason, ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}), ...(store ? { store } : {}) };
}
