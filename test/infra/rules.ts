/**
 * Policy rules for infra/, in the spirit of PSRule for Azure: each rule checks one property of the templates
 * and, when it fails, says which file, resource and property, what it found and why it matters.
 *
 * The rules read the Bicep with ./bicep.ts. Settings that matter for security must be written as literals in
 * the resource (not hidden behind a variable or a module parameter), so a reviewer and these rules both see
 * them; a rule reports anything it cannot read as a literal as a violation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, SECRET_NAMES, SETTING_NAMES, SettingsError } from '../../shared/config/settings';
import {
  describeValue,
  isReferenceTo,
  literalOf,
  parseBicep,
  valueAt,
  walkValues,
  type BicepFile,
  type BicepResource,
  type BicepValue,
} from './bicep';

export interface Violation {
  rule: string;
  message: string;
}

export interface Rule {
  id: string;
  /** What the rule demands, in one sentence. */
  summary: string;
  check(project: InfraProject): Violation[];
}

export interface ResourceRef {
  file: BicepFile;
  resource: BicepResource;
}

/**
 * The parsed templates under infra/, keyed by their path relative to the repository root, and the text of the
 * other files some rules compare them with (the app's code under shared/, docs/operations.md).
 */
export class InfraProject {
  readonly files: BicepFile[];
  private readonly texts: Map<string, string>;

  constructor(sources: Record<string, string>) {
    const entries = Object.entries(sources).sort(([a], [b]) => a.localeCompare(b));
    this.files = entries.filter(([file]) => isBicep(file)).map(([file, source]) => parsed(file, source));
    this.texts = new Map(entries.filter(([file]) => !isBicep(file)));
  }

  /** A file that is not a template (docs, app code), if it was read. */
  text(filePath: string): string | undefined {
    return this.texts.get(filePath);
  }

  /** The app's TypeScript under shared/, path and text. */
  appCode(): { path: string; source: string }[] {
    return [...this.texts].filter(([file]) => file.startsWith('shared/') && file.endsWith('.ts')).map(([file, source]) => ({ path: file, source }));
  }

  file(filePath: string): BicepFile | undefined {
    return this.files.find((f) => f.path === filePath);
  }

  templates(): BicepFile[] {
    return this.files.filter((f) => f.path.endsWith('.bicep'));
  }

  parameterFiles(): BicepFile[] {
    return this.files.filter((f) => f.path.endsWith('.bicepparam'));
  }

  /** Resources declared (not `existing`) in any template, optionally of one type. */
  resources(type?: string): ResourceRef[] {
    return this.templates().flatMap((file) =>
      file.resources
        .filter((resource) => !resource.existing && (type === undefined || sameType(resource.type, type)))
        .map((resource) => ({ file, resource })),
    );
  }

  /** The resource a symbol names in a file (declared or `existing`). */
  symbol(file: BicepFile, name: string): BicepResource | undefined {
    return file.resources.find((r) => r.symbol === name);
  }

  /** The parent resource of a child: `parent: <symbol>`, or the resource it is declared inside. */
  parentOf(ref: ResourceRef): BicepResource | undefined {
    const parent = valueAt(ref.resource.body, 'parent');
    const symbol = parent?.kind === 'expression' ? parent.text.trim() : ref.resource.lexicalParent;
    return symbol === undefined ? undefined : this.symbol(ref.file, symbol);
  }
}

/** Parses are kept by path and text: a broken copy changes one file, and the others need no second parse. */
const PARSES = new Map<string, BicepFile>();
function parsed(file: string, source: string): BicepFile {
  const key = `${file}\0${source}`;
  let result = PARSES.get(key);
  if (!result) {
    result = parseBicep(source, file);
    PARSES.set(key, result);
  }
  return result;
}

function isBicep(file: string): boolean {
  return /\.bicep(param)?$/.test(file);
}

/** Deployment tooling the rule deployment-tooling reads: azd's project file and the Bicep linter configuration. */
export const TOOLING_FILES = ['azure.yaml', 'bicepconfig.json'];

/** The operator documentation whose alert table the alert rules hold the templates to. */
export const OPERATIONS_DOC = 'docs/operations.md';

/**
 * Reads every `.bicep` and `.bicepparam` file under `<root>/infra`, and what the rules compare them with: the
 * app's code under `shared/` (queries, telemetry names) and docs/operations.md.
 */
export function readInfraSources(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  const walk = (dir: string, wanted: (name: string) => boolean) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative, wanted);
      else if (wanted(entry.name)) sources[relative] = readFileSync(path.join(root, relative), 'utf8');
    }
  };
  walk('infra', isBicep);
  walk('shared', (name) => name.endsWith('.ts'));
  sources[OPERATIONS_DOC] = readFileSync(path.join(root, OPERATIONS_DOC), 'utf8');
  for (const file of TOOLING_FILES) sources[file] = readFileSync(path.join(root, file), 'utf8');
  return sources;
}

export function runRules(project: InfraProject, rules: readonly Rule[] = RULES): Violation[] {
  return rules.flatMap((rule) => rule.check(project));
}

// ---------------------------------------------------------------------------------------------- helpers

function sameType(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function where(ref: ResourceRef): string {
  return `${ref.file.path}: resource '${ref.resource.symbol}' (${ref.resource.type})`;
}

function violation(rule: string, location: string, detail: string): Violation {
  return { rule, message: `[${rule}] ${location}: ${detail}` };
}

function show(expected: string | number | boolean | null): string {
  return typeof expected === 'string' ? `'${expected}'` : String(expected);
}

/** The resource's `name` as a literal, or its text. */
function nameOf(ref: ResourceRef): string {
  const name = valueAt(ref.resource.body, 'name');
  const literal = literalOf(name);
  return typeof literal === 'string' ? literal : name ? ref.file.source.slice(name.start, name.end) : '';
}

/** One property of a resource must be one literal value. */
function expectProperty(
  rule: string,
  ref: ResourceRef,
  property: string,
  expected: string | number | boolean,
  why: string,
): Violation[] {
  const value = valueAt(ref.resource.body, property);
  if (literalOf(value) === expected) return [];
  return [
    violation(rule, where(ref), `${property} must be ${show(expected)} (found ${describeValue(ref.file, value)}). ${why}`),
  ];
}

/** One property must be set (any value). */
function expectPresent(rule: string, ref: ResourceRef, property: string, why: string): Violation[] {
  const value = valueAt(ref.resource.body, property);
  if (value && literalOf(value) !== null && literalOf(value) !== '') return [];
  return [violation(rule, where(ref), `${property} must be set (found ${describeValue(ref.file, value)}). ${why}`)];
}

function none(rule: string, what: string, why: string): Violation[] {
  return [violation(rule, 'infra', `no ${what} is declared. ${why}`)];
}

function paramNamed(file: BicepFile, name: string) {
  return file.params.find((p) => p.name === name);
}

function stringItems(value: BicepValue | undefined): string[] {
  if (value?.kind !== 'array') return [];
  return value.items.map((item) => literalOf(item)).filter((item): item is string => typeof item === 'string');
}

/** The template text without comments, for scans that must not trip over prose. */
function codeOf(file: BicepFile): string {
  let code = file.source;
  for (const comment of [...file.comments].reverse()) {
    code = code.slice(0, comment.start) + ' '.repeat(comment.end - comment.start) + code.slice(comment.end);
  }
  return code;
}

/** App settings: every `Microsoft.Web/sites/config` named 'appsettings', as name -> value. */
function appSettingsOf(project: InfraProject): { ref: ResourceRef; settings: Map<string, BicepValue> }[] {
  return project
    .resources('Microsoft.Web/sites/config')
    .filter((ref) => nameOf(ref) === 'appsettings')
    .map((ref) => {
      const properties = valueAt(ref.resource.body, 'properties');
      const settings = new Map<string, BicepValue>();
      if (properties?.kind === 'object') for (const p of properties.properties) settings.set(p.key, p.value);
      return { ref, settings };
    });
}

// ---------------------------------------------------------------------------------------------- rule data

/** Resource types that Azure Resource Manager only accepts in the 'global' location. */
const GLOBAL_ONLY_TYPES = [
  'Microsoft.Insights/metricAlerts',
  'Microsoft.Insights/actionGroups',
  // Private DNS zones and their virtual network links are global resources ("What is an Azure Private DNS zone?",
  // https://learn.microsoft.com/azure/dns/private-dns-privatednszone, read 2026-12-04); they hold DNS records of
  // private endpoints, no data.
  'Microsoft.Network/privateDnsZones',
  'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
];

export const REQUIRED_APP_SETTINGS: Record<string, string | undefined> = {
  AzureWebJobsStorage__accountName: undefined,
  APPLICATIONINSIGHTS_CONNECTION_STRING: undefined,
  COSMOS_CONNECTION__accountEndpoint: undefined,
  COSMOS_DATABASE: 'flowkeeper',
  MEDIA_STORAGE__blobServiceUri: undefined,
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: undefined,
  KEY_VAULT_URL: undefined,
  GRAPH_API_BASE_URL: 'https://graph.facebook.com/v23.0',
  HUBSPOT_API_BASE_URL: 'https://api.hubapi.com',
  RETENTION_SCHEDULE: '0 30 2 * * *',
  RECONCILER_SCHEDULE: '0 */1 * * * *',
  DEADLINE_WATCH_SCHEDULE: '0 15 * * * *',
  DEADLINE_ALERT_DAYS: '7',
  // Daily at 04:00 UTC: the erasure drill for the tenants that opted in (unset locally: no drill timer).
  ERASURE_DRILL_SCHEDULE: '0 0 4 * * *',
  LOCAL_DEV_AUTH: 'false',
  // One figure for the app's limit and the host's (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, default 100 MB):
  // nothing larger than Meta's 3 MB payload is buffered by the host either.
  MAX_WEBHOOK_BYTES: '3145728',
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '3145728',
};

/** Secrets the app reads from Key Vault (shared/config/settings.ts): never an app setting value. */
export const SECRET_SETTING_NAMES: readonly string[] = SECRET_NAMES;

/** Settings the Functions host reads (not the app): allowed besides the app's own. */
const HOST_SETTING = /^(AzureWebJobsStorage__\w+|APPLICATIONINSIGHTS_\w+|FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)$/;

const SECRET_LOOKING = /AccountKey=|SharedAccessKey=|SharedAccessSignature=|\blist(Keys|ConnectionStrings|AccountSas|ServiceSas|Secrets)\s*\(|primaryMasterKey|primaryKey|secondaryKey/i;

/** Settings the Flex Consumption plan rejects or replaces (runtime and deployment live in functionAppConfig). */
const FLEX_UNSUPPORTED_SETTINGS = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'AzureWebJobsStorage',
];

export const COSMOS_CONTAINERS: Record<string, string> = {
  subjects: '/pk',
  privacyRequests: '/id',
  audit: '/tenantId',
  tenants: '/id',
  markers: '/pk',
};

export const QUEUES = ['media-downloads', 'hubspot-sync', 'privacy-requests', 'erasure-tasks'];

/**
 * The telemetry lines the log search alerts watch, each an event or a metric the app writes as one JSON line
 * (`{"event":"<name>",...}` / `{"metric":"<name>","value":n,...}`, shared/telemetry).
 */
export const ALERT_TELEMETRY: readonly { kind: 'event' | 'metric'; name: string }[] = [
  { kind: 'event', name: 'privacy.request.failed' },
  { kind: 'event', name: 'privacy.request.overdue' },
  { kind: 'event', name: 'webhook.signature.rejected' },
  { kind: 'event', name: 'retention.sweep.failed' },
  { kind: 'metric', name: 'queue.dead_lettered' },
  { kind: 'event', name: 'privacy.drill.failed' },
  { kind: 'event', name: 'privacy.drill.slow' },
];

/**
 * Telemetry names an alert watches before the app emits them. Each entry says who adds the emitter; the rule
 * alerts-on-emitted-telemetry accepts these names until then (and reports an entry the code already emits, so the
 * list does not outlive its reason).
 */
export const PENDING_TELEMETRY: Record<string, string> = {};

/**
 * Composite indexes the app's queries are written for. Each names the query text it serves, so a changed query
 * makes the rule ask for the index to be reviewed rather than leaving a stale one.
 */
export const COSMOS_COMPOSITE_INDEXES: readonly {
  container: string;
  paths: readonly (readonly [path: string, order: 'ascending' | 'descending'])[];
  servesFile: string;
  servesQuery: string;
}[] = [
  // The retention sweep: equality on tenantId first, the range on expiresAt last (Cosmos DB composite index rules).
  ...['subjects', 'markers'].map((container) => ({
    container,
    paths: [
      ['/tenantId', 'ascending'],
      ['/expiresAt', 'ascending'],
    ] as const,
    servesFile: 'shared/cosmos/expiredDocuments.ts',
    servesQuery: 'c.tenantId = @tenantId AND c.expiresAt <= @now',
  })),
];

/** Roles the app's identity needs: built-in role id, its name, and the resource type it is granted on. */
export const APP_ROLES = [
  { id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', name: 'Storage Blob Data Owner', on: 'Microsoft.Storage/storageAccounts' },
  { id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe', name: 'Storage Blob Data Contributor', on: 'Microsoft.Storage/storageAccounts' },
  { id: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', name: 'Azure Service Bus Data Sender', on: 'Microsoft.ServiceBus/namespaces' },
  { id: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0', name: 'Azure Service Bus Data Receiver', on: 'Microsoft.ServiceBus/namespaces' },
  { id: '4633458b-17de-408a-b874-0445c86b69e6', name: 'Key Vault Secrets User', on: 'Microsoft.KeyVault/vaults' },
  { id: '3913510d-42f4-4e42-8a64-420c390055eb', name: 'Monitoring Metrics Publisher', on: 'Microsoft.Insights/components' },
];

const COSMOS_DATA_CONTRIBUTOR = '00000000-0000-0000-0000-000000000002';

// ---------------------------------------------------------------------------------------------- rules

const locationParamUkSouthOnly: Rule = {
  id: 'location-param-uksouth-only',
  summary: "Every template's location parameter allows only 'uksouth', and every parameter file sets uksouth.",
  check(project) {
    const rule = this.id;
    const out: Violation[] = [];
    const main = project.file('infra/main.bicep');
    if (main && !paramNamed(main, 'location')) {
      out.push(violation(rule, main.path, "declares no 'location' parameter. Resources must take their region from it."));
    }
    for (const file of project.templates()) {
      const param = paramNamed(file, 'location');
      if (!param) continue;
      const allowed = param.decorators.find((d) => d.name === 'allowed');
      const values = stringItems(allowed?.args[0]);
      if (values.length !== 1 || values[0] !== 'uksouth') {
        const found = allowed ? `@allowed([${values.map((v) => `'${v}'`).join(', ')}])` : 'no @allowed';
        out.push(
          violation(rule, `${file.path}: param 'location'`, `must be @allowed(['uksouth']) (found ${found}). Data residency: only UK South.`),
        );
      }
      if (param.defaultValue && literalOf(param.defaultValue) !== 'uksouth') {
        out.push(
          violation(rule, `${file.path}: param 'location'`, `default must be 'uksouth' (found ${describeValue(file, param.defaultValue)}).`),
        );
      }
    }
    for (const file of project.parameterFiles()) {
      const assignment = file.paramAssignments.find((p) => p.name === 'location');
      if (assignment && literalOf(assignment.value) !== 'uksouth') {
        out.push(
          violation(rule, `${file.path}: param 'location'`, `must be 'uksouth' (found ${describeValue(file, assignment.value)}). Data residency: only UK South.`),
        );
      }
    }
    return out;
  },
};

const resourcesUseLocation: Rule = {
  id: 'resources-use-location',
  summary: "Every resource with a location, every Cosmos region and every module call uses the 'location' parameter.",
  check(project) {
    const rule = this.id;
    const out: Violation[] = [];
    for (const ref of project.resources()) {
      const location = valueAt(ref.resource.body, 'location');
      if (location) {
        if (GLOBAL_ONLY_TYPES.some((t) => sameType(t, ref.resource.type))) {
          if (literalOf(location) !== 'global') {
            out.push(violation(rule, where(ref), `location must be 'global' for this resource type (found ${describeValue(ref.file, location)}).`));
          }
        } else if (!isReferenceTo(location, 'location') || !paramNamed(ref.file, 'location')) {
          out.push(
            violation(rule, where(ref), `location must be the 'location' parameter (found ${describeValue(ref.file, location)}). Every resource stays in UK South.`),
          );
        }
      }
      for (const value of walkValues(ref.resource.body)) {
        if (value.kind !== 'object') continue;
        const regionName = value.properties.find((p) => p.key === 'locationName');
        if (regionName && !isReferenceTo(regionName.value, 'location')) {
          out.push(
            violation(rule, where(ref), `locationName must be the 'location' parameter (found ${describeValue(ref.file, regionName.value)}). No replica outside UK South.`),
          );
        }
      }
    }
    for (const file of project.templates()) {
      for (const module of file.modules) {
        const target = project.file(path.posix.join(path.posix.dirname(file.path), module.path));
        if (!target || !paramNamed(target, 'location')) continue;
        const passed = valueAt(module.body, 'params.location');
        if (!isReferenceTo(passed, 'location')) {
          out.push(
            violation(rule, `${file.path}: module '${module.symbol}'`, `params.location must be the 'location' parameter (found ${describeValue(file, passed)}).`),
          );
        }
      }
    }
    return out;
  },
};

const storageTls: Rule = {
  id: 'storage-tls12-https-only',
  summary: 'Storage accounts accept HTTPS only, with TLS 1.2 at least.',
  check(project) {
    return project.resources('Microsoft.Storage/storageAccounts').flatMap((ref) => [
      ...expectProperty(this.id, ref, 'properties.minimumTlsVersion', 'TLS1_2', 'Older TLS versions are deprecated.'),
      ...expectProperty(this.id, ref, 'properties.supportsHttpsTrafficOnly', true, 'Plain HTTP would expose data and tokens.'),
    ]);
  },
};

const storageNoPublicBlobAccess: Rule = {
  id: 'storage-no-public-blob-access',
  summary: 'No storage account or container allows anonymous (public) blob access.',
  check(project) {
    return [
      ...project
        .resources('Microsoft.Storage/storageAccounts')
        .flatMap((ref) =>
          expectProperty(this.id, ref, 'properties.allowBlobPublicAccess', false, 'Media and exports are personal data.'),
        ),
      ...project
        .resources('Microsoft.Storage/storageAccounts/blobServices/containers')
        .flatMap((ref) => expectProperty(this.id, ref, 'properties.publicAccess', 'None', 'No container is public.')),
    ];
  },
};

const storageNoSharedKey: Rule = {
  id: 'storage-no-shared-key',
  summary: 'Storage accounts refuse shared keys: Entra ID and RBAC only.',
  check(project) {
    return project
      .resources('Microsoft.Storage/storageAccounts')
      .flatMap((ref) =>
        expectProperty(this.id, ref, 'properties.allowSharedKeyAccess', false, 'A shared key bypasses Entra ID, RBAC and the audit trail.'),
      );
  },
};

const storageSoftDeleteJustified: Rule = {
  id: 'storage-soft-delete-or-justification',
  summary: 'Blob soft delete is on, or a `// justification:` comment on the blob service says why not (PSRule Azure.Storage.SoftDelete).',
  check(project) {
    return project.resources('Microsoft.Storage/storageAccounts/blobServices').flatMap((ref) => {
      if (literalOf(valueAt(ref.resource.body, 'properties.deleteRetentionPolicy.enabled')) === true) return [];
      const justified = ref.resource.comments.some((c) => /justification:\s*\S/i.test(c.text));
      if (justified) return [];
      return [
        violation(this.id, where(ref), 'properties.deleteRetentionPolicy.enabled is not true and no "// justification:" comment explains why (PSRule Azure.Storage.SoftDelete).'),
      ];
    });
  },
};

/** The blob service and account that hold the `media` container. */
function mediaStorage(project: InfraProject): { container?: ResourceRef; blobService?: ResourceRef; account?: ResourceRef } {
  const container = project
    .resources('Microsoft.Storage/storageAccounts/blobServices/containers')
    .find((ref) => nameOf(ref) === 'media');
  if (!container) return {};
  const blobServiceResource = project.parentOf(container);
  const blobService = blobServiceResource ? { file: container.file, resource: blobServiceResource } : undefined;
  const accountResource = blobService ? project.parentOf(blobService) : undefined;
  const account = accountResource ? { file: container.file, resource: accountResource } : undefined;
  return { container, blobService, account };
}

const storageMediaErasureFinal: Rule = {
  id: 'storage-media-erasure-final',
  summary: 'The media account keeps no deleted data: blob soft delete, container soft delete and versioning are off.',
  check(project) {
    const { container, blobService } = mediaStorage(project);
    if (!container) return none(this.id, "blob container named 'media'", 'WhatsApp media must live in the media container.');
    if (!blobService) return [violation(this.id, where(container), 'its parent blob service cannot be found.')];
    const why = 'An erasure must be final: deleted media must not stay recoverable.';
    return [
      ...expectProperty(this.id, blobService, 'properties.deleteRetentionPolicy.enabled', false, why),
      ...expectProperty(this.id, blobService, 'properties.containerDeleteRetentionPolicy.enabled', false, why),
      ...expectProperty(this.id, blobService, 'properties.isVersioningEnabled', false, why),
    ];
  },
};

const storageMediaLifecycle: Rule = {
  id: 'storage-media-lifecycle',
  summary: "A lifecycle policy on the media account deletes blobs under 'media/' and 'exports/' after a retention parameter.",
  check(project) {
    const { account } = mediaStorage(project);
    if (!account) return none(this.id, 'media storage account', 'WhatsApp media must live in the media container.');
    const policies = project
      .resources('Microsoft.Storage/storageAccounts/managementPolicies')
      .filter((ref) => project.parentOf(ref)?.symbol === account.resource.symbol && ref.file === account.file);
    const out: Violation[] = [];
    for (const [prefix, container] of [
      ['media/', 'media'],
      ['exports/', 'exports'],
    ] as const) {
      const covered = policies.some((ref) => {
        const rules = valueAt(ref.resource.body, 'properties.policy.rules');
        if (rules?.kind !== 'array') return false;
        return rules.items.some((item) => {
          const prefixes = stringItems(valueAt(item, 'definition.filters.prefixMatch'));
          const days = valueAt(item, 'definition.actions.baseBlob.delete.daysAfterModificationGreaterThan');
          const daysFromParam = days?.kind === 'expression' && paramNamed(ref.file, days.text.trim()) !== undefined;
          return literalOf(valueAt(item, 'enabled')) === true && prefixes.includes(prefix) && daysFromParam;
        });
      });
      if (!covered) {
        out.push(
          violation(this.id, `${account.file.path}: resource '${account.resource.symbol}' (${account.resource.type})`, `no enabled lifecycle rule deletes blobs under '${prefix}' after a retention parameter (baseBlob.delete.daysAfterModificationGreaterThan). The ${container} container must not keep data forever.`),
        );
      }
    }
    return out;
  },
};

const functionAppHttpsOnly: Rule = {
  id: 'functionapp-https-only',
  summary: 'The Function App redirects HTTP to HTTPS.',
  check(project) {
    return project
      .resources('Microsoft.Web/sites')
      .flatMap((ref) => expectProperty(this.id, ref, 'properties.httpsOnly', true, 'Webhooks and admin tokens travel over HTTPS only.'));
  },
};

const functionAppMinTls: Rule = {
  id: 'functionapp-min-tls12',
  summary: 'The Function App (and its SCM site) accepts TLS 1.2 at least.',
  check(project) {
    return project.resources('Microsoft.Web/sites').flatMap((ref) => [
      ...expectProperty(this.id, ref, 'properties.siteConfig.minTlsVersion', '1.2', 'Older TLS versions are deprecated.'),
      ...expectProperty(this.id, ref, 'properties.siteConfig.scmMinTlsVersion', '1.2', 'Older TLS versions are deprecated.'),
    ]);
  },
};

const functionAppFtpsDisabled: Rule = {
  id: 'functionapp-ftps-disabled',
  summary: 'FTP and FTPS are disabled on the Function App.',
  check(project) {
    return project
      .resources('Microsoft.Web/sites')
      .flatMap((ref) => expectProperty(this.id, ref, 'properties.siteConfig.ftpsState', 'Disabled', 'Deployments use Entra ID, never FTP.'));
  },
};

const functionAppBasicPublishingOff: Rule = {
  id: 'functionapp-basic-publishing-credentials-off',
  summary: 'Basic publishing credentials are off for both FTP and SCM.',
  check(project) {
    const out: Violation[] = [];
    const policies = project.resources('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    for (const site of project.resources('Microsoft.Web/sites')) {
      for (const name of ['ftp', 'scm']) {
        const policy = policies.find(
          (ref) => ref.file === site.file && nameOf(ref) === name && project.parentOf(ref)?.symbol === site.resource.symbol,
        );
        if (!policy) {
          out.push(
            violation(this.id, where(site), `no basicPublishingCredentialsPolicies '${name}' with properties.allow false. A user name and password would bypass Entra ID.`),
          );
          continue;
        }
        out.push(...expectProperty(this.id, policy, 'properties.allow', false, 'A user name and password would bypass Entra ID.'));
      }
    }
    return out;
  },
};

const functionAppSystemIdentity: Rule = {
  id: 'functionapp-system-assigned-identity',
  summary: 'The Function App has a system-assigned managed identity.',
  check(project) {
    return project.resources('Microsoft.Web/sites').flatMap((ref) => {
      const type = literalOf(valueAt(ref.resource.body, 'identity.type'));
      if (typeof type === 'string' && type.split(',').map((t) => t.trim()).includes('SystemAssigned')) return [];
      return [
        violation(this.id, where(ref), `identity.type must include 'SystemAssigned' (found ${describeValue(ref.file, valueAt(ref.resource.body, 'identity.type'))}). Every connection uses the app's identity.`),
      ];
    });
  },
};

/**
 * The Node.js major the Function App runs. Node.js 20 left Azure Functions support on 30 April 2026; Node.js 22 is
 * supported until 30 April 2027 ("Supported languages in Azure Functions",
 * https://learn.microsoft.com/azure/azure-functions/supported-languages, and "Language runtime support policy",
 * https://learn.microsoft.com/azure/azure-functions/language-support-policy, both read 2026-12-04).
 */
export const SUPPORTED_NODE_VERSION = '22';

const functionAppFlexNode22: Rule = {
  id: 'functionapp-flex-consumption-node22',
  summary: `The Function App runs on a Flex Consumption (FC1) plan, Linux, Node ${SUPPORTED_NODE_VERSION}.`,
  check(project) {
    const why = `The app is built and tested for Node ${SUPPORTED_NODE_VERSION} on Flex Consumption. Node.js 20 left Azure Functions support on 30 April 2026; Node.js 22 is supported until 30 April 2027 (learn.microsoft.com/azure/azure-functions/supported-languages).`;
    const sites = project.resources('Microsoft.Web/sites');
    const plans = project.resources('Microsoft.Web/serverfarms');
    if (sites.length === 0) return none(this.id, 'Function App (Microsoft.Web/sites)', why);
    return [
      ...plans.flatMap((ref) => [
        ...expectProperty(this.id, ref, 'sku.name', 'FC1', why),
        ...expectProperty(this.id, ref, 'sku.tier', 'FlexConsumption', why),
      ]),
      ...sites.flatMap((ref) => [
        ...expectProperty(this.id, ref, 'kind', 'functionapp,linux', why),
        ...expectProperty(this.id, ref, 'properties.functionAppConfig.runtime.name', 'node', why),
        ...expectProperty(this.id, ref, 'properties.functionAppConfig.runtime.version', SUPPORTED_NODE_VERSION, why),
      ]),
    ];
  },
};

const functionAppEntraAuth: Rule = {
  id: 'functionapp-app-service-authentication',
  summary: 'App Service Authentication (authsettingsV2) is always on with Microsoft Entra ID, letting anonymous webhooks through.',
  check(project) {
    const out: Violation[] = [];
    const configs = project.resources('Microsoft.Web/sites/config');
    for (const site of project.resources('Microsoft.Web/sites')) {
      const auth = configs.find(
        (ref) => ref.file === site.file && nameOf(ref) === 'authsettingsV2' && project.parentOf(ref)?.symbol === site.resource.symbol,
      );
      const forged = 'Without it a caller could send a forged x-ms-client-principal header to the admin routes.';
      if (!auth) {
        out.push(violation(this.id, where(site), `no sites/config 'authsettingsV2'. ${forged}`));
        continue;
      }
      if (auth.resource.condition !== undefined) {
        out.push(violation(this.id, where(auth), `must not be conditional (found if (${auth.resource.condition})). ${forged}`));
      }
      out.push(
        ...expectProperty(this.id, auth, 'properties.platform.enabled', true, forged),
        ...expectProperty(this.id, auth, 'properties.globalValidation.unauthenticatedClientAction', 'AllowAnonymous', 'WhatsApp webhooks carry no Entra token; the app enforces roles itself.'),
        ...expectProperty(this.id, auth, 'properties.identityProviders.azureActiveDirectory.enabled', true, forged),
        ...expectPresent(this.id, auth, 'properties.identityProviders.azureActiveDirectory.registration.clientId', 'Tokens are validated for this app registration.'),
      );
    }
    return out;
  },
};

const cosmosLocalAuthOff: Rule = {
  id: 'cosmos-local-auth-off',
  summary: 'Cosmos DB accepts Entra ID only (no account keys) and metadata changes only through Resource Manager.',
  check(project) {
    return project.resources('Microsoft.DocumentDB/databaseAccounts').flatMap((ref) => [
      ...expectProperty(this.id, ref, 'properties.disableLocalAuth', true, 'An account key would bypass RBAC and the audit trail.'),
      ...expectProperty(this.id, ref, 'properties.disableKeyBasedMetadataWriteAccess', true, 'Containers are changed through the templates only.'),
    ]);
  },
};

const cosmosContainers: Rule = {
  id: 'cosmos-containers-ttl-and-partition-key',
  summary: "Every Cosmos container declares its partition key path and defaultTtl -1, and the app's five containers exist.",
  check(project) {
    const out: Violation[] = [];
    const containers = project.resources('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers');
    for (const ref of containers) {
      out.push(
        ...expectProperty(this.id, ref, 'properties.resource.defaultTtl', -1, "TTL must be on, with each document's own ttl deciding its lifetime."),
      );
      const paths = stringItems(valueAt(ref.resource.body, 'properties.resource.partitionKey.paths'));
      if (paths.length === 0 || !paths.every((p) => p.startsWith('/'))) {
        out.push(
          violation(this.id, where(ref), `properties.resource.partitionKey.paths must list the partition key path (found ${describeValue(ref.file, valueAt(ref.resource.body, 'properties.resource.partitionKey.paths'))}).`),
        );
      }
    }
    for (const [id, partitionKey] of Object.entries(COSMOS_CONTAINERS)) {
      const ref = containers.find((c) => literalOf(valueAt(c.resource.body, 'properties.resource.id')) === id);
      if (!ref) {
        out.push(violation(this.id, 'infra', `no Cosmos container '${id}' is declared (shared/cosmos/cosmosStore.ts needs it, partition key ${partitionKey}).`));
        continue;
      }
      const paths = stringItems(valueAt(ref.resource.body, 'properties.resource.partitionKey.paths'));
      if (paths.length !== 1 || paths[0] !== partitionKey) {
        out.push(
          violation(this.id, where(ref), `properties.resource.partitionKey.paths must be ['${partitionKey}'] (found ${describeValue(ref.file, valueAt(ref.resource.body, 'properties.resource.partitionKey.paths'))}), as the app queries it.`),
        );
      }
    }
    return out;
  },
};

const cosmosContinuousBackup: Rule = {
  id: 'cosmos-continuous-backup-7-days',
  summary: 'Cosmos DB uses continuous backup with the shortest window (7 days), the outer bound of an erasure.',
  check(project) {
    const why = 'Backups cannot be purged item by item: the shortest window bounds how long erased data survives.';
    return project.resources('Microsoft.DocumentDB/databaseAccounts').flatMap((ref) => [
      ...expectProperty(this.id, ref, 'properties.backupPolicy.type', 'Continuous', why),
      ...expectProperty(this.id, ref, 'properties.backupPolicy.continuousModeProperties.tier', 'Continuous7Days', why),
    ]);
  },
};

const cosmosDataPlaneRbac: Rule = {
  id: 'cosmos-data-plane-rbac',
  summary: "The app's identity holds Cosmos DB Built-in Data Contributor through a SQL role assignment.",
  check(project) {
    const granted = project.resources('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments').some((ref) => {
      const role = valueAt(ref.resource.body, 'properties.roleDefinitionId');
      const principal = valueAt(ref.resource.body, 'properties.principalId');
      return role !== undefined && ref.file.source.slice(role.start, role.end).includes(COSMOS_DATA_CONTRIBUTOR) && isReferenceTo(principal, 'appPrincipalId');
    });
    return granted
      ? []
      : none(this.id, `SQL role assignment of Cosmos DB Built-in Data Contributor (${COSMOS_DATA_CONTRIBUTOR}) to appPrincipalId`, 'With local auth off the app could not read or write a single item.');
  },
};

const serviceBusLocalAuthOff: Rule = {
  id: 'servicebus-local-auth-off',
  summary: 'Service Bus accepts Entra ID only (no SAS keys), TLS 1.2.',
  check(project) {
    return project.resources('Microsoft.ServiceBus/namespaces').flatMap((ref) => [
      ...expectProperty(this.id, ref, 'properties.disableLocalAuth', true, 'A SAS key would bypass RBAC and the audit trail.'),
      ...expectProperty(this.id, ref, 'properties.minimumTlsVersion', '1.2', 'Older TLS versions are deprecated.'),
    ]);
  },
};

const serviceBusQueues: Rule = {
  id: 'servicebus-queue-settings',
  summary: 'Every queue dead-letters after 10 deliveries and on expiry, detects duplicates for 10 minutes, locks for 1 minute; the four queues exist on a Standard namespace.',
  check(project) {
    const out: Violation[] = [];
    for (const ref of project.resources('Microsoft.ServiceBus/namespaces')) {
      for (const sku of alternatives(valueAt(ref.resource.body, 'sku'))) {
        const tier = literalOf(valueAt(sku, 'name'));
        if (tier !== 'Standard' && tier !== 'Premium') {
          out.push(violation(this.id, where(ref), `sku.name must be 'Standard' or 'Premium' (found ${describeValue(ref.file, valueAt(sku, 'name'))}). Duplicate detection needs it.`));
        }
      }
    }
    const names = new Set<string>();
    for (const ref of project.resources('Microsoft.ServiceBus/namespaces/queues')) {
      out.push(
        ...expectProperty(this.id, ref, 'properties.maxDeliveryCount', 10, 'The retry budget before a message is dead-lettered (the Node worker has no host retry policy).'),
        ...expectProperty(this.id, ref, 'properties.deadLetteringOnMessageExpiration', true, 'An expired message must be dead-lettered, not dropped silently.'),
        ...expectProperty(this.id, ref, 'properties.requiresDuplicateDetection', true, 'Re-sent messages (same MessageId) must not run twice; this can only be set at creation.'),
        ...expectProperty(this.id, ref, 'properties.duplicateDetectionHistoryTimeWindow', 'PT10M', 'The app relies on a 10-minute duplicate window.'),
        ...expectProperty(this.id, ref, 'properties.lockDuration', 'PT1M', 'The host renews a 1-minute lock while the function runs.'),
      );
      const name = valueAt(ref.resource.body, 'name');
      const literal = literalOf(name);
      if (typeof literal === 'string') names.add(literal);
      else if (ref.resource.loop && isReferenceTo(name, ref.resource.loop.itemName)) {
        const source = ref.file.vars.find((v) => v.name === ref.resource.loop!.source.trim());
        const listed = source ? stringItems(source.value) : stringItems(parseListLiteral(ref.resource.loop.source));
        for (const item of listed) names.add(item);
      }
    }
    for (const queue of QUEUES) {
      if (!names.has(queue)) out.push(violation(this.id, 'infra', `no Service Bus queue '${queue}' is declared (shared/queue/queuePort.ts sends to it).`));
    }
    return out;
  },
};

/** A loop over an inline array (`for q in ['a', 'b']`). */
function parseListLiteral(text: string): BicepValue | undefined {
  try {
    return parseBicep(`var list = ${text}`, '(loop)').vars[0]?.value;
  } catch {
    return undefined;
  }
}

const keyVaultRbac: Rule = {
  id: 'keyvault-rbac-authorization',
  summary: 'Key Vault uses Azure RBAC, not access policies.',
  check(project) {
    return project
      .resources('Microsoft.KeyVault/vaults')
      .flatMap((ref) => expectProperty(this.id, ref, 'properties.enableRbacAuthorization', true, 'Access policies are not audited like role assignments and cannot be scoped to a secret.'));
  },
};

const keyVaultPurgeProtection: Rule = {
  id: 'keyvault-purge-protection',
  summary: 'Key Vault purge protection is on.',
  check(project) {
    return project
      .resources('Microsoft.KeyVault/vaults')
      .flatMap((ref) => expectProperty(this.id, ref, 'properties.enablePurgeProtection', true, 'Nobody may purge a secret or a customer-managed key before its retention ends.'));
  },
};

const keyVaultSoftDelete: Rule = {
  id: 'keyvault-soft-delete',
  summary: 'Key Vault soft delete is on.',
  check(project) {
    return project
      .resources('Microsoft.KeyVault/vaults')
      .flatMap((ref) => expectProperty(this.id, ref, 'properties.enableSoftDelete', true, 'A deleted secret (the subject-hash key above all) must be recoverable.'));
  },
};

// ---------------------------------------------------------------------------------------------- logs and diagnostics

/**
 * Log retention: the seed promises logs that may hold personal data expire within 7 to 14 days. Limits from
 * "Manage data retention in a Log Analytics workspace" (https://learn.microsoft.com/azure/azure-monitor/logs/
 * data-retention-configure, updated 2025-09-09): the PerGB2018 workspace default is 30 days at least; a table's
 * analytics retention goes down to 4 days through the API; the Application Insights tables keep 90 days by default
 * unless each is set on its own.
 */
export const LOG_RETENTION_DAYS = { min: 7, max: 14 } as const;
export const WORKSPACE_MINIMUM_RETENTION_DAYS = 30;

/** Application Insights tables, which keep 90 days by default (same page, "Log tables with 90-day default retention"). */
export const APP_INSIGHTS_TABLES = [
  'AppAvailabilityResults',
  'AppBrowserTimings',
  'AppDependencies',
  'AppEvents',
  'AppExceptions',
  'AppMetrics',
  'AppPageViews',
  'AppPerformanceCounters',
  'AppRequests',
  'AppSystemEvents',
  'AppTraces',
];

/**
 * The resource-specific table each diagnostic category writes to (Azure Monitor Logs table reference,
 * https://learn.microsoft.com/azure/azure-monitor/reference/tables/, read 2026-12-04); AzureDiagnostics takes any
 * category a service still writes in the legacy shape.
 */
export const DIAGNOSTIC_CATEGORY_TABLES: Record<string, string> = {
  AuditEvent: 'AZKVAuditLogs',
  DataPlaneRequests: 'CDBDataPlaneRequests',
  ControlPlaneRequests: 'CDBControlPlaneRequests',
  StorageRead: 'StorageBlobLogs',
  StorageWrite: 'StorageBlobLogs',
  StorageDelete: 'StorageBlobLogs',
  OperationalLogs: 'AZMSOperationalLogs',
  DiagnosticErrorLogs: 'AZMSDiagnosticErrorLogs',
  RuntimeAuditLogs: 'AZMSRunTimeAuditLogs',
};

/** Every table whose retention must be set: the App Insights tables, the diagnostic tables, and AzureDiagnostics. */
export const REQUIRED_LOG_TABLES = [...APP_INSIGHTS_TABLES, 'AzureDiagnostics', ...new Set(Object.values(DIAGNOSTIC_CATEGORY_TABLES))];

/** What each store's diagnostic setting must send: the access log of the data or the keys. */
export const REQUIRED_DIAGNOSTICS: readonly { on: string; what: string; categories: string[]; premiumOnly?: string[] }[] = [
  { on: 'Microsoft.KeyVault/vaults', what: 'Key Vault audit events (secret reads)', categories: ['AuditEvent'] },
  { on: 'Microsoft.DocumentDB/databaseAccounts', what: 'Cosmos DB data-plane requests', categories: ['DataPlaneRequests'] },
  { on: 'Microsoft.Storage/storageAccounts/blobServices', what: 'blob reads, writes and deletes of the media account', categories: ['StorageRead', 'StorageWrite', 'StorageDelete'] },
  { on: 'Microsoft.ServiceBus/namespaces', what: 'Service Bus operational and (Premium) runtime audit logs', categories: ['OperationalLogs'], premiumOnly: ['RuntimeAuditLogs'] },
];

/** Values a property may take: the value itself, or each literal branch of an expression such as `a ? 'x' : 'y'`. */
function alternatives(value: BicepValue | undefined): BicepValue[] {
  if (!value) return [];
  if (value.kind !== 'expression') return [value];
  const parts = value.parts.filter((p) => p.kind !== 'expression');
  return parts.length > 0 ? parts : [value];
}

/** A param of `file` bounded to [min, max] by @minValue/@maxValue, or undefined. */
function boundsOf(file: BicepFile, name: string): { min?: number; max?: number } | undefined {
  const param = paramNamed(file, name);
  if (!param) return undefined;
  const arg = (decorator: string) => {
    const value = literalOf(param.decorators.find((d) => d.name === decorator)?.args[0]);
    return typeof value === 'number' ? value : undefined;
  };
  return { min: arg('minValue'), max: arg('maxValue') };
}

/** Names a resource is declared with: a literal name, or each item of the var list a loop runs over. */
function declaredNames(ref: ResourceRef): string[] {
  const name = valueAt(ref.resource.body, 'name');
  const literal = literalOf(name);
  if (typeof literal === 'string') return [literal];
  if (ref.resource.loop && isReferenceTo(name, ref.resource.loop.itemName)) {
    const source = ref.file.vars.find((v) => v.name === ref.resource.loop!.source.trim());
    return source ? stringItems(source.value) : stringItems(parseListLiteral(ref.resource.loop.source));
  }
  return [];
}

const logRetention: Rule = {
  id: 'monitoring-log-retention-7-14-days',
  summary: `Every log table the deployment writes to (App Insights, diagnostic tables, AzureDiagnostics) keeps its rows ${LOG_RETENTION_DAYS.min}-${LOG_RETENTION_DAYS.max} days (table-level analytics and total retention), and the workspace default is its ${WORKSPACE_MINIMUM_RETENTION_DAYS}-day minimum with immediate purge.`,
  check(project) {
    const out: Violation[] = [];
    const why = `The product promises that logs are kept ${LOG_RETENTION_DAYS.min} to ${LOG_RETENTION_DAYS.max} days (the App Insights tables default to 90 days unless set per table).`;
    const workspaces = project.resources('Microsoft.OperationalInsights/workspaces');
    if (workspaces.length === 0) return none(this.id, 'Log Analytics workspace', 'App Insights and the alert queries need one.');
    for (const ref of workspaces) {
      out.push(
        ...expectProperty(this.id, ref, 'properties.retentionInDays', WORKSPACE_MINIMUM_RETENTION_DAYS, `The workspace default at its minimum (PerGB2018); the tables keep less.`),
        ...expectProperty(this.id, ref, 'properties.features.immediatePurgeDataOn30Days', true, 'Without it a 30-day workspace may keep data 31 days.'),
      );
    }
    const inRange = (ref: ResourceRef, property: string) => {
      const value = valueAt(ref.resource.body, property);
      const literal = literalOf(value);
      if (typeof literal === 'number') return literal >= LOG_RETENTION_DAYS.min && literal <= LOG_RETENTION_DAYS.max;
      if (value?.kind !== 'expression') return false;
      const bounds = boundsOf(ref.file, value.text.trim());
      return bounds?.min !== undefined && bounds.max !== undefined && bounds.min >= LOG_RETENTION_DAYS.min && bounds.max <= LOG_RETENTION_DAYS.max;
    };
    const tables = project.resources('Microsoft.OperationalInsights/workspaces/tables');
    const covered = new Set<string>();
    for (const ref of tables) {
      const names = declaredNames(ref);
      for (const property of ['properties.retentionInDays', 'properties.totalRetentionInDays']) {
        if (!inRange(ref, property)) {
          out.push(violation(this.id, where(ref), `${property} must be ${LOG_RETENTION_DAYS.min}-${LOG_RETENTION_DAYS.max} days, as a literal or a parameter with @minValue(${LOG_RETENTION_DAYS.min}) and @maxValue(${LOG_RETENTION_DAYS.max}) (found ${describeValue(ref.file, valueAt(ref.resource.body, property))}). ${why}`));
        }
      }
      for (const name of names) covered.add(name);
    }
    for (const table of REQUIRED_LOG_TABLES) {
      if (!covered.has(table)) {
        out.push(violation(this.id, 'infra', `no Microsoft.OperationalInsights/workspaces/tables '${table}' sets the retention of that table. ${why}`));
      }
    }
    const main = project.file('infra/main.bicep');
    const mainBounds = main ? boundsOf(main, 'logRetentionDays') : undefined;
    if (!mainBounds || mainBounds.min !== LOG_RETENTION_DAYS.min || mainBounds.max !== LOG_RETENTION_DAYS.max) {
      out.push(violation(this.id, "infra/main.bicep: param 'logRetentionDays'", `must have @minValue(${LOG_RETENTION_DAYS.min}) and @maxValue(${LOG_RETENTION_DAYS.max}) (found ${mainBounds ? `${mainBounds.min ?? 'none'}..${mainBounds.max ?? 'none'}` : 'no such parameter'}). ${why}`));
    }
    for (const file of project.parameterFiles()) {
      const assignment = file.paramAssignments.find((a) => a.name === 'logRetentionDays');
      const value = literalOf(assignment?.value);
      if (assignment && (typeof value !== 'number' || value < LOG_RETENTION_DAYS.min || value > LOG_RETENTION_DAYS.max)) {
        out.push(violation(this.id, `${file.path}: param 'logRetentionDays'`, `must be ${LOG_RETENTION_DAYS.min}-${LOG_RETENTION_DAYS.max} (found ${describeValue(file, assignment.value)}).`));
      }
    }
    return out;
  },
};

/** The resource a `scope:` names (`vault`, `queues[i]`), declared or `existing`, in the same file. */
function scopeResource(project: InfraProject, ref: ResourceRef): BicepResource | undefined {
  const scope = valueAt(ref.resource.body, 'scope');
  if (scope?.kind !== 'expression') return undefined;
  return project.symbol(ref.file, scope.text.trim().replace(/\[[^\]]*\]$/, ''));
}

/** Diagnostic categories switched on in a diagnostic setting's logs (all branches of any expression). */
function enabledCategories(ref: ResourceRef): string[] {
  const logs = valueAt(ref.resource.body, 'properties.logs');
  if (!logs) return [];
  const out: string[] = [];
  for (const value of walkValues(logs)) {
    if (value.kind !== 'object') continue;
    const category = literalOf(valueAt(value, 'category'));
    if (typeof category === 'string' && literalOf(valueAt(value, 'enabled')) === true) out.push(category);
  }
  return out;
}

const diagnosticSettings: Rule = {
  id: 'monitoring-diagnostic-settings',
  summary: 'Key Vault (audit events), Cosmos DB (data-plane requests), the media blob service (read, write, delete) and Service Bus (operational, and runtime audit on Premium) send their logs to the workspace, into resource-specific tables whose retention is set.',
  check(project) {
    const out: Violation[] = [];
    const settings = project.resources('Microsoft.Insights/diagnosticSettings');
    for (const wanted of REQUIRED_DIAGNOSTICS) {
      const matching = settings.filter((ref) => {
        const target = scopeResource(project, ref);
        return target !== undefined && sameType(target.type, wanted.on);
      });
      if (matching.length === 0) {
        out.push(...none(this.id, `diagnostic setting on a ${wanted.on}`, `The ${wanted.what} must be logged: the seed promises audit logs of access to personal data and keys.`));
        continue;
      }
      for (const ref of matching) {
        out.push(
          ...expectPresent(this.id, ref, 'properties.workspaceId', 'The logs go to the Log Analytics workspace, where their retention is set.'),
          ...expectProperty(this.id, ref, 'properties.logAnalyticsDestinationType', 'Dedicated', 'Resource-specific tables, each with its own retention.'),
        );
        const categories = enabledCategories(ref);
        for (const category of [...wanted.categories, ...(wanted.premiumOnly ?? [])]) {
          if (!categories.includes(category)) {
            out.push(violation(this.id, where(ref), `properties.logs must enable the category '${category}' (found ${categories.map((c) => `'${c}'`).join(', ') || 'none'}). The ${wanted.what} must be logged.`));
          }
        }
      }
    }
    const retained = new Set(project.resources('Microsoft.OperationalInsights/workspaces/tables').flatMap((ref) => declaredNames(ref)));
    for (const ref of settings) {
      for (const category of enabledCategories(ref)) {
        const table = DIAGNOSTIC_CATEGORY_TABLES[category];
        if (!table) {
          out.push(violation(this.id, where(ref), `category '${category}' has no known destination table (DIAGNOSTIC_CATEGORY_TABLES): its retention cannot be checked.`));
        } else if (!retained.has(table)) {
          out.push(violation(this.id, where(ref), `category '${category}' writes to ${table}, whose retention no workspaces/tables resource sets: it would keep the default.`));
        }
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------- network isolation

/** The stores that hold personal data or keys, and how each is reached privately (private link sub-resource, DNS zone). */
export const PRIVATE_STORES: readonly { type: string; param: string; groupId: string; zone: string; acls: boolean }[] = [
  { type: 'Microsoft.DocumentDB/databaseAccounts', param: 'cosmosAccountId', groupId: 'Sql', zone: 'privatelink.documents.azure.com', acls: false },
  { type: 'Microsoft.Storage/storageAccounts', param: 'runtimeStorageAccountId', groupId: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}', acls: true },
  { type: 'Microsoft.Storage/storageAccounts', param: 'mediaStorageAccountId', groupId: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}', acls: true },
  { type: 'Microsoft.ServiceBus/namespaces', param: 'serviceBusNamespaceId', groupId: 'namespace', zone: 'privatelink.servicebus.windows.net', acls: false },
  { type: 'Microsoft.KeyVault/vaults', param: 'keyVaultId', groupId: 'vault', zone: 'privatelink.vaultcore.azure.net', acls: true },
];

/** Flex Consumption VNet integration subnets are delegated to this service (functions-networking-options, read 2026-12-04). */
export const FLEX_SUBNET_DELEGATION = 'Microsoft.App/environments';

function normalized(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const networkIsolationRule: Rule = {
  id: 'network-isolation',
  summary: "A networkIsolation parameter (on in prod, off in dev) puts Cosmos DB, both storage accounts, Service Bus (Premium) and Key Vault behind private endpoints with DNS zones and public access off, and the Function App on VNet integration in a subnet delegated to Microsoft.App/environments.",
  check(project) {
    const out: Violation[] = [];
    const main = project.file('infra/main.bicep');
    const param = main ? paramNamed(main, 'networkIsolation') : undefined;
    if (!main || !param || param.type !== 'bool') {
      return [violation(this.id, 'infra/main.bicep', "declares no 'networkIsolation bool' parameter. The seed promises isolated infrastructure.")];
    }
    for (const [file, expected] of [
      ['infra/env/prod.bicepparam', true],
      ['infra/env/dev.bicepparam', false],
    ] as const) {
      const parameters = project.file(file);
      const value = literalOf(parameters?.paramAssignments.find((a) => a.name === 'networkIsolation')?.value);
      if (parameters && value !== expected) {
        out.push(violation(this.id, `${file}: param 'networkIsolation'`, `must be ${expected} (found ${value === undefined ? 'not set' : String(value)}).`));
      }
    }
    // Each store: public access off and firewall deny when isolated, and the module gets the switch from main.
    for (const type of [...new Set(PRIVATE_STORES.map((s) => s.type))]) {
      const stores = project.resources(type);
      const withAcls = PRIVATE_STORES.some((s) => s.type === type && s.acls);
      for (const ref of stores) {
        const checks: [string, string][] = [['properties.publicNetworkAccess', "networkIsolation ? 'Disabled' : 'Enabled'"]];
        if (withAcls) checks.push(['properties.networkAcls.defaultAction', "networkIsolation ? 'Deny' : 'Allow'"]);
        for (const [property, expected] of checks) {
          const value = valueAt(ref.resource.body, property);
          const text = value ? normalized(ref.file.source.slice(value.start, value.end)) : '';
          if (text !== expected) {
            out.push(violation(this.id, where(ref), `${property} must be ${expected} (found ${describeValue(ref.file, value)}). With networkIsolation on, the store is reached through its private endpoint only.`));
          }
        }
        if (!paramNamed(ref.file, 'networkIsolation')) {
          out.push(violation(this.id, where(ref), `${ref.file.path} declares no networkIsolation parameter.`));
          continue;
        }
        const module = main.modules.find((m) => path.posix.join('infra', m.path) === ref.file.path);
        if (module && !isReferenceTo(valueAt(module.body, 'params.networkIsolation'), 'networkIsolation')) {
          out.push(violation(this.id, `${main.path}: module '${module.symbol}'`, `params.networkIsolation must be the networkIsolation parameter (found ${describeValue(main, valueAt(module.body, 'params.networkIsolation'))}).`));
        }
      }
    }
    // Service Bus: private endpoints exist in the Premium tier only.
    for (const ref of project.resources('Microsoft.ServiceBus/namespaces')) {
      const sku = valueAt(ref.resource.body, 'sku');
      const text = sku?.kind === 'expression' ? normalized(sku.text) : '';
      const premiumWhenIsolated = /^networkIsolation \? \{ name: 'Premium'/.test(text.replace(/\{\s*/, '{ '));
      if (!premiumWhenIsolated) {
        out.push(violation(this.id, where(ref), `sku must be Premium when networkIsolation is on (networkIsolation ? { name: 'Premium' ... } : { name: 'Standard' ... }) (found ${describeValue(ref.file, sku)}). Service Bus private endpoints need the Premium tier.`));
      }
    }
    // The network module: deployed when isolated, one private endpoint per store with its DNS zone.
    const networkModule = main.modules.find((m) => m.path === 'modules/network.bicep');
    if (!networkModule || normalized(networkModule.condition ?? '') !== 'networkIsolation') {
      out.push(violation(this.id, main.path, "must declare module network 'modules/network.bicep' = if (networkIsolation).")); 
    }
    const network = project.file('infra/modules/network.bicep');
    const endpointsVar = network?.vars.find((v) => v.name === 'endpoints');
    const endpoints = endpointsVar?.value.kind === 'array' ? endpointsVar.value.items : [];
    const zoneList = network?.vars.find((v) => v.name === 'zoneNames')?.value;
    const zones = zoneList?.kind === 'array' ? zoneList.items.flatMap((item) => (item.kind === 'string' ? [item.value] : [])) : [];
    for (const store of PRIVATE_STORES) {
      const endpoint = endpoints.find((e) => isReferenceTo(valueAt(e, 'resourceId'), store.param));
      if (!endpoint || literalOf(valueAt(endpoint, 'groupId')) !== store.groupId) {
        out.push(violation(this.id, 'infra/modules/network.bicep', `no private endpoint for ${store.param} with group id '${store.groupId}' in var endpoints.`));
        continue;
      }
      const zone = valueAt(endpoint, 'zone');
      if (zone?.kind !== 'string' || zone.value !== store.zone || !zones.includes(store.zone)) {
        out.push(violation(this.id, 'infra/modules/network.bicep', `the private endpoint for ${store.param} must use the DNS zone '${store.zone}', declared in var zoneNames (found ${zone ? describeValue(network!, zone) : 'none'}).`));
      }
    }
    const kinds = [
      'Microsoft.Network/privateEndpoints',
      'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
      'Microsoft.Network/privateDnsZones',
      'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
    ];
    for (const kind of kinds) {
      if (project.resources(kind).length === 0) out.push(...none(this.id, kind, 'Private endpoints resolve through private DNS zones linked to the virtual network.'));
    }
    // Flex Consumption VNet integration.
    const delegated = project
      .resources('Microsoft.Network/virtualNetworks')
      .some((ref) => [...walkValues(ref.resource.body)].some((v) => v.kind === 'object' && literalOf(valueAt(v, 'serviceName')) === FLEX_SUBNET_DELEGATION));
    if (!delegated) out.push(...none(this.id, `subnet delegated to '${FLEX_SUBNET_DELEGATION}'`, 'Flex Consumption VNet integration needs a subnet delegated to it.'));
    for (const ref of project.resources('Microsoft.Web/sites')) {
      const subnet = valueAt(ref.resource.body, 'properties.virtualNetworkSubnetId');
      if (!subnet || !sourceText(ref, subnet).includes('appSubnetId')) {
        out.push(violation(this.id, where(ref), `properties.virtualNetworkSubnetId must come from the appSubnetId parameter (found ${describeValue(ref.file, subnet)}). The app reaches the private stores through VNet integration.`));
      }
    }
    const functionModule = main.modules.find((m) => m.path === 'modules/functionApp.bicep');
    const passed = functionModule ? valueAt(functionModule.body, 'params.appSubnetId') : undefined;
    if (!passed || !/^networkIsolation \? network!?\.outputs\.appSubnetId : ''$/.test(normalized(main.source.slice(passed.start, passed.end)))) {
      out.push(violation(this.id, `${main.path}: module '${functionModule?.symbol ?? 'functionApp'}'`, `params.appSubnetId must be networkIsolation ? network!.outputs.appSubnetId : '' (found ${describeValue(main, passed)}).`));
    }
    return out;
  },
};

function sourceText(ref: ResourceRef, value: BicepValue): string {
  return ref.file.source.slice(value.start, value.end);
}

// ---------------------------------------------------------------------------------------------- roles

/**
 * Service Bus roles of the app's identity: what Microsoft's permissions table asks for the trigger ("Azure Service Bus
 * Data Receiver, Azure Service Bus Data Owner", https://learn.microsoft.com/azure/azure-functions/
 * functions-bindings-service-bus, identity-based connections, read 2026-12-04), Data Owner scoped to the triggered
 * queues (target-based scaling reads their runtime properties), plus Data Sender to enqueue; nothing else.
 */
export const SERVICE_BUS_APP_ROLES = [
  { id: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', name: 'Azure Service Bus Data Sender', on: 'Microsoft.ServiceBus/namespaces' },
  { id: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0', name: 'Azure Service Bus Data Receiver', on: 'Microsoft.ServiceBus/namespaces' },
  { id: '090c5cfd-751d-490a-894a-3ce6f1109419', name: 'Azure Service Bus Data Owner', on: 'Microsoft.ServiceBus/namespaces/queues' },
] as const;

const ROLE_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Role definition ids an assignment grants: written in roleDefinitionId, or the items of the list it loops over. */
function grantedRoleIds(ref: ResourceRef): string[] {
  const definition = valueAt(ref.resource.body, 'properties.roleDefinitionId');
  const text = definition ? sourceText(ref, definition) : '';
  const ids = [...text.matchAll(ROLE_ID)].map((m) => m[0]);
  if (ids.length > 0) return ids;
  if (ref.resource.loop && text.includes(ref.resource.loop.itemName)) {
    const source = ref.file.vars.find((v) => v.name === ref.resource.loop!.source.trim());
    return stringItems(source?.value);
  }
  return [];
}

const serviceBusRoles: Rule = {
  id: 'servicebus-roles-for-trigger',
  summary: "The app's identity holds on Service Bus exactly Data Sender and Data Receiver on the namespace and Data Owner on each triggered queue, as Microsoft's permissions table for the Service Bus trigger asks, and no other Service Bus role.",
  check(project) {
    const out: Violation[] = [];
    const granted: { role: string; on: string; queues: string[] }[] = [];
    for (const ref of project.resources('Microsoft.Authorization/roleAssignments')) {
      if (!isReferenceTo(valueAt(ref.resource.body, 'properties.principalId'), 'appPrincipalId')) continue;
      const target = scopeResource(project, ref);
      if (!target || !target.type.toLowerCase().startsWith('microsoft.servicebus/')) continue;
      const queues = target.loop ? (stringItems(ref.file.vars.find((v) => v.name === target.loop!.source.trim())?.value)) : [];
      for (const id of grantedRoleIds(ref)) {
        const known = SERVICE_BUS_APP_ROLES.find((r) => r.id === id);
        if (!known || !sameType(known.on, target.type)) {
          out.push(violation(this.id, where(ref), `grants role ${id}${known ? ` (${known.name})` : ''} on a ${target.type}, which the Service Bus trigger and the app's sends do not need. Allowed: ${SERVICE_BUS_APP_ROLES.map((r) => `${r.name} on ${r.on}`).join('; ')}.`));
        }
        granted.push({ role: id, on: target.type, queues });
      }
    }
    for (const role of SERVICE_BUS_APP_ROLES) {
      const found = granted.filter((g) => g.role === role.id && sameType(g.on, role.on));
      if (found.length === 0) {
        out.push(violation(this.id, 'infra', `no role assignment grants appPrincipalId '${role.name}' (${role.id}) on a ${role.on}. Microsoft's permissions table for the Service Bus trigger lists Data Receiver and Data Owner; the app sends with Data Sender.`));
      } else if (role.on.endsWith('/queues')) {
        const queues = new Set(found.flatMap((g) => g.queues));
        for (const queue of QUEUES) {
          if (!queues.has(queue)) out.push(violation(this.id, 'infra', `'${role.name}' is not granted on the queue '${queue}': target-based scaling of its trigger reads the queue's runtime properties.`));
        }
      }
    }
    return out;
  },
};

/** Read roles the operators get on the resource group for the workbook, the alerts and the logs (access.bicep cites the pages). */
export const OPERATOR_MONITORING_ROLES = [
  { id: '43d0d8ad-25c7-4714-9337-8ba259a9fe05', name: 'Monitoring Reader' },
  { id: '73c42c96-874c-492b-b04d-ab87d138a893', name: 'Log Analytics Reader' },
  { id: 'b279062a-9be3-42a0-92ae-8b3cf002ec4d', name: 'Workbook Reader' },
] as const;

const operatorMonitoringRead: Rule = {
  id: 'operators-monitoring-read',
  summary: 'The operators group gets Monitoring Reader, Log Analytics Reader and Workbook Reader on the resource group, so the workbook, alerts and logs open without a role granted by hand.',
  check(project) {
    const out: Violation[] = [];
    const assignments = project
      .resources('Microsoft.Authorization/roleAssignments')
      .filter((ref) => isReferenceTo(valueAt(ref.resource.body, 'properties.principalId'), 'operatorPrincipalId'));
    for (const role of OPERATOR_MONITORING_ROLES) {
      const grant = assignments.find((ref) => grantedRoleIds(ref).includes(role.id));
      if (!grant) {
        out.push(violation(this.id, 'infra', `no role assignment grants operatorPrincipalId '${role.name}' (${role.id}). Operators need it to read the workbook, the alerts and the logs.`));
      } else if (valueAt(grant.resource.body, 'scope') !== undefined) {
        out.push(violation(this.id, where(grant), `'${role.name}' must be granted on the resource group (no scope property), where the workspace, App Insights, the alerts and the workbook live (found scope ${describeValue(grant.file, valueAt(grant.resource.body, 'scope'))}).`));
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------- alerts that inform

/** ISO 8601 durations used by alert rules (PT5M, PT1H, P1D), in minutes; undefined when not one. */
export function durationMinutes(text: string): number | undefined {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(text);
  if (!match || text === 'P' || text === 'PT') return undefined;
  return Number(match[1] ?? 0) * 1440 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

const alertsNoFlood: Rule = {
  id: 'alerts-no-flood',
  summary: 'Every alert notifies once per state or once per id and day: metric alerts and stateful log alerts auto-resolve; a stateless log alert counts each row once (window = frequency, ingestion_time()), splits by an id and keeps only its first row of the UTC day (overrideQueryTimeRange P1D, startofday(now())).',
  check(project) {
    const out: Violation[] = [];
    for (const ref of project.resources('Microsoft.Insights/metricAlerts')) {
      out.push(...expectProperty(this.id, ref, 'properties.autoMitigate', true, 'A metric alert that does not resolve stays fired after the cause is gone, and the next fire is never noticed.'));
    }
    for (const ref of project.resources('Microsoft.Insights/scheduledQueryRules')) {
      const frequencyText = literalOf(valueAt(ref.resource.body, 'properties.evaluationFrequency'));
      const windowText = literalOf(valueAt(ref.resource.body, 'properties.windowSize'));
      const frequency = typeof frequencyText === 'string' ? durationMinutes(frequencyText) : undefined;
      const window = typeof windowText === 'string' ? durationMinutes(windowText) : undefined;
      if (frequency === undefined || window === undefined) {
        out.push(violation(this.id, where(ref), `properties.evaluationFrequency and properties.windowSize must be ISO 8601 literals (found ${String(frequencyText)}, ${String(windowText)}).`));
        continue;
      }
      const autoMitigate = literalOf(valueAt(ref.resource.body, 'properties.autoMitigate'));
      if (typeof autoMitigate !== 'boolean') {
        out.push(violation(this.id, where(ref), `properties.autoMitigate must be written as true or false (found ${describeValue(ref.file, valueAt(ref.resource.body, 'properties.autoMitigate'))}): the default decides how often operators are notified.`));
        continue;
      }
      if (window < frequency) {
        out.push(violation(this.id, where(ref), `properties.windowSize (${String(windowText)}) is shorter than properties.evaluationFrequency (${String(frequencyText)}): rows between windows would never alert.`));
      }
      if (autoMitigate) continue; // stateful: one notification when it fires, one when it resolves
      const why = 'A stateless alert notifies on every evaluation whose window holds the row: one failure would be mailed as often as windows overlap, and an hourly repeated event every hour.';
      if (window !== frequency) {
        out.push(violation(this.id, where(ref), `properties.windowSize (${String(windowText)}) must equal properties.evaluationFrequency (${String(frequencyText)}) when autoMitigate is false. ${why}`));
      }
      const queries = alternatives(valueAt(ref.resource.body, 'properties.criteria.allOf')).flatMap((c) =>
        c.kind === 'array' ? c.items.map((item) => ({ query: literalOf(valueAt(item, 'query')), item })) : [],
      );
      for (const { query, item } of queries) {
        const kql = typeof query === 'string' ? query : '';
        if (!kql.includes('ingestion_time()') || !new RegExp(`ago\\(${window}m\\)|ago\\(${window / 60}h\\)`).test(kql)) {
          out.push(violation(this.id, where(ref), `the query must keep only rows ingested in this evaluation's window (ingestion_time() and ago(${window}m)). ${why}`));
        }
        if (!kql.includes('startofday(now())')) {
          out.push(violation(this.id, where(ref), `the query must keep only each id's first row of the UTC day (startofday(now())): at most one notification per id and day.`));
        }
        const dimensions = valueAt(item, 'dimensions');
        if (dimensions?.kind !== 'array' || dimensions.items.length === 0) {
          out.push(violation(this.id, where(ref), `the condition must split by the id it deduplicates on (dimensions): otherwise one notification stands for many requests.`));
        }
      }
      const override = literalOf(valueAt(ref.resource.body, 'properties.overrideQueryTimeRange'));
      const overrideMinutes = typeof override === 'string' ? durationMinutes(override) : undefined;
      if (overrideMinutes === undefined || overrideMinutes < 1440) {
        out.push(violation(this.id, where(ref), `properties.overrideQueryTimeRange must be P1D or longer (found ${describeValue(ref.file, valueAt(ref.resource.body, 'properties.overrideQueryTimeRange'))}): the query looks back over the day to find each id's first row.`));
      }
    }
    return out;
  },
};

/** The runbook sections alerts and operators rely on; another engineer fills them, the headings stay stable. */
export const RUNBOOK_SECTIONS = [
  'A privacy request failed',
  'Dead letters on a queue',
  'A privacy request is overdue',
  'A backing store is down',
  'Rotating secrets and keys',
  'Purging a tenant',
  'Restoring from backup',
  'An erasure drill failed or was slow',
];

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function headingsOf(doc: string): string[] {
  return [...doc.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => m[1]!);
}

const alertsLinkRunbook: Rule = {
  id: 'alerts-link-runbook',
  summary: `Every alert's description links its runbook section (\${runbook}#<anchor>), each anchor is a heading of ${OPERATIONS_DOC}, and the runbook keeps the sections ${RUNBOOK_SECTIONS.map((s) => `"${s}"`).join(', ')}.`,
  check(project) {
    const out: Violation[] = [];
    const doc = project.text(OPERATIONS_DOC) ?? '';
    const headings = headingsOf(doc);
    const anchors = new Set(headings.map(headingAnchor));
    for (const section of RUNBOOK_SECTIONS) {
      if (!headings.includes(section)) out.push(violation(this.id, OPERATIONS_DOC, `has no heading "${section}": alerts and operators link it.`));
    }
    for (const ref of ALERT_TYPES.flatMap((type) => project.resources(type))) {
      const description = valueAt(ref.resource.body, 'properties.description');
      const text = description?.kind === 'string' ? description.value : '';
      const link = /\$\{runbook\}#([a-z0-9-]+)/.exec(text);
      if (!link) {
        out.push(violation(this.id, where(ref), `properties.description must end with its runbook link, 'Runbook: \${runbook}#<section>' (found ${describeValue(ref.file, description)}). An operator who receives the alert must find what to do.`));
      } else if (!anchors.has(link[1]!)) {
        out.push(violation(this.id, where(ref), `properties.description links '#${link[1]}', which is not a heading of ${OPERATIONS_DOC}.`));
      }
    }
    return out;
  },
};


const appInsightsWorkspaceSampling: Rule = {
  id: 'monitoring-app-insights-workspace-and-sampling',
  summary: 'Application Insights is workspace-based, sets its sampling, and accepts Entra ID only.',
  check(project) {
    const components = project.resources('Microsoft.Insights/components');
    if (components.length === 0) return none(this.id, 'Application Insights component', 'The alert rules query its traces.');
    return components.flatMap((ref) => [
      ...expectPresent(this.id, ref, 'properties.WorkspaceResourceId', 'Classic (non-workspace) App Insights is retired; retention comes from the workspace.'),
      ...expectPresent(this.id, ref, 'properties.SamplingPercentage', 'Sampling must be a decision, not a default: the alerts count trace lines.'),
      ...expectProperty(this.id, ref, 'properties.DisableLocalAuth', true, 'Telemetry is sent with the app identity, not the instrumentation key.'),
    ]);
  },
};

const deadLetterAlert: Rule = {
  id: 'alerts-dead-lettered-messages',
  summary: 'A metric alert fires when any Service Bus queue holds dead-lettered messages (DeadletteredMessages > 0).',
  check(project) {
    const found = project.resources('Microsoft.Insights/metricAlerts').some((ref) => {
      if (literalOf(valueAt(ref.resource.body, 'properties.enabled')) !== true) return false;
      const criteria = valueAt(ref.resource.body, 'properties.criteria.allOf');
      if (criteria?.kind !== 'array') return false;
      return criteria.items.some(
        (c) =>
          literalOf(valueAt(c, 'metricName')) === 'DeadletteredMessages' &&
          literalOf(valueAt(c, 'operator')) === 'GreaterThan' &&
          literalOf(valueAt(c, 'threshold')) === 0,
      );
    });
    return found
      ? []
      : none(this.id, "enabled metric alert on 'DeadletteredMessages' GreaterThan 0", 'A dead-lettered message is a privacy task that stopped: someone must act.');
  },
};

/** Telemetry names quoted in a KQL query ("privacy.request.failed", "queue.dead_lettered", ...). */
function telemetryNamesIn(query: string): string[] {
  return [...query.matchAll(/"([a-z]+(?:\.[a-z0-9_-]+)+)"/g)].map((m) => m[1]!);
}

/**
 * Whether code under shared/ writes this event or metric: `telemetry.event('<name>'`, or through a names object,
 * `telemetry.event(EVENT_NAMES.failed` with `failed: '<name>'` (shared/metrics/names.ts).
 */
/** Answers of emitted() with the app code they were computed from: a broken copy of a template reuses them. */
const EMITTED = new Map<string, { sources: string[]; result: boolean }>();

function emitted(project: InfraProject, name: string, kinds: readonly ('event' | 'metric')[]): boolean {
  const sources = project.appCode().map((f) => f.source);
  const key = `${kinds.join('+')}:${name}`;
  const cached = EMITTED.get(key);
  if (cached && cached.sources.length === sources.length && cached.sources.every((s, i) => s === sources[i])) return cached.result;
  const result = emittedUncached(project, name, kinds);
  EMITTED.set(key, { sources, result });
  return result;
}

function emittedUncached(project: InfraProject, name: string, kinds: readonly ('event' | 'metric')[]): boolean {
  const code = project.appCode();
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keys = code.flatMap(({ source }) => [...source.matchAll(new RegExp(`\\b(\\w+):\\s*'${escaped}'`, 'g'))].map((m) => m[1]!));
  return code.some(({ source }) =>
    kinds.some(
      (kind) =>
        source.includes(`telemetry.${kind}('${name}'`) ||
        keys.some((key) => new RegExp(`telemetry\\.${kind}\\(\\w+\\.${key}\\b`).test(source)),
    ),
  );
}

/** The KQL of every enabled scheduled query rule, with the rule it belongs to. */
function enabledQueries(project: InfraProject): { ref: ResourceRef; query: string }[] {
  return project.resources('Microsoft.Insights/scheduledQueryRules').flatMap((ref) => {
    if (literalOf(valueAt(ref.resource.body, 'properties.enabled')) !== true) return [];
    const criteria = valueAt(ref.resource.body, 'properties.criteria.allOf');
    if (criteria?.kind !== 'array') return [];
    return criteria.items.flatMap((c) => {
      const query = literalOf(valueAt(c, 'query'));
      return typeof query === 'string' ? [{ ref, query }] : [];
    });
  });
}

const telemetryAlerts: Rule = {
  id: 'alerts-on-emitted-telemetry',
  summary: `Scheduled query rules over App Insights traces fire on ${ALERT_TELEMETRY.map((t) => t.name).join(', ')}, and every telemetry name an alert query quotes is one the code under shared/ emits.`,
  check(project) {
    const out: Violation[] = [];
    const queries = enabledQueries(project);
    for (const { kind, name } of ALERT_TELEMETRY) {
      const found = queries.some(({ query }) => /^\s*traces\b/.test(query) && query.includes(`"${name}"`) && query.includes(`"${kind}"`));
      if (!found) {
        out.push(...none(this.id, `enabled scheduled query rule over traces for the ${kind} '${name}'`, 'Failures, missed deadlines, dead letters and forged webhooks must reach an operator.'));
      }
      if (!emitted(project, name, [kind]) && PENDING_TELEMETRY[name] === undefined) {
        out.push(violation(this.id, 'shared/', `no code emits the ${kind} '${name}' (telemetry.${kind}('${name}', ...)) that an alert watches: the alert would never fire.`));
      }
    }
    for (const { ref, query } of queries) {
      for (const name of new Set(telemetryNamesIn(query))) {
        if (!emitted(project, name, ['event', 'metric']) && PENDING_TELEMETRY[name] === undefined) {
          out.push(violation(this.id, where(ref), `the query watches '${name}', which no code under shared/ emits (telemetry.event/metric('${name}', ...)): a misspelt name never fires.`));
        }
      }
    }
    for (const [name, reason] of Object.entries(PENDING_TELEMETRY)) {
      if (emitted(project, name, ['event', 'metric'])) {
        out.push(violation(this.id, 'test/infra/rules.ts', `PENDING_TELEMETRY still lists '${name}' (${reason}), which the code now emits: remove the entry.`));
      }
    }
    return out;
  },
};

/** The alert names (`alert-…-<what>`) in the alerts table of docs/operations.md, or undefined without one. */
function documentedAlerts(doc: string): string[] | undefined {
  const heading = doc.indexOf('### Alerts: what each one means');
  if (heading < 0) return undefined;
  const lines = doc.slice(heading).split('\n').slice(1);
  const first = lines.findIndex((line) => line.startsWith('|'));
  if (first < 0) return undefined;
  const rows = lines.slice(first);
  const end = rows.findIndex((line) => !line.startsWith('|'));
  const table = end < 0 ? rows : rows.slice(0, end);
  return table.flatMap((line) => {
    const match = /^\|\s*`alert-…-([a-z0-9-]+)`/.exec(line);
    return match ? [match[1]!] : [];
  });
}

const ALERT_TYPES = ['Microsoft.Insights/metricAlerts', 'Microsoft.Insights/scheduledQueryRules'];

const alertsDocumented: Rule = {
  id: 'alerts-match-operations-doc',
  summary: `Every alert the alerts table of ${OPERATIONS_DOC} lists is declared (named alert-\${namePrefix}-<what>) and enabled, and every declared alert is in that table.`,
  check(project) {
    const doc = project.text(OPERATIONS_DOC);
    const promised = doc === undefined ? undefined : documentedAlerts(doc);
    if (promised === undefined || promised.length === 0) {
      return [violation(this.id, OPERATIONS_DOC, "has no '### Alerts: what each one means' table listing `alert-…-<what>` rows. An operator must find what each alert means.")];
    }
    const declared = ALERT_TYPES.flatMap((type) => project.resources(type)).map((ref) => {
      const name = valueAt(ref.resource.body, 'name');
      const suffix = name?.kind === 'string' ? /^alert-\$\{namePrefix\}-([a-z0-9-]+)$/.exec(name.value)?.[1] : undefined;
      return { ref, suffix, enabled: literalOf(valueAt(ref.resource.body, 'properties.enabled')) === true };
    });
    const out: Violation[] = [];
    for (const what of promised) {
      const alert = declared.find((d) => d.suffix === what);
      if (!alert) {
        out.push(...none(this.id, `alert named 'alert-\${namePrefix}-${what}'`, `${OPERATIONS_DOC} promises it in its alerts table.`));
      } else if (!alert.enabled) {
        out.push(violation(this.id, where(alert.ref), `properties.enabled must be true: ${OPERATIONS_DOC} promises the alert 'alert-…-${what}'.`));
      }
    }
    for (const alert of declared) {
      if (alert.suffix === undefined || !promised.includes(alert.suffix)) {
        out.push(violation(this.id, where(alert.ref), `is not in the alerts table of ${OPERATIONS_DOC} (as \`alert-…-<what>\` for a name 'alert-\${namePrefix}-<what>'): an operator who receives it needs to know what it means and where to look first.`));
      }
    }
    return out;
  },
};

/** One composite index as written: its paths and orders (indexes not written as literals are left out). */
type CompositeIndex = [path: string, order: string][];

function compositeIndexesOf(ref: ResourceRef): CompositeIndex[] {
  const indexes = valueAt(ref.resource.body, 'properties.resource.indexingPolicy.compositeIndexes');
  if (indexes?.kind !== 'array') return [];
  return indexes.items.flatMap((index) => {
    if (index.kind !== 'array') return [];
    const paths = index.items.map((p) => [literalOf(valueAt(p, 'path')), literalOf(valueAt(p, 'order')) ?? 'ascending'] as const);
    return paths.every(([p, o]) => typeof p === 'string' && typeof o === 'string') ? [paths as CompositeIndex] : [];
  });
}

function sameIndex(a: readonly (readonly [string, string])[], b: readonly (readonly [string, string])[]): boolean {
  return a.length === b.length && a.every(([p, o], i) => p === b[i]![0] && o === b[i]![1]);
}

function showIndex(index: readonly (readonly [string, string])[]): string {
  return `(${index.map(([p, o]) => `${p} ${o}`).join(', ')})`;
}

/** `ORDER BY` clauses on two or more properties in the app's queries, as composite index paths. */
function multiPropertyOrderBys(project: InfraProject): { at: string; clause: string; index: [string, string][] }[] {
  const item = String.raw`c\.[A-Za-z_][\w.]*(?:\s+(?:ASC|DESC))?`;
  const pattern = new RegExp(String.raw`ORDER BY\s+(${item}(?:\s*,\s*${item})+)`, 'gi');
  return project.appCode().flatMap(({ path: file, source }) =>
    [...source.matchAll(pattern)].map((match) => ({
      at: `${file}:${source.slice(0, match.index).split('\n').length}`,
      clause: match[0],
      index: match[1]!.split(',').map((part): [string, string] => {
        const [property, direction] = part.trim().split(/\s+/);
        return [`/${property!.slice(2).replace(/\./g, '/')}`, direction?.toUpperCase() === 'DESC' ? 'descending' : 'ascending'];
      }),
    })),
  );
}

const cosmosCompositeIndexes: Rule = {
  id: 'cosmos-composite-indexes',
  summary: "The retention sweep's composite indexes are declared on top of the default indexing policy, and every ORDER BY on two or more properties in shared/ has a matching composite index.",
  check(project) {
    const out: Violation[] = [];
    const containers = project.resources('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers');
    const byId = (id: string) => containers.find((c) => literalOf(valueAt(c.resource.body, 'properties.resource.id')) === id);
    for (const wanted of COSMOS_COMPOSITE_INDEXES) {
      const code = project.appCode().find((f) => f.path === wanted.servesFile);
      if (!code?.source.includes(wanted.servesQuery)) {
        out.push(violation(this.id, wanted.servesFile, `no longer contains the query '${wanted.servesQuery}' that the composite index ${showIndex(wanted.paths)} on '${wanted.container}' is declared for: review the index against the new query (COSMOS_COMPOSITE_INDEXES).`));
      }
      const ref = byId(wanted.container);
      if (!ref) continue; // cosmos-containers-ttl-and-partition-key reports a missing container
      if (!compositeIndexesOf(ref).some((index) => sameIndex(index, wanted.paths))) {
        out.push(violation(this.id, where(ref), `properties.resource.indexingPolicy.compositeIndexes must include ${showIndex(wanted.paths)} (found ${describeValue(ref.file, valueAt(ref.resource.body, 'properties.resource.indexingPolicy.compositeIndexes'))}). The retention sweep queries '${wanted.servesQuery}' on every tenant every night.`));
      }
    }
    for (const ref of containers) {
      const policy = valueAt(ref.resource.body, 'properties.resource.indexingPolicy');
      if (!policy) continue; // the default policy: every path indexed
      const included = valueAt(policy, 'includedPaths');
      const includesAll = included?.kind === 'array' && included.items.some((p) => literalOf(valueAt(p, 'path')) === '/*');
      if (literalOf(valueAt(policy, 'indexingMode')) !== 'consistent' || !includesAll) {
        out.push(violation(this.id, where(ref), "an indexingPolicy must keep the default: indexingMode 'consistent' and includedPaths '/*'. Every other query relies on every path being indexed."));
      }
    }
    const declared = containers.flatMap((ref) => compositeIndexesOf(ref));
    for (const { at, clause, index } of multiPropertyOrderBys(project)) {
      const opposite = index.map(([p, o]): [string, string] => [p, o === 'ascending' ? 'descending' : 'ascending']);
      if (!declared.some((d) => sameIndex(d, index) || sameIndex(d, opposite))) {
        out.push(violation(this.id, at, `'${clause}' needs the composite index ${showIndex(index)} (or all orders reversed) on its container. Cosmos DB refuses an ORDER BY on two or more properties without one.`));
      }
    }
    return out;
  },
};

/** The repository root: the workbook rule reads the template a `loadTextContent()` names. */
const REPOSITORY_ROOT = path.resolve(__dirname, '../..');

const workbookTemplate: Rule = {
  id: 'monitoring-workbook-template',
  summary: "Every workbook is shared, linked to its App Insights component, and loads its template from a file under infra/ that is Workbook JSON ('Notebook/1.0' with items).",
  check(project) {
    return project.resources('Microsoft.Insights/workbooks').flatMap((ref) => {
      const out = [
        ...expectProperty(this.id, ref, 'kind', 'shared', 'A user workbook is visible to its author only.'),
        ...expectPresent(this.id, ref, 'properties.sourceId', 'Linked to the App Insights component, the workbook appears under it and queries its traces.'),
      ];
      const data = valueAt(ref.resource.body, 'properties.serializedData');
      const match = data?.kind === 'expression' ? /^loadTextContent\(\s*'([^']+)'\s*\)$/.exec(data.text.trim()) : null;
      if (!match) {
        return [...out, violation(this.id, where(ref), `properties.serializedData must be loadTextContent('<template>.json') (found ${describeValue(ref.file, data)}). The template is a reviewed file, tested against the names the app emits.`)];
      }
      const file = path.posix.join(path.posix.dirname(ref.file.path), match[1]!);
      let template: { version?: unknown; items?: unknown } | undefined;
      try {
        template = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8')) as { version?: unknown; items?: unknown };
      } catch (error) {
        const problem = (error as { code?: unknown }).code === 'ENOENT' ? 'does not exist' : 'is not valid JSON';
        return [...out, violation(this.id, where(ref), `the workbook template ${file} ${problem}.`)];
      }
      if (template.version !== 'Notebook/1.0' || !Array.isArray(template.items) || template.items.length === 0) {
        out.push(violation(this.id, where(ref), `the workbook template ${file} must be Workbook JSON: version 'Notebook/1.0' and a non-empty items array.`));
      }
      return out;
    });
  },
};

const appSettingsNoSecrets: Rule = {
  id: 'app-settings-no-secrets',
  summary: 'No app setting holds a key, a connection string with a key, or a secret value; no template reads keys (listKeys()).',
  check(project) {
    const out: Violation[] = [];
    for (const { ref, settings } of appSettingsOf(project)) {
      for (const [name, value] of settings) {
        const text = ref.file.source.slice(value.start, value.end);
        if (SECRET_LOOKING.test(text)) {
          out.push(violation(this.id, where(ref), `app setting ${name} looks like a key or connection string (${describeValue(ref.file, value)}). Use an identity-based connection.`));
        }
        const isSecretName = SECRET_SETTING_NAMES.includes(name) || name.startsWith('HUBSPOT_TOKEN_');
        const literal = literalOf(value);
        if (isSecretName && !(typeof literal === 'string' && literal.startsWith('@Microsoft.KeyVault('))) {
          out.push(violation(this.id, where(ref), `app setting ${name} is a secret: leave it out (the app reads it from Key Vault through KEY_VAULT_URL) or use a Key Vault reference.`));
        }
      }
    }
    for (const file of project.templates()) {
      const code = codeOf(file);
      const pattern = new RegExp(SECRET_LOOKING.source, 'gi');
      for (let match = pattern.exec(code); match; match = pattern.exec(code)) {
        const line = code.slice(0, match.index).split('\n').length;
        out.push(violation(this.id, `${file.path}:${line}`, `reads or writes a key ('${match[0]}'). Local auth is off everywhere; use the app's identity.`));
      }
    }
    return out;
  },
};

const appSettingsRequired: Rule = {
  id: 'app-settings-required',
  summary: 'Every setting the app reads in Azure is provisioned, with the contract values where they are fixed.',
  check(project) {
    const all = appSettingsOf(project);
    if (all.length === 0) return none(this.id, "sites/config 'appsettings'", 'The app validates its settings at start-up and would refuse to start.');
    const out: Violation[] = [];
    for (const { ref, settings } of all) {
      for (const [name, expected] of Object.entries(REQUIRED_APP_SETTINGS)) {
        const value = settings.get(name);
        if (!value || literalOf(value) === '' || literalOf(value) === null) {
          out.push(violation(this.id, where(ref), `app setting ${name} is not provisioned. The app reads it (shared/config/settings.ts).`));
        } else if (expected !== undefined && literalOf(value) !== expected) {
          out.push(violation(this.id, where(ref), `app setting ${name} must be '${expected}' (found ${describeValue(ref.file, value)}).`));
        }
      }
    }
    return out;
  },
};

const appSettingsFlexCompatible: Rule = {
  id: 'app-settings-flex-compatible',
  summary: 'No app setting that the Flex Consumption plan rejects (runtime and deployment live in functionAppConfig).',
  check(project) {
    return appSettingsOf(project).flatMap(({ ref, settings }) =>
      FLEX_UNSUPPORTED_SETTINGS.filter((name) => settings.has(name)).map((name) =>
        violation(this.id, where(ref), `app setting ${name} is not supported on Flex Consumption (use properties.functionAppConfig, or the identity-based AzureWebJobsStorage__accountName).`),
      ),
    );
  },
};

const appSettingsAcceptedByApp: Rule = {
  id: 'app-settings-accepted-by-app',
  summary: "The provisioned app settings pass the app's own start-up validation, and each one is a setting the app or the host reads.",
  check(project) {
    const out: Violation[] = [];
    for (const { ref, settings } of appSettingsOf(project)) {
      const env: Record<string, string> = {};
      for (const [name, value] of settings) {
        if (!SETTING_NAMES.includes(name) && !HOST_SETTING.test(name)) {
          out.push(violation(this.id, where(ref), `app setting ${name} is read by neither the app (shared/config/settings.ts) nor the Functions host: a typo?`));
        }
        const literal = literalOf(value);
        // A value only known at deployment (a parameter, an output) stands in as a well-formed placeholder.
        env[name] = typeof literal === 'string' ? literal : /(Endpoint|Uri|_URL)$/.test(name) ? 'https://placeholder.invalid/' : 'placeholder';
      }
      try {
        loadSettings(env);
      } catch (error) {
        if (!(error instanceof SettingsError)) throw error;
        out.push(violation(this.id, where(ref), `the app would refuse to start with these settings: ${error.problems.join('; ')}.`));
      }
    }
    return out;
  },
};

const localDevAuthOff: Rule = {
  id: 'app-settings-local-dev-auth-off',
  summary: "LOCAL_DEV_AUTH is 'false' in Azure.",
  check(project) {
    return appSettingsOf(project).flatMap(({ ref, settings }) => {
      const value = settings.get('LOCAL_DEV_AUTH');
      if (literalOf(value) === 'false') return [];
      return [
        violation(this.id, where(ref), `app setting LOCAL_DEV_AUTH must be 'false' (found ${describeValue(ref.file, value)}). 'true' trusts any x-ms-client-principal header a caller sends.`),
      ];
    });
  },
};

const appIdentityRoles: Rule = {
  id: 'app-identity-roles',
  summary: "The app's identity holds exactly the data-plane roles it uses, each on the right kind of resource.",
  check(project) {
    const out: Violation[] = [];
    const assignments = project.resources('Microsoft.Authorization/roleAssignments');
    for (const role of APP_ROLES) {
      const granted = assignments.some((ref) => {
        const definition = valueAt(ref.resource.body, 'properties.roleDefinitionId');
        const principal = valueAt(ref.resource.body, 'properties.principalId');
        const scope = valueAt(ref.resource.body, 'scope');
        const scopeResource = scope?.kind === 'expression' ? project.symbol(ref.file, scope.text.trim()) : undefined;
        return (
          definition !== undefined &&
          ref.file.source.slice(definition.start, definition.end).includes(role.id) &&
          isReferenceTo(principal, 'appPrincipalId') &&
          scopeResource !== undefined &&
          sameType(scopeResource.type, role.on)
        );
      });
      if (!granted) {
        out.push(violation(this.id, 'infra', `no role assignment grants appPrincipalId '${role.name}' (${role.id}) on a ${role.on}.`));
      }
    }
    const main = project.file('infra/main.bicep');
    if (main) {
      for (const module of main.modules) {
        const passed = valueAt(module.body, 'params.appPrincipalId');
        if (passed && !/\.outputs\.principalId$/.test(main.source.slice(passed.start, passed.end).trim())) {
          out.push(violation(this.id, `${main.path}: module '${module.symbol}'`, `params.appPrincipalId must be the Function App's principalId output (found ${describeValue(main, passed)}).`));
        }
      }
    }
    return out;
  },
};

const customerManagedKeysOptional: Rule = {
  id: 'cmk-optional-off-by-default',
  summary: 'Customer-managed keys for Cosmos DB and the media account are a parameter, off by default.',
  check(project) {
    const out: Violation[] = [];
    const main = project.file('infra/main.bicep');
    const param = main ? paramNamed(main, 'enableCustomerManagedKeys') : undefined;
    if (!main || !param || param.type !== 'bool' || literalOf(param.defaultValue) !== false) {
      out.push(violation(this.id, 'infra/main.bicep', "param enableCustomerManagedKeys bool = false must be declared. Customer-managed keys are optional and off by default."));
    }
    const referencesSwitch = (ref: ResourceRef, property: string) => {
      const value = valueAt(ref.resource.body, property);
      return value?.kind === 'expression' && value.text.includes('enableCustomerManagedKeys');
    };
    for (const ref of project.resources('Microsoft.DocumentDB/databaseAccounts')) {
      if (!referencesSwitch(ref, 'properties.keyVaultKeyUri')) {
        out.push(violation(this.id, where(ref), 'properties.keyVaultKeyUri must follow enableCustomerManagedKeys.'));
      }
    }
    const { account } = mediaStorage(project);
    if (account && !referencesSwitch(account, 'properties.encryption.keySource')) {
      out.push(violation(this.id, where(account), 'properties.encryption.keySource must follow enableCustomerManagedKeys.'));
    }
    return out;
  },
};

const parameterFilesMatchMain: Rule = {
  id: 'bicepparam-matches-main',
  summary: 'Every .bicepparam file uses main.bicep, sets only parameters it declares, and sets every required one.',
  check(project) {
    const out: Violation[] = [];
    for (const file of project.parameterFiles()) {
      const target = file.using === undefined ? undefined : project.file(path.posix.join(path.posix.dirname(file.path), file.using));
      if (!target || target.path !== 'infra/main.bicep') {
        out.push(violation(this.id, file.path, `must start with using pointing at infra/main.bicep (found ${file.using === undefined ? 'no using' : `'${file.using}'`}).`));
        continue;
      }
      for (const assignment of file.paramAssignments) {
        if (!paramNamed(target, assignment.name)) {
          out.push(violation(this.id, `${file.path}: param '${assignment.name}'`, `is not a parameter of ${target.path}.`));
        }
      }
      for (const param of target.params) {
        if (param.defaultValue === undefined && !file.paramAssignments.some((a) => a.name === param.name)) {
          out.push(violation(this.id, file.path, `does not set the required parameter '${param.name}' of ${target.path}.`));
        }
      }
    }
    return out;
  },
};

/** API versions checked against Microsoft's template reference (learn.microsoft.com/azure/templates). */
export const CHECKED_API_VERSIONS: Record<string, string[]> = {
  'Microsoft.Authorization/roleAssignments': ['2022-04-01'],
  'Microsoft.DocumentDB/databaseAccounts': ['2025-10-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases': ['2025-10-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers': ['2025-10-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments': ['2025-10-15'],
  'Microsoft.Insights/actionGroups': ['2023-01-01'],
  'Microsoft.Insights/components': ['2020-02-02'],
  'Microsoft.Insights/diagnosticSettings': ['2021-05-01-preview'],
  'Microsoft.Insights/metricAlerts': ['2026-01-01'],
  'Microsoft.Insights/scheduledQueryRules': ['2023-12-01'],
  'Microsoft.Insights/workbooks': ['2023-06-01'],
  'Microsoft.KeyVault/vaults': ['2025-05-01'],
  'Microsoft.KeyVault/vaults/keys': ['2025-05-01'],
  'Microsoft.ManagedIdentity/userAssignedIdentities': ['2024-11-30'],
  'Microsoft.Network/privateDnsZones': ['2024-06-01'],
  'Microsoft.Network/privateDnsZones/virtualNetworkLinks': ['2024-06-01'],
  'Microsoft.Network/privateEndpoints': ['2025-05-01'],
  'Microsoft.Network/privateEndpoints/privateDnsZoneGroups': ['2025-05-01'],
  'Microsoft.Network/virtualNetworks': ['2025-05-01'],
  'Microsoft.OperationalInsights/workspaces': ['2025-07-01'],
  'Microsoft.OperationalInsights/workspaces/tables': ['2025-07-01'],
  'Microsoft.ServiceBus/namespaces': ['2024-01-01'],
  'Microsoft.ServiceBus/namespaces/queues': ['2024-01-01'],
  'Microsoft.Storage/storageAccounts': ['2025-06-01'],
  'Microsoft.Storage/storageAccounts/blobServices': ['2025-06-01'],
  'Microsoft.Storage/storageAccounts/blobServices/containers': ['2025-06-01'],
  'Microsoft.Storage/storageAccounts/managementPolicies': ['2025-06-01'],
  'Microsoft.Web/serverfarms': ['2025-03-01'],
  'Microsoft.Web/sites': ['2025-03-01'],
  'Microsoft.Web/sites/basicPublishingCredentialsPolicies': ['2025-03-01'],
  'Microsoft.Web/sites/config': ['2025-03-01'],
};

const apiVersionsChecked: Rule = {
  id: 'api-versions-checked',
  summary: "Every resource uses a type and API version that was checked against Microsoft's reference (CHECKED_API_VERSIONS).",
  check(project) {
    return project.templates().flatMap((file) =>
      file.resources.flatMap((resource) => {
        const known = Object.entries(CHECKED_API_VERSIONS).find(([type]) => sameType(type, resource.type))?.[1];
        if (known?.includes(resource.apiVersion)) return [];
        return [
          violation(this.id, where({ file, resource }), `API version ${resource.apiVersion} has not been checked against Microsoft's template reference (checked: ${known?.join(', ') ?? 'none for this type'}). Check it there, then add it to CHECKED_API_VERSIONS; the Bicep CLI is not available to catch a wrong one.`),
        ];
      }),
    );
  },
};

const modulesWired: Rule = {
  id: 'modules-wired',
  summary: 'Every module call passes only parameters the module declares and every required one, and reads only outputs it has.',
  check(project) {
    const out: Violation[] = [];
    for (const file of project.templates()) {
      const bySymbol = new Map<string, BicepFile>();
      for (const module of file.modules) {
        const at = `${file.path}: module '${module.symbol}'`;
        const target = project.file(path.posix.join(path.posix.dirname(file.path), module.path));
        if (!target) {
          out.push(violation(this.id, at, `'${module.path}' is not a template under infra/.`));
          continue;
        }
        bySymbol.set(module.symbol, target);
        const params = valueAt(module.body, 'params');
        const passed = params?.kind === 'object' ? params.properties.map((p) => p.key) : [];
        for (const name of passed) {
          if (!paramNamed(target, name)) out.push(violation(this.id, at, `passes '${name}', which ${target.path} does not declare.`));
        }
        for (const param of target.params) {
          if (param.defaultValue === undefined && !passed.includes(param.name)) {
            out.push(violation(this.id, at, `does not pass the required parameter '${param.name}' of ${target.path}.`));
          }
        }
      }
      const code = codeOf(file);
      for (const match of code.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        const target = bySymbol.get(match[1]!);
        if (target && !target.outputs.some((o) => o.name === match[2])) {
          out.push(violation(this.id, `${file.path}: module '${match[1]}'`, `reads output '${match[2]}', which ${target.path} does not declare.`));
        }
      }
    }
    return out;
  },
};

/**
 * Linter rules bicepconfig.json must switch on, at least at this level (rule reference:
 * https://learn.microsoft.com/azure/azure-resource-manager/bicep/linter, read 2026-12-04). docs/operations.md says why.
 */
export const REQUIRED_LINTER_RULES: Record<string, 'error' | 'warning'> = {
  'no-hardcoded-location': 'error',
  'explicit-values-for-loc-params': 'error',
  'secure-parameter-default': 'error',
  'secure-secrets-in-params': 'error',
  'outputs-should-not-contain-secrets': 'error',
  'no-hardcoded-env-urls': 'error',
  'no-unused-params': 'error',
  'no-unused-vars': 'error',
  'no-unused-existing-resources': 'error',
  'use-recent-api-versions': 'warning',
};

const deploymentTooling: Rule = {
  id: 'deployment-tooling',
  summary: "azure.yaml deploys infra/ and the Function App (service 'api', host function, language ts) with a prepackage build and a preprovision check, and bicepconfig.json switches on the chosen linter rules.",
  check(project) {
    const out: Violation[] = [];
    const config = project.text('bicepconfig.json');
    let rules: Record<string, { level?: string }> = {};
    try {
      rules = (JSON.parse(config ?? '{}') as { analyzers?: { core?: { rules?: Record<string, { level?: string }> } } }).analyzers?.core?.rules ?? {};
    } catch {
      out.push(violation(this.id, 'bicepconfig.json', 'is not valid JSON.'));
    }
    const rank = { off: 0, info: 1, warning: 2, error: 3 } as Record<string, number>;
    for (const [rule, level] of Object.entries(REQUIRED_LINTER_RULES)) {
      const found = rules[rule]?.level;
      if ((rank[found ?? 'off'] ?? 0) < rank[level]!) {
        out.push(violation(this.id, 'bicepconfig.json', `analyzers.core.rules['${rule}'].level must be '${level}' or stricter (found ${found === undefined ? 'not set' : `'${found}'`}).`));
      }
    }
    const azd = project.text('azure.yaml') ?? '';
    const expectations: [RegExp, string][] = [
      [/^infra:\n(?:\s+.*\n)*?\s+path: infra\n/m, "infra.path must be 'infra'"],
      [/^services:\n\s+api:\n/m, "a service 'api' must be declared"],
      [/^\s+host: function$/m, "the api service's host must be 'function' (Azure Functions)"],
      [/^\s+language: ts$/m, "the api service's language must be 'ts'"],
      [/^\s+project: \.$/m, "the api service's project must be '.'"],
      [/prepackage:\n(?:\s+.*\n)*?\s+run: npm ci && npm run build\n/m, "a prepackage hook must run 'npm ci && npm run build'"],
      [/preprovision:\n(?:\s+.*\n)*?\s+run: \.\/infra\/hooks\/preprovision\.sh\n/m, 'a preprovision hook must run ./infra/hooks/preprovision.sh (UK South only)'],
    ];
    for (const [pattern, what] of expectations) {
      if (!pattern.test(azd)) out.push(violation(this.id, 'azure.yaml', `${what}.`));
    }
    const sites = project.resources('Microsoft.Web/sites');
    for (const ref of sites) {
      const tags = valueAt(ref.resource.body, 'tags');
      const text = tags ? sourceText(ref, tags) : '';
      if (!/'azd-service-name':\s*azdServiceName/.test(text) || literalOf(paramNamed(ref.file, 'azdServiceName')?.defaultValue) !== 'api') {
        out.push(violation(this.id, where(ref), "tags must include 'azd-service-name': azdServiceName (default 'api'): azd deploy finds the app by it."));
      }
    }
    return out;
  },
};

export const RULES: readonly Rule[] = [
  locationParamUkSouthOnly,
  resourcesUseLocation,
  storageTls,
  storageNoPublicBlobAccess,
  storageNoSharedKey,
  storageSoftDeleteJustified,
  storageMediaErasureFinal,
  storageMediaLifecycle,
  functionAppHttpsOnly,
  functionAppMinTls,
  functionAppFtpsDisabled,
  functionAppBasicPublishingOff,
  functionAppSystemIdentity,
  functionAppFlexNode22,
  functionAppEntraAuth,
  cosmosLocalAuthOff,
  cosmosContainers,
  cosmosCompositeIndexes,
  cosmosContinuousBackup,
  cosmosDataPlaneRbac,
  serviceBusLocalAuthOff,
  serviceBusQueues,
  keyVaultRbac,
  keyVaultPurgeProtection,
  keyVaultSoftDelete,
  logRetention,
  diagnosticSettings,
  networkIsolationRule,
  serviceBusRoles,
  operatorMonitoringRead,
  alertsNoFlood,
  alertsLinkRunbook,
  appInsightsWorkspaceSampling,
  deadLetterAlert,
  telemetryAlerts,
  alertsDocumented,
  workbookTemplate,
  appSettingsNoSecrets,
  appSettingsRequired,
  appSettingsFlexCompatible,
  appSettingsAcceptedByApp,
  localDevAuthOff,
  appIdentityRoles,
  customerManagedKeysOptional,
  parameterFilesMatchMain,
  modulesWired,
  apiVersionsChecked,
  deploymentTooling,
];
