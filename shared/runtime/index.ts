/**
 * The runtime: the clients the settings name (services.ts) and the composition root that builds every
 * adapter and use case's ports from them, once per process (compositionRoot.ts).
 */
export * from './services';
export * from './compositionRoot';
