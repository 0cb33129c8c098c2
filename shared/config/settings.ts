import { z } from 'zod';
import { ncrontabProblem } from './ncrontab';
import { azurePlatformMarker } from './platform';

/**
 * Every app setting Flowkeeper reads, validated once at start-up. The names are part of the external
 * contract (README.md, "Settings"): deployment and outside tests set them.
 */

/** An unresolved Key Vault reference leaves its literal text in the setting: that is a missing value. */
const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

/** Secrets, read through the secret provider: from Key Vault when KEY_VAULT_URL is set, else from here. */
export const SECRET_NAMES = [
  'WHATSAPP_APP_SECRET',
  'WHATSAPP_APP_SECRET_PREVIOUS',
  'WHATSAPP_VERIFY_TOKEN',
  'WHATSAPP_ACCESS_TOKEN',
  'FLOWS_PRIVATE_KEY',
  'FLOWS_PRIVATE_KEY_PASSPHRASE',
  'SUBJECT_HASH_KEY',
  'DATA_ENCRYPTION_KEY',
  'DATA_ENCRYPTION_KEY_PREVIOUS',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/** Secrets without which the app cannot do its job; the others are optional. */
const REQUIRED_SECRETS: readonly SecretName[] = [
  'WHATSAPP_APP_SECRET',
  'WHATSAPP_VERIFY_TOKEN',
  'SUBJECT_HASH_KEY',
  'DATA_ENCRYPTION_KEY',
];

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const url = (fallback?: string) =>
  optionalText
    .pipe(z.union([z.undefined(), z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })]))
    .transform((value) => (value ?? fallback) as string);

const bool = optionalText.pipe(
  z.union([z.undefined(), z.enum(['true', 'false'], { error: 'must be "true" or "false"' })]),
);

/** Six-field NCRONTAB (seconds first, UTC), read as the Functions host reads it (./ncrontab.ts). */
const ncrontab = (fallback: string) =>
  optionalText
    .pipe(
      z.union([
        z.undefined(),
        z.string().superRefine((value, ctx) => {
          const problem = ncrontabProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      ]),
    )
    .transform((value) => value ?? fallback);

const integer = (min: number, max: number, fallback: number) =>
  optionalText
    .pipe(z.union([z.undefined(), z.string().regex(/^\d+$/, 'must be a whole number')]))
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const secretText = optionalText.refine((value) => value === undefined || !value.startsWith(KEY_VAULT_REFERENCE), {
  message: 'is an unresolved Key Vault reference (check the app identity has the Key Vault Secrets User role)',
});

const settingsShape = {
  WHATSAPP_APP_SECRET: secretText,
  WHATSAPP_APP_SECRET_PREVIOUS: secretText,
  WHATSAPP_VERIFY_TOKEN: secretText,
  WHATSAPP_ACCESS_TOKEN: secretText,
  FLOWS_PRIVATE_KEY: secretText.refine((v) => v === undefined || v.includes('PRIVATE KEY-----'), {
    message: 'must be a PEM private key',
  }),
  FLOWS_PRIVATE_KEY_PASSPHRASE: secretText,
  SUBJECT_HASH_KEY: secretText.refine((v) => v === undefined || v.length >= 32, {
    message: 'must be at least 32 characters (a random key, not a word)',
  }),
  DATA_ENCRYPTION_KEY: secretText.refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, {
    message: 'must be 32 random bytes, base64-encoded (openssl rand -base64 32)',
  }),
  DATA_ENCRYPTION_KEY_PREVIOUS: secretText.refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, {
    message: 'must be 32 random bytes, base64-encoded',
  }),
  GRAPH_API_BASE_URL: url('https://graph.facebook.com/v23.0'),
  HUBSPOT_API_BASE_URL: url('https://api.hubapi.com'),
  /** HubSpot's burst limit of the tenants' tier: 100 (Free/Starter), 190 (Professional/Enterprise), 250 (API limit increase). */
  HUBSPOT_REQUESTS_PER_TEN_SECONDS: integer(1, 10_000, 100),
  KEY_VAULT_URL: url(),
  LOCAL_DEV_AUTH: bool.transform((v) => v === 'true'),
  /**
   * Set by App Service itself (`True` when App Service Authentication is on, which strips any client-sent
   * `x-ms-client-principal`): read as given, never rejected, since the platform owns its spelling.
   */
  WEBSITE_AUTH_ENABLED: optionalText.transform((v) => v?.toLowerCase() === 'true'),

  COSMOS_CONNECTION: secretText,
  COSMOS_CONNECTION__accountEndpoint: url(),
  COSMOS_DATABASE: optionalText.transform((v) => v ?? 'flowkeeper'),
  MEDIA_STORAGE: secretText,
  MEDIA_STORAGE__blobServiceUri: url(),
  SERVICEBUS_CONNECTION: secretText,
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: optionalText,

  RETENTION_SCHEDULE: ncrontab('0 30 2 * * *'),
  RECONCILER_SCHEDULE: ncrontab('0 */1 * * * *'),
  /** The deadline watch (privacy deadlines, dead-letter counts): hourly at :15 by default. */
  DEADLINE_WATCH_SCHEDULE: ncrontab('0 15 * * * *'),
  DEADLINE_ALERT_DAYS: integer(1, 60, 7),
  /**
   * The erasure drill's timer (docs/operations.md, "Erasure drills"): unset (the default, and locally) means no
   * timer; Azure sets it daily. Drills run for the tenants that opted in (`drills.enabled`).
   */
  ERASURE_DRILL_SCHEDULE: optionalText.pipe(
    z.union([
      z.undefined(),
      z.string().superRefine((value, ctx) => {
        const problem = ncrontabProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    ]),
  ),
  /** A drill slower than this (planting to verified) is reported `slow` (privacy.drill.slow). */
  ERASURE_DRILL_TARGET_SECONDS: integer(1, 3600, 120),
  /** A drill stops waiting for its erasure after this long and is `failed` (under the 230 s an HTTP call may take). */
  ERASURE_DRILL_TIMEOUT_SECONDS: integer(5, 600, 180),
  SECRET_CACHE_SECONDS: integer(0, 86_400, 300),
  /**
   * Largest accepted body of the webhook and the Flows endpoint (413 above). Meta: "Webhooks payloads can
   * be up to 3MB" (docs/research/meta-identity-2026.md, M6); whether that is 3,000,000 or 3,145,728 bytes
   * is not said, so the default is the larger reading, 3 MiB.
   */
  MAX_WEBHOOK_BYTES: integer(1024, 10_485_760, 3_145_728),
};

const settingsSchema = z.object(settingsShape).superRefine((s, ctx) => {
  if (s.KEY_VAULT_URL === undefined) {
    for (const name of REQUIRED_SECRETS) {
      if (s[name] === undefined) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'is required (or set KEY_VAULT_URL to read it from Key Vault)' });
      }
    }
  }
  if (s.COSMOS_CONNECTION === undefined && s.COSMOS_CONNECTION__accountEndpoint === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['COSMOS_CONNECTION'],
      message: 'is required: a connection string, or COSMOS_CONNECTION__accountEndpoint with an identity',
    });
  }
  if (s.MEDIA_STORAGE === undefined && s.MEDIA_STORAGE__blobServiceUri === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['MEDIA_STORAGE'],
      message: 'is required: a connection string, or MEDIA_STORAGE__blobServiceUri with an identity',
    });
  }
});

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid app settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

/** Reads and validates every setting; throws one SettingsError that names each bad setting (never its value). */
export function loadSettings(env: Record<string, string | undefined>): Settings {
  const picked = Object.fromEntries(Object.keys(settingsShape).map((name) => [name, env[name]]));
  const result = settingsSchema.safeParse(picked);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  const inProcessQueue = problemWithoutServiceBus(env);
  if (inProcessQueue) problems.push(inProcessQueue);
  if (result.success && problems.length === 0) return result.data;
  throw new SettingsError(problems);
}

/**
 * Without a Service Bus connection the app would use the in-process queue, whose messages live in one
 * instance's memory: in Azure an instance recycle (scale-in, deployment, platform update) would lose every
 * queued erasure. So on Azure's platform (./platform.ts) start-up refuses, naming the settings to set.
 */
function problemWithoutServiceBus(env: Record<string, string | undefined>): string | undefined {
  const marker = azurePlatformMarker(env);
  // As the settings read them: blank, or an unresolved Key Vault reference, is no connection.
  const given = (name: string) => (env[name] ?? '').trim() !== '' && !(env[name] ?? '').trim().startsWith(KEY_VAULT_REFERENCE);
  if (marker === undefined || given('SERVICEBUS_CONNECTION__fullyQualifiedNamespace') || given('SERVICEBUS_CONNECTION')) return undefined;
  return (
    `SERVICEBUS_CONNECTION__fullyQualifiedNamespace is required in Azure (the platform set ${marker}): set it (the app's identity) ` +
    'or SERVICEBUS_CONNECTION (a connection string). The in-process queue is for local runs only: an instance recycle would lose every queued message'
  );
}

export const SETTING_NAMES = Object.keys(settingsShape);
