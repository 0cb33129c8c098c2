import { readDeadLetterCounts } from '../queue/deadLetterReader';
import type { DeadLetterStore, QueueName } from '../queue/queuePort';
import type { SecretProvider } from '../secrets/secretProvider';

export interface DependencyStatus {
  status: 'up' | 'down';
  latencyMs: number;
  /** What failed, in words that hold no secret (an error class or status code). */
  error?: string;
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  dependencies: Record<'cosmos' | 'blob' | 'queue' | 'secrets', DependencyStatus>;
  deadLetters: Partial<Record<QueueName, number>>;
}

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: describe(error) };
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  const e = error as { statusCode?: number; code?: string | number; name?: string; message?: string };
  if (e.statusCode) return `HTTP ${e.statusCode}`;
  if (e.code) return String(e.code);
  return e.message ?? e.name ?? 'unknown error';
}

/** Each dependency's reachability, and the dead-letter count of every queue (operators alert on it). */
export async function checkHealth(deps: {
  /** One cheap read of each store (the composition root points them at a container each). */
  probes: { cosmos: () => Promise<unknown>; blob: () => Promise<unknown> };
  queue: Pick<DeadLetterStore, 'countDeadLetters'>;
  secrets: SecretProvider;
  timeoutMs?: number;
}): Promise<HealthReport> {
  const timeout = deps.timeoutMs ?? 5000;
  let deadLetters: Partial<Record<QueueName, number>> = {};
  const [cosmos, blob, queue, secrets] = await Promise.all([
    probe(deps.probes.cosmos, timeout),
    probe(deps.probes.blob, timeout),
    probe(async () => {
      // The queue is up when every dead-letter count can be read; the first failure says why it is not.
      const failures: unknown[] = [];
      const counts = await readDeadLetterCounts(deps.queue, (_queue, error) => failures.push(error));
      deadLetters = counts.queues;
      if (failures.length > 0) throw failures[0];
    }, timeout),
    probe(() => deps.secrets.get('SUBJECT_HASH_KEY').then((v) => {
      if (v === undefined) throw new Error('SUBJECT_HASH_KEY is not set');
    }), timeout),
  ]);
  const dependencies = { cosmos, blob, queue, secrets };
  const healthy = Object.values(dependencies).every((d) => d.status === 'up');
  return { status: healthy ? 'healthy' : 'unhealthy', dependencies, deadLetters };
}
