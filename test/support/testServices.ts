import { randomBytes, randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { InProcessQueue } from '../../shared/queue';
import { createServices, type ServiceOverrides, type Services } from '../../shared/runtime';
import { RecordingTelemetry } from '../doubles';

/** Settings for a test: the real emulators from the global setup, a database of its own. */
export function testEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    WHATSAPP_APP_SECRET: 'test-app-secret',
    WHATSAPP_VERIFY_TOKEN: 'test-verify-token',
    WHATSAPP_ACCESS_TOKEN: 'test-graph-token',
    SUBJECT_HASH_KEY: 'test-subject-hash-key-0123456789abcdef0123',
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COSMOS_CONNECTION: inject('cosmosConnection'),
    COSMOS_DATABASE: `test-${randomUUID().slice(0, 8)}`,
    MEDIA_STORAGE: inject('blobConnection'),
    LOCAL_DEV_AUTH: 'true',
    ...extra,
  };
}

export interface TestServices extends Services {
  queue: InProcessQueue;
  telemetry: RecordingTelemetry;
}

/** Real Cosmos and Blob adapters on the emulators, an in-process queue, recorded telemetry. */
export async function testServices(
  extra: Record<string, string | undefined> = {},
  overrides: ServiceOverrides & { queue?: InProcessQueue } = {},
): Promise<TestServices> {
  const queue = overrides.queue ?? new InProcessQueue({ clock: overrides.clock });
  const telemetry = new RecordingTelemetry();
  const services = await createServices(testEnv(extra), { telemetry, ...overrides, queue });
  return { ...services, queue, telemetry };
}

/** A tenant id no other test uses (the emulators are shared by every test file). */
export function uniqueTenantId(prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
