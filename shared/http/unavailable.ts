import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { classifyFailure, isOutage, STORE_NAMES } from '../failures';
import { errorResponse } from './responses';

/**
 * A backing service that is down, throttling or timing out is the caller's "try again in a bit", not a
 * bug: an admin route answers 503 with `retry-after` and names the service, instead of letting the
 * error escape to the host (a 500 with no hint). Anything else is rethrown and stays a 500. Which errors
 * are outages is decided by the one failure classifier (shared/failures).
 */
export type Dependency = (typeof STORE_NAMES)[keyof typeof STORE_NAMES];

export interface Outage {
  /** The service that failed, when the error says which; undefined when it cannot be told. */
  dependency?: Dependency;
  /** For the log: the error's class and status or code, never its message (an SDK message may quote data). */
  kind: string;
  retryAfterSeconds: number;
}

export const DEFAULT_RETRY_AFTER_SECONDS = 30;
const MAX_RETRY_AFTER_SECONDS = 3600;

/**
 * Wraps an HTTP handler: a dependency outage thrown from it becomes 503 + `retry-after` with
 * `{error:{message:"<dependency> is unavailable, retry later"}}`; any other error is rethrown.
 */
export function answer503OnOutage(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      const outage = outageOf(error);
      if (!outage) throw error;
      context.warn(`${unavailableSubject(outage)} unavailable (${outage.kind}): answered 503, retry after ${outage.retryAfterSeconds} s`);
      return unavailableResponse(outage);
    }
  };
}

export function unavailableResponse(outage: Outage): HttpResponseInit {
  return {
    ...errorResponse(503, `${unavailableSubject(outage)} is unavailable, retry later`),
    headers: { 'retry-after': String(outage.retryAfterSeconds) },
  };
}

/** The outage an error reports (a transient or throttled failure of a recognised kind); undefined for anything else. */
export function outageOf(error: unknown): Outage | undefined {
  const failure = classifyFailure(error);
  if (!isOutage(failure)) return undefined;
  const retryAfterMs = failure.retryAfterMs;
  const retryAfterSeconds = retryAfterMs !== undefined ? Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(retryAfterMs / 1000))) : DEFAULT_RETRY_AFTER_SECONDS;
  return { ...(failure.store ? { dependency: STORE_NAMES[failure.store] } : {}), kind: failure.detail, retryAfterSeconds };
}

function unavailableSubject(outage: Outage): string {
  return outage.dependency ?? 'a backing service';
}
