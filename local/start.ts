import { join, resolve } from 'node:path';
import { localEnvironment, SettingsError, loadSettings } from '../shared/config';
import { createServices, useServices } from '../shared/runtime';
import { startAzurite, startCosmosServer, type RunningEmulator } from './emulators';
import { startLocalHost } from './host';

/**
 * `npm start`: the emulators (unless a Cosmos endpoint or Storage connection is set), then the local
 * Functions host on http://localhost:7071/api. Ctrl-C stops everything it started.
 */
async function main(): Promise<void> {
  const projectDir = resolve(__dirname, '..', '..');
  const { values: env, source } = localEnvironment(projectDir);
  const started: RunningEmulator[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((e) => e.stop()));
  };

  try {
    if (!env.COSMOS_CONNECTION && !env.COSMOS_CONNECTION__accountEndpoint) {
      const cosmos = await startCosmosServer({ port: 8081 });
      started.push(cosmos);
      env.COSMOS_CONNECTION = cosmos.connectionString;
      console.log(`cosmosdb-server on http://127.0.0.1:${cosmos.port} (in memory)`);
    }
    if (!env.MEDIA_STORAGE && !env.MEDIA_STORAGE__blobServiceUri) {
      const azurite = await startAzurite({ port: 10000, location: join(projectDir, '.local', 'azurite') });
      started.push(azurite);
      env.MEDIA_STORAGE = azurite.connectionString;
      console.log(`Azurite blob on http://127.0.0.1:${azurite.port} (data in .local/azurite)`);
    }
    loadSettings(env); // fail before anything is served, naming every bad setting
    Object.assign(process.env, env);
    const services = await createServices(env);
    useServices(services);
    const host = await startLocalHost({ services, port: Number(env.PORT ?? 7071), host: env.HOST ?? '127.0.0.1' });
    console.log(`Settings from ${source}. Flowkeeper local host on ${host.url}/api`);
    for (const r of host.registrations) {
      const t = r.trigger;
      const what = t.type === 'httpTrigger' ? `${(t.methods ?? []).join(',')} /api/${String(t.route)}` : t.type === 'serviceBusTrigger' ? `queue ${String(t.queueName)}` : `timer ${String(t.schedule)}`;
      console.log(`  ${r.name}: ${what}`);
    }
    const shutdown = async () => {
      console.log('stopping...');
      await host.close();
      await services.close();
      await stopAll();
      process.exit(0);
    };
    process.once('SIGINT', () => void shutdown());
    process.once('SIGTERM', () => void shutdown());
  } catch (error) {
    await stopAll();
    if (error instanceof SettingsError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
