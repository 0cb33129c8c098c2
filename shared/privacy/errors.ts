import { DecryptionError } from '../crypto/dataEncryption';
import { HubSpotError } from '../hubspot/hubspotClient';
import { MissingSecretError } from '../secrets/secretProvider';

/**
 * How a store step failed, in words an operator can act on and that hold no personal data: the
 * system, the operation and a status code or error class, never a request body or an SDK message
 * (an SDK message may quote the query or the document it was given).
 */
export type FailureKind = 'transient' | 'rate-limited' | 'permanent';

export class StoreError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface Failure {
  kind: FailureKind;
  reason: string;
  retryAfterMs?: number;
}

/** Runs one operation of a store and turns whatever it throws into a StoreError that says where. */
export async function step<T>(system: string, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const failure = describeFailure(error, system, operation);
    throw new StoreError(failure.kind, failure.reason, failure.retryAfterMs);
  }
}

export function describeFailure(error: unknown, system = 'Flowkeeper', operation = 'processing'): Failure {
  if (error instanceof StoreError) return { kind: error.kind, reason: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) };
  if (error instanceof HubSpotError) return { kind: error.kind, reason: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) };
  if (error instanceof MissingSecretError) return { kind: 'permanent', reason: error.message };
  if (error instanceof DecryptionError) return { kind: 'permanent', reason: `the subject reference cannot be decrypted (${error.message}): is DATA_ENCRYPTION_KEY_PREVIOUS set after a rotation?` };
  const e = error as { statusCode?: unknown; code?: unknown; name?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
  if (status !== undefined) {
    const kind: FailureKind = status === 429 ? 'rate-limited' : status >= 500 || status === 408 || status === 410 || status === 449 ? 'transient' : status === 403 || status === 401 ? 'permanent' : 'transient';
    return { kind, reason: `${system} answered ${status} on ${operation}` };
  }
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'an error';
  return { kind: 'transient', reason: `${system} failed on ${operation} (${code})` };
}
