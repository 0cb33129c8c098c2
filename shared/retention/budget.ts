/**
 * How long a paged job may keep going in one invocation. Measured on a monotonic clock, not the
 * application's `Clock`: tests move the application clock by days, and the Functions timeout is real time.
 */
export interface TimeBudget {
  exhausted(): boolean;
  elapsedMs(): number;
}

export function timeBudget(ms: number, monotonic: () => number = () => performance.now()): TimeBudget {
  const started = monotonic();
  return {
    exhausted: () => monotonic() - started >= ms,
    elapsedMs: () => Math.round(monotonic() - started),
  };
}

/** Runs `work` over `items` with at most `limit` in flight; the first failure rejects once the others settle. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
