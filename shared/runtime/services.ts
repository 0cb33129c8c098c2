import { loadSettings, type Settings } from '../config/settings';
import { cosmosClientFor, cosmosContainers, ensureCosmos, type CosmosContainers } from '../cosmos/cosmosStore';
import { systemClock, type Clock } from '../domain/clock';
import { InProcessQueue } from '../queue/inProcessQueue';
import type { Queue } from '../queue/queuePort';
import { CachedSecretProvider, SettingsSecretProvider, type SecretProvider } from '../secrets/secretProvider';
import { blobContainers, blobServiceFor, ensureBlobContainers, type BlobContainers } from '../storage/blobStore';
import { JsonLineTelemetry, type Telemetry } from '../telemetry/telemetry';

/**
 * Everything a use case may need from the outside world, built once per process from the settings.
 * Use cases take the parts they need as parameters; only function entry points call `services()`.
 */
export interface Services {
  settings: Settings;
  env: Record<string, string | undefined>;
  secrets: SecretProvider;
  cosmos: CosmosContainers;
  blobs: BlobContainers;
  queue: Queue;
  clock: Clock;
  telemetry: Telemetry;
  /** HTTP to the outside APIs (Graph, HubSpot); a parameter so tests can count or fail calls. */
  fetch: typeof fetch;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  queue?: Queue;
  clock?: Clock;
  telemetry?: Telemetry;
  secrets?: SecretProvider;
  fetch?: typeof fetch;
}

export async function createServices(env: Record<string, string | undefined>, overrides: ServiceOverrides = {}): Promise<Services> {
  const settings = loadSettings(env);
  const clock = overrides.clock ?? systemClock;

  // The Key Vault and Service Bus SDKs are loaded only when the settings name them (bench/coldstart.ts):
  // a process that does not use them does not pay for loading them.
  const secretSource: SecretProvider = settings.KEY_VAULT_URL
    ? new (await import('../secrets/keyVaultSecretProvider.js')).KeyVaultSecretProvider(settings.KEY_VAULT_URL)
    : new SettingsSecretProvider(env);
  const secrets = overrides.secrets ?? new CachedSecretProvider(secretSource, settings.SECRET_CACHE_SECONDS * 1000, clock);

  // A connection string means key auth: an emulator or a developer's account, where creating what is
  // missing is welcome. With an identity (Azure), the Bicep has created everything and the app's
  // data-plane role could not create it anyway.
  const cosmosClient = cosmosClientFor(
    settings.COSMOS_CONNECTION
      ? { connectionString: settings.COSMOS_CONNECTION }
      : { endpoint: settings.COSMOS_CONNECTION__accountEndpoint! },
  );
  const cosmos = settings.COSMOS_CONNECTION
    ? (await ensureCosmos(cosmosClient, settings.COSMOS_DATABASE)).containers
    : cosmosContainers(cosmosClient, settings.COSMOS_DATABASE);

  const blobService = blobServiceFor(
    settings.MEDIA_STORAGE
      ? { connectionString: settings.MEDIA_STORAGE }
      : { serviceUri: settings.MEDIA_STORAGE__blobServiceUri! },
  );
  const blobs = settings.MEDIA_STORAGE ? await ensureBlobContainers(blobService) : blobContainers(blobService);

  const queue = overrides.queue ?? (await queueFor(settings, clock));

  return {
    settings,
    env,
    secrets,
    cosmos,
    blobs,
    queue,
    clock,
    telemetry: overrides.telemetry ?? new JsonLineTelemetry(),
    fetch: overrides.fetch ?? globalThis.fetch,
    close: async () => {
      await queue.close();
      cosmosClient.dispose();
    },
  };
}

/** Service Bus when a connection is set (its SDK loaded then, not at start-up), else the in-process queue. */
async function queueFor(settings: Settings, clock: Clock): Promise<Queue> {
  if (!settings.SERVICEBUS_CONNECTION && !settings.SERVICEBUS_CONNECTION__fullyQualifiedNamespace) return new InProcessQueue({ clock });
  const { ServiceBusQueue } = await import('../queue/serviceBusQueue.js');
  return settings.SERVICEBUS_CONNECTION
    ? new ServiceBusQueue({ connectionString: settings.SERVICEBUS_CONNECTION })
    : new ServiceBusQueue({ fullyQualifiedNamespace: settings.SERVICEBUS_CONNECTION__fullyQualifiedNamespace! });
}

let current: Promise<Services> | undefined;

/** The process's services, built on first use (start-up stays cheap: cold starts load no SDK client early). */
export function services(): Promise<Services> {
  current ??= createServices(process.env).catch((error: unknown) => {
    current = undefined; // a failed start (emulator not up yet, bad setting) is retried on the next call
    throw error;
  });
  return current;
}

/** The local host installs the services it built, so functions and the host share one in-process queue. */
export function useServices(value: Services | Promise<Services>): void {
  current = Promise.resolve(value);
}
