import type { TestProject } from 'vitest/node';
import { startAzurite, startCosmosServer } from '../../local/emulators';

/** Starts Azurite and cosmosdb-server once for the whole run, on free loopback ports. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmosServer()]);
  project.provide('blobConnection', azurite.connectionString);
  project.provide('cosmosConnection', cosmos.connectionString);
  return async () => {
    await Promise.all([azurite.stop(), cosmos.stop()]);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    blobConnection: string;
    cosmosConnection: string;
  }
}
