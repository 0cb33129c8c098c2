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
    this.files = entries.filter(([file]) => isBicep(file)).map(([file, source]) => parseBicep(source, file));
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

function isBicep(file: string): boolean {
  return /\.bicep(param)?$/.test(file);
}

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
const GLOBAL_ONLY_TYPES = ['Microsoft.Insights/metricAlerts', 'Microsoft.Insights/actionGroups'];

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
  LOCAL_DEV_AUTH: 'false',
};

/** Secrets the app reads from Key Vault (shared/config/settings.ts): never an app setting value. */
export const SECRET_SETTING_NAMES: readonly string[] = SECRET_NAMES;

/** Settings the Functions host reads (not the app): allowed besides the app's own. */
const HOST_SETTING = /^(AzureWebJobsStorage__\w+|APPLICATIONINSIGHTS_\w+)$/;

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
];

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

const functionAppFlexNode20: Rule = {
  id: 'functionapp-flex-consumption-node20',
  summary: 'The Function App runs on a Flex Consumption (FC1) plan, Linux, Node 20.',
  check(project) {
    const why = 'The app is built and tested for Node 20 on Flex Consumption.';
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
        ...expectProperty(this.id, ref, 'properties.functionAppConfig.runtime.version', '20', why),
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
      const tier = literalOf(valueAt(ref.resource.body, 'sku.name'));
      if (tier !== 'Standard' && tier !== 'Premium') {
        out.push(violation(this.id, where(ref), `sku.name must be 'Standard' or 'Premium' (found ${describeValue(ref.file, valueAt(ref.resource.body, 'sku.name'))}). Duplicate detection needs it.`));
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

const logAnalyticsRetention: Rule = {
  id: 'monitoring-log-analytics-retention',
  summary: 'The Log Analytics workspace sets its retention.',
  check(project) {
    const workspaces = project.resources('Microsoft.OperationalInsights/workspaces');
    if (workspaces.length === 0) return none(this.id, 'Log Analytics workspace', 'App Insights and the alert queries need one.');
    return workspaces.flatMap((ref) => expectPresent(this.id, ref, 'properties.retentionInDays', 'Logs must not be kept longer than needed.'));
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
function emitted(project: InfraProject, name: string, kinds: readonly ('event' | 'metric')[]): boolean {
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
      if (!emitted(project, name, [kind])) {
        out.push(violation(this.id, 'shared/', `no code emits the ${kind} '${name}' (telemetry.${kind}('${name}', ...)) that an alert watches: the alert would never fire.`));
      }
    }
    for (const { ref, query } of queries) {
      for (const name of new Set(telemetryNamesIn(query))) {
        if (!emitted(project, name, ['event', 'metric'])) {
          out.push(violation(this.id, where(ref), `the query watches '${name}', which no code under shared/ emits (telemetry.event/metric('${name}', ...)): a misspelt name never fires.`));
        }
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
  'Microsoft.DocumentDB/databaseAccounts': ['2024-11-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases': ['2024-11-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers': ['2024-11-15'],
  'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments': ['2024-11-15'],
  'Microsoft.Insights/actionGroups': ['2023-01-01'],
  'Microsoft.Insights/components': ['2020-02-02'],
  'Microsoft.Insights/metricAlerts': ['2018-03-01'],
  'Microsoft.Insights/scheduledQueryRules': ['2023-12-01'],
  'Microsoft.Insights/workbooks': ['2023-06-01'],
  'Microsoft.KeyVault/vaults': ['2023-07-01'],
  'Microsoft.KeyVault/vaults/keys': ['2023-07-01'],
  'Microsoft.ManagedIdentity/userAssignedIdentities': ['2023-01-31'],
  'Microsoft.OperationalInsights/workspaces': ['2023-09-01'],
  'Microsoft.ServiceBus/namespaces': ['2024-01-01'],
  'Microsoft.ServiceBus/namespaces/queues': ['2024-01-01'],
  'Microsoft.Storage/storageAccounts': ['2023-05-01'],
  'Microsoft.Storage/storageAccounts/blobServices': ['2023-05-01'],
  'Microsoft.Storage/storageAccounts/blobServices/containers': ['2023-05-01'],
  'Microsoft.Storage/storageAccounts/managementPolicies': ['2023-05-01'],
  'Microsoft.Web/serverfarms': ['2024-04-01'],
  'Microsoft.Web/sites': ['2024-04-01'],
  'Microsoft.Web/sites/basicPublishingCredentialsPolicies': ['2024-04-01'],
  'Microsoft.Web/sites/config': ['2024-04-01'],
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
  functionAppFlexNode20,
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
  logAnalyticsRetention,
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
];
