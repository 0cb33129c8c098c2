/**
 * Starts the project's Cosmos DB emulator (@vercel/cosmosdb-server over HTTP, as the local host does) on a fixed
 * port and keeps it running: the `functions-host` CI job points COSMOS_CONNECTION of local.settings.json at it
 * before `func start`.
 *
 *   node dist/scripts/smoke/cosmosServer.js [port]      (default 8081; prints the connection string)
 */
import { startCosmosServer } from '../../local/emulators';

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8081);
  const cosmos = await startCosmosServer({ port });
  if (cosmos.port !== port) throw new Error(`port ${port} is taken (got ${cosmos.port})`);
  console.log(cosmos.connectionString);
  const stop = () => void cosmos.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setInterval(() => undefined, 1 << 30);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
