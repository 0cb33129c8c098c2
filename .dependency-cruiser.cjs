/**
 * The architecture's picture, checked on every `npm test` (test/architecture/rules.test.ts runs it, and
 * proves that a wrong import fails it).
 *
 *   functions/ (entry points) ──▶ shared/runtime (composition root) ──▶ adapters ──▶ ports ◀── use cases
 *        │                                                                             ▲
 *        └──────────────────────────▶ shared/http, use cases (core) ───────────────────┘
 *
 * - core: shared/<feature>/ (privacy, whatsapp, flows, retention, metrics, tenants, audit, markers,
 *   subjects, messages, health, domain, crypto, config, telemetry, queue/queuePort, secrets/secretProvider):
 *   use cases, domain rules and the ports they declare. No SDK, no adapter.
 * - adapters: one folder per outside system, implementing the core's ports: shared/cosmos (Cosmos DB),
 *   shared/storage (Blob), shared/hubspot (HubSpot: client, contacts, conversations, and the sync
 *   worker that drives the API), shared/graph (WhatsApp Graph API), the queue and Key Vault
 *   implementations in shared/queue and shared/secrets.
 * - shared/runtime: the composition root; the only module of shared/ that knows every adapter.
 * - shared/http: the HTTP edge (responses, admin authentication, adminRoute, the outage answer).
 */
const ADAPTERS = [
  '^shared/(cosmos|storage|hubspot|graph)/',
  '^shared/queue/(index|inProcessQueue|serviceBusQueue)[.]ts$',
  '^shared/secrets/(index|keyVaultSecretProvider)[.]ts$',
];
const ROOT = '^shared/runtime/';
const AZURE_DATA_SDKS = '^node_modules/@azure/(cosmos|storage-blob|service-bus|keyvault-secrets|identity|core-[a-z-]+)/';
/**
 * The one failure classifier reads the error classes the SDKs and the HubSpot client throw: the one place
 * a core module may know them. The webhook, the admin routes' outage answer (shared/http/unavailable.ts)
 * and the privacy tasks (shared/privacy/errors.ts) ask it, and know no SDK themselves.
 */
const ERROR_CLASSIFIERS = '^shared/failures/classify[.]ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'shared-is-the-application',
      comment: 'shared/ is what the entry points, the local host, the CLI, benches, scripts and tests use: it uses none of them.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(functions|local|cli|bench|scripts|test)/' },
    },
    {
      name: 'only-entry-points-know-the-root',
      comment: 'The composition root is asked by entry points (functions/, local/, bench/, test/); a module of shared/ takes its ports as parameters.',
      severity: 'error',
      from: { path: '^shared/', pathNot: ROOT },
      to: { path: ROOT },
    },
    {
      name: 'functions-translate-only',
      comment: 'A function parses input, calls a use case from the composition root and maps the result: it builds no adapter.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: ADAPTERS },
    },
    {
      name: 'functions-no-sdk',
      comment: 'Entry points use @azure/functions only; every other SDK is behind an adapter.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: AZURE_DATA_SDKS },
    },
    {
      name: 'core-owns-its-ports',
      comment: 'Use cases declare the ports they need; adapters implement them, never the other way round.',
      severity: 'error',
      from: { path: '^shared/', pathNot: [...ADAPTERS, ROOT, ERROR_CLASSIFIERS] },
      to: { path: ADAPTERS },
    },
    {
      name: 'privacy-core-no-azure-sdk',
      comment: 'The privacy core runs on in-memory doubles in its unit tests: no file of it imports an Azure SDK.',
      severity: 'error',
      from: { path: '^shared/privacy/' },
      to: { path: '^node_modules/@azure/' },
    },
    {
      name: 'sdks-only-in-adapters',
      comment: 'Cosmos, Blob, Service Bus, Key Vault and identity are reached through adapters only.',
      severity: 'error',
      from: { path: '^shared/', pathNot: [...ADAPTERS, ERROR_CLASSIFIERS] },
      to: { path: AZURE_DATA_SDKS },
    },
    {
      name: 'functions-host-at-the-edge',
      comment: '@azure/functions types stay at the HTTP edge (shared/http) and in the entry points.',
      severity: 'error',
      from: { path: '^shared/', pathNot: '^shared/http/' },
      to: { path: '^node_modules/@azure/functions/' },
    },
    {
      name: 'no-circular',
      comment: 'Modules depend one way: a cycle means two modules are one, or a port is missing.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count: a port copied from an adapter (`Pick<SomeAdapter, ...>`) is a dependency on it.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.local)/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
