import { randomBytes } from 'node:crypto';
import { SettingsSecretProvider } from '../../shared/secrets';
import type { Tenant } from '../../shared/tenants';
import { receiveWebhook, signBody, type PrivacyRequestCall, type WebhookDeps } from '../../shared/whatsapp';
import { ManualClock, RecordingTelemetry } from './clockAndTelemetry';
import { InMemoryAudit, InMemoryIdentityLinks, InMemoryMarkers, InMemoryTenants, RecordingQueue } from './stores';
import { InMemorySubjectStore } from './subjectStore';

export interface WebhookWorldOptions<S extends InMemorySubjectStore> {
  tenant: Tenant;
  clock?: ManualClock;
  /** A store that stalls or fails on purpose; a plain in-memory one by default. */
  subjects?: S;
  appSecret?: string;
  subjectHashKey?: string;
  dataKey?: string;
  /** Replaces the no-op wait (for example one that moves the manual clock on). */
  sleep?: (ms: number) => Promise<void>;
  maxBytes?: number;
}

/**
 * The webhook use case over in-memory stores, for unit tests of its logic: `post` signs a payload as
 * Meta does and hands it to `receiveWebhook`; `privacyCalls` records the privacy requests it asked for.
 */
export function inMemoryWebhookWorld<S extends InMemorySubjectStore = InMemorySubjectStore>(options: WebhookWorldOptions<S>) {
  const clock = options.clock ?? new ManualClock(new Date());
  const appSecret = options.appSecret ?? 'unit-app-secret';
  const subjectHashKey = options.subjectHashKey ?? 'unit-subject-hash-key-0123456789abcdef012345';
  const dataKey = options.dataKey ?? randomBytes(32).toString('base64');
  const privacyCalls: PrivacyRequestCall[] = [];
  /** Media files the webhook deleted (a revoke). */
  const deletedFiles: string[] = [];
  const subjects = options.subjects ?? (new InMemorySubjectStore() as S);
  const deps = {
    secrets: new SettingsSecretProvider({ WHATSAPP_APP_SECRET: appSecret, SUBJECT_HASH_KEY: subjectHashKey, DATA_ENCRYPTION_KEY: dataKey }),
    tenants: new InMemoryTenants([options.tenant]),
    subjects,
    links: new InMemoryIdentityLinks(),
    markers: new InMemoryMarkers(clock),
    media: { deleteFile: async (name: string) => void deletedFiles.push(name) },
    audit: new InMemoryAudit(clock),
    queue: new RecordingQueue(),
    clock,
    sleep: options.sleep ?? (async () => undefined),
    telemetry: new RecordingTelemetry(),
    requestPrivacy: async (input: PrivacyRequestCall) => {
      privacyCalls.push(input);
      return { id: `pr-${privacyCalls.length}` };
    },
  } satisfies WebhookDeps;
  const post = (payload: unknown) => {
    const body = Buffer.from(JSON.stringify(payload));
    return receiveWebhook(deps, { body, signature: signBody(appSecret, body), maxBytes: options.maxBytes ?? 1 << 20 });
  };
  return { clock, deps, subjects, privacyCalls, deletedFiles, post };
}
