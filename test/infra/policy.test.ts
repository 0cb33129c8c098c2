import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BicepSyntaxError, literalOf, parseBicep, valueAt } from './bicep';
import { InfraProject, readInfraSources, RULES, runRules } from './rules';

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = readInfraSources(ROOT);

/** A copy of the sources with one file changed; fails loudly when the text to change is not there. */
function mutate(file: string, from: string, to: string): Record<string, string> {
  const source = SOURCES[file];
  if (source === undefined) throw new Error(`no file ${file} under infra/`);
  if (!source.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}: the test no longer breaks anything`);
  return { ...SOURCES, [file]: source.split(from).join(to) };
}

function messagesFor(sources: Record<string, string>, rule?: string): string[] {
  return runRules(new InfraProject(sources))
    .filter((v) => rule === undefined || v.rule === rule)
    .map((v) => v.message);
}

describe('the Bicep reader', () => {
  it('finds resources with their full type, API version, parent and loop', () => {
    const file = parseBicep(
      `
param names array
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st'
  resource blobs 'blobServices' = {
    name: 'default'
  }
}
resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for (n, i) in names: {
  name: n
}]
resource maybe 'Microsoft.Web/sites@2024-04-01' = if (!empty(names)) {
  name: 'app'
}
`,
      'inline.bicep',
    );
    const byName = Object.fromEntries(file.resources.map((r) => [r.symbol, r]));
    expect(byName['blobs']).toMatchObject({ type: 'Microsoft.Storage/storageAccounts/blobServices', apiVersion: '2023-05-01', lexicalParent: 'account' });
    expect(byName['queues']?.loop).toEqual({ itemName: 'n', source: 'names' });
    expect(byName['maybe']?.condition).toBe('!empty(names)');
  });

  it('reads nested objects, arrays, negative numbers, interpolated and multi-line strings', () => {
    const file = parseBicep(
      `
var settings = {
  'odata.type': 'x'
  ttl: -1
  list: [
    'a'
    'b', 'c'
  ]
  uri: '\${endpoint}keys/\\'k\\''
  query: '''
traces
| where message has "x"
'''
  nested: { a: true, b: null }
}
`,
      'inline.bicep',
    );
    const value = file.vars[0]!.value;
    expect(literalOf(valueAt(value, 'odata.type'))).toBeUndefined(); // a key with a dot is not a path
    expect(value.kind === 'object' && value.properties.map((p) => p.key)).toEqual(['odata.type', 'ttl', 'list', 'uri', 'query', 'nested']);
    expect(literalOf(valueAt(value, 'ttl'))).toBe(-1);
    const list = valueAt(value, 'list');
    expect(list?.kind === 'array' && list.items.map(literalOf)).toEqual(['a', 'b', 'c']);
    const uri = valueAt(value, 'uri');
    expect(uri).toMatchObject({ kind: 'string', value: "${endpoint}keys/'k'", interpolations: ['endpoint'] });
    expect(literalOf(valueAt(value, 'query'))).toBe('traces\n| where message has "x"\n');
    expect(literalOf(valueAt(value, 'nested.a'))).toBe(true);
    expect(literalOf(valueAt(value, 'nested.b'))).toBeNull();
  });

  it('keeps expressions as text with the literals inside, across continued lines', () => {
    const file = parseBicep(
      `
var identity = enabled ? {
  type: 'UserAssigned'
} : null
var capabilities = serverless
  ? [ { name: 'EnableServerless' } ]
  : []
`,
      'inline.bicep',
    );
    expect(file.vars[0]!.value).toMatchObject({ kind: 'expression' });
    expect(file.vars[0]!.value.kind === 'expression' && file.vars[0]!.value.parts[0]).toMatchObject({ kind: 'object' });
    expect(file.vars[1]!.value.kind === 'expression' && file.vars[1]!.value.text).toContain(': []');
  });

  it('reads param decorators and keeps the comments above a resource', () => {
    const file = parseBicep(
      `
@description('Region')
@allowed([
  'uksouth'
])
param location string = 'uksouth'

/* unrelated */

// justification: off on purpose
resource r 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  name: 'default' // inline
}
`,
      'inline.bicep',
    );
    const location = file.params[0]!;
    expect(location.decorators.map((d) => d.name)).toEqual(['description', 'allowed']);
    expect(literalOf(location.defaultValue)).toBe('uksouth');
    expect(file.resources[0]!.comments.map((c) => c.text)).toEqual(['justification: off on purpose', 'inline']);
  });

  it('reads .bicepparam files', () => {
    const file = parseBicep(`using '../main.bicep'\n\nparam location = 'uksouth'\nparam id = readEnvironmentVariable('X', '')\n`, 'p.bicepparam');
    expect(file.using).toBe('../main.bicep');
    expect(file.paramAssignments.map((p) => p.name)).toEqual(['location', 'id']);
  });

  it('names the file, line and column of a syntax error', () => {
    expect(() => parseBicep("param x string\nvar y = 'open", 'bad.bicep')).toThrow(BicepSyntaxError);
    expect(() => parseBicep("param x string\nvar y = 'open", 'bad.bicep')).toThrow(/^bad\.bicep:2:9: unterminated string/);
  });
});

describe('infra policy', () => {
  it('reads every template and parameter file under infra/', () => {
    expect(Object.keys(SOURCES).sort()).toEqual(
      expect.arrayContaining([
        'infra/main.bicep',
        'infra/main.bicepparam',
        'infra/env/dev.bicepparam',
        'infra/env/prod.bicepparam',
        'infra/modules/functionApp.bicep',
        'infra/modules/storage.bicep',
        'infra/modules/cosmos.bicep',
        'infra/modules/serviceBus.bicep',
        'infra/modules/keyVault.bicep',
        'infra/modules/monitoring.bicep',
        'infra/modules/alerts.bicep',
        'infra/modules/access.bicep',
      ]),
    );
  });

  it('passes every rule', () => {
    expect(messagesFor(SOURCES)).toEqual([]);
  });

  it('has rule ids that are unique', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

interface BrokenCopy {
  behaviour: string;
  rule: string;
  file: string;
  from: string;
  to: string;
  message: RegExp;
}

const BROKEN_COPIES: BrokenCopy[] = [
  {
    behaviour: 'rejects a location parameter that allows a region outside UK South',
    rule: 'location-param-uksouth-only',
    file: 'infra/main.bicep',
    from: "@allowed([\n  'uksouth'\n])\nparam location",
    to: "@allowed([\n  'uksouth'\n  'westeurope'\n])\nparam location",
    message: /infra\/main\.bicep: param 'location': must be @allowed\(\['uksouth'\]\) \(found @allowed\(\['uksouth', 'westeurope'\]\)\)/,
  },
  {
    behaviour: 'rejects a parameter file that deploys to another region',
    rule: 'location-param-uksouth-only',
    file: 'infra/env/prod.bicepparam',
    from: "param location = 'uksouth'",
    to: "param location = 'northeurope'",
    message: /infra\/env\/prod\.bicepparam: param 'location': must be 'uksouth' \(found 'northeurope'\)/,
  },
  {
    behaviour: 'rejects a resource placed in a hard-coded region',
    rule: 'resources-use-location',
    file: 'infra/modules/serviceBus.bicep',
    from: '  location: location\n',
    to: "  location: 'westeurope'\n",
    message: /infra\/modules\/serviceBus\.bicep: resource 'namespace' \(Microsoft\.ServiceBus\/namespaces\): location must be the 'location' parameter \(found 'westeurope'\)/,
  },
  {
    behaviour: 'rejects a Cosmos DB replica outside UK South',
    rule: 'resources-use-location',
    file: 'infra/modules/cosmos.bicep',
    from: 'locationName: location',
    to: "locationName: 'ukwest'",
    message: /infra\/modules\/cosmos\.bicep: resource 'account' \(Microsoft\.DocumentDB\/databaseAccounts\): locationName must be the 'location' parameter \(found 'ukwest'\)/,
  },
  {
    behaviour: 'rejects a module called with another location',
    rule: 'resources-use-location',
    file: 'infra/main.bicep',
    from: "  name: 'keyVault'\n  params: {\n    location: location",
    to: "  name: 'keyVault'\n  params: {\n    location: 'westeurope'",
    message: /infra\/main\.bicep: module 'keyVault': params\.location must be the 'location' parameter \(found 'westeurope'\)/,
  },
  {
    behaviour: 'rejects a global-only alert resource given a region',
    rule: 'resources-use-location',
    file: 'infra/modules/alerts.bicep',
    from: "  location: 'global'\n  tags: tags\n  properties: {\n    description:",
    to: "  location: 'westeurope'\n  tags: tags\n  properties: {\n    description:",
    message: /resource 'deadLetteredMessagesAlert' \(Microsoft\.Insights\/metricAlerts\): location must be 'global' for this resource type \(found 'westeurope'\)/,
  },
  {
    behaviour: 'rejects a storage account that accepts TLS 1.0',
    rule: 'storage-tls12-https-only',
    file: 'infra/modules/storage.bicep',
    from: "minimumTlsVersion: 'TLS1_2'",
    to: "minimumTlsVersion: 'TLS1_0'",
    message: /infra\/modules\/storage\.bicep: resource 'mediaAccount' \(Microsoft\.Storage\/storageAccounts\): properties\.minimumTlsVersion must be 'TLS1_2' \(found 'TLS1_0'\)/,
  },
  {
    behaviour: 'rejects public blob access',
    rule: 'storage-no-public-blob-access',
    file: 'infra/modules/storage.bicep',
    from: 'allowBlobPublicAccess: false',
    to: 'allowBlobPublicAccess: true',
    message: /resource 'mediaAccount' \(Microsoft\.Storage\/storageAccounts\): properties\.allowBlobPublicAccess must be false \(found true\)/,
  },
  {
    behaviour: 'rejects a public container',
    rule: 'storage-no-public-blob-access',
    file: 'infra/modules/storage.bicep',
    from: "name: 'media'\n  properties: {\n    publicAccess: 'None'",
    to: "name: 'media'\n  properties: {\n    publicAccess: 'Blob'",
    message: /resource 'mediaContainer' \(Microsoft\.Storage\/storageAccounts\/blobServices\/containers\): properties\.publicAccess must be 'None' \(found 'Blob'\)/,
  },
  {
    behaviour: 'rejects shared key access to storage',
    rule: 'storage-no-shared-key',
    file: 'infra/modules/storage.bicep',
    from: 'allowSharedKeyAccess: false',
    to: 'allowSharedKeyAccess: true',
    message: /resource 'runtimeAccount' \(Microsoft\.Storage\/storageAccounts\): properties\.allowSharedKeyAccess must be false \(found true\)/,
  },
  {
    behaviour: 'rejects blob soft delete turned off without a written justification',
    rule: 'storage-soft-delete-or-justification',
    file: 'infra/modules/storage.bicep',
    from: '// justification:',
    to: '// note:',
    message: /resource 'mediaBlobService' \(Microsoft\.Storage\/storageAccounts\/blobServices\): properties\.deleteRetentionPolicy\.enabled is not true and no "\/\/ justification:" comment/,
  },
  {
    behaviour: 'rejects versioning on the media account, which would keep erased media',
    rule: 'storage-media-erasure-final',
    file: 'infra/modules/storage.bicep',
    from: 'isVersioningEnabled: false',
    to: 'isVersioningEnabled: true',
    message: /resource 'mediaBlobService' \(Microsoft\.Storage\/storageAccounts\/blobServices\): properties\.isVersioningEnabled must be false \(found true\)\. An erasure must be final/,
  },
  {
    behaviour: 'rejects soft delete on the media account, which would keep erased media',
    rule: 'storage-media-erasure-final',
    file: 'infra/modules/storage.bicep',
    from: '    deleteRetentionPolicy: {\n      enabled: false\n    }',
    to: '    deleteRetentionPolicy: {\n      enabled: true\n      days: 7\n    }',
    message: /resource 'mediaBlobService' .*properties\.deleteRetentionPolicy\.enabled must be false \(found true\)/,
  },
  {
    behaviour: 'rejects a lifecycle policy that no longer deletes media',
    rule: 'storage-media-lifecycle',
    file: 'infra/modules/storage.bicep',
    from: "'media/'",
    to: "'archive/'",
    message: /infra\/modules\/storage\.bicep: resource 'mediaAccount' \(Microsoft\.Storage\/storageAccounts\): no enabled lifecycle rule deletes blobs under 'media\/' after a retention parameter/,
  },
  {
    behaviour: 'rejects a media retention hard-coded instead of a parameter',
    rule: 'storage-media-lifecycle',
    file: 'infra/modules/storage.bicep',
    from: 'daysAfterModificationGreaterThan: exportRetentionDays',
    to: 'daysAfterModificationGreaterThan: 3650',
    message: /no enabled lifecycle rule deletes blobs under 'exports\/' after a retention parameter/,
  },
  {
    behaviour: 'rejects a Function App that serves plain HTTP',
    rule: 'functionapp-https-only',
    file: 'infra/modules/functionApp.bicep',
    from: 'httpsOnly: true',
    to: 'httpsOnly: false',
    message: /infra\/modules\/functionApp\.bicep: resource 'functionApp' \(Microsoft\.Web\/sites\): properties\.httpsOnly must be true \(found false\)/,
  },
  {
    behaviour: 'rejects a Function App that accepts TLS 1.0',
    rule: 'functionapp-min-tls12',
    file: 'infra/modules/functionApp.bicep',
    from: "      minTlsVersion: '1.2'",
    to: "      minTlsVersion: '1.0'",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): properties\.siteConfig\.minTlsVersion must be '1\.2' \(found '1\.0'\)/,
  },
  {
    behaviour: 'rejects FTPS left on',
    rule: 'functionapp-ftps-disabled',
    file: 'infra/modules/functionApp.bicep',
    from: "ftpsState: 'Disabled'",
    to: "ftpsState: 'FtpsOnly'",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): properties\.siteConfig\.ftpsState must be 'Disabled' \(found 'FtpsOnly'\)/,
  },
  {
    behaviour: 'rejects basic publishing credentials allowed for SCM',
    rule: 'functionapp-basic-publishing-credentials-off',
    file: 'infra/modules/functionApp.bicep',
    from: "name: 'scm'\n  properties: {\n    allow: false",
    to: "name: 'scm'\n  properties: {\n    allow: true",
    message: /resource 'scmPublishing' \(Microsoft\.Web\/sites\/basicPublishingCredentialsPolicies\): properties\.allow must be false \(found true\)/,
  },
  {
    behaviour: 'rejects a Function App without the FTP publishing policy',
    rule: 'functionapp-basic-publishing-credentials-off',
    file: 'infra/modules/functionApp.bicep',
    from: "name: 'ftp'",
    to: "name: 'ftp-disabled'",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): no basicPublishingCredentialsPolicies 'ftp' with properties\.allow false/,
  },
  {
    behaviour: 'rejects a Function App without a system-assigned identity',
    rule: 'functionapp-system-assigned-identity',
    file: 'infra/modules/functionApp.bicep',
    from: "type: 'SystemAssigned'",
    to: "type: 'None'",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): identity\.type must include 'SystemAssigned' \(found 'None'\)/,
  },
  {
    behaviour: 'rejects a Function App still on Node 20, which left Azure Functions support on 30 April 2026',
    rule: 'functionapp-flex-consumption-node22',
    file: 'infra/modules/functionApp.bicep',
    from: "version: '22'",
    to: "version: '20'",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): properties\.functionAppConfig\.runtime\.version must be '22' \(found '20'\)\. .*Node\.js 20 left Azure Functions support on 30 April 2026; Node\.js 22 is supported until 30 April 2027/,
  },
  {
    behaviour: 'rejects a plan that is not Flex Consumption',
    rule: 'functionapp-flex-consumption-node22',
    file: 'infra/modules/functionApp.bicep',
    from: "name: 'FC1'",
    to: "name: 'Y1'",
    message: /resource 'plan' \(Microsoft\.Web\/serverfarms\): sku\.name must be 'FC1' \(found 'Y1'\)/,
  },
  {
    behaviour: 'rejects App Service Authentication made optional, which would let a caller forge the principal header',
    rule: 'functionapp-app-service-authentication',
    file: 'infra/modules/functionApp.bicep',
    from: "resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = {",
    to: "resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = if (!empty(authClientId)) {",
    message: /resource 'authSettings' \(Microsoft\.Web\/sites\/config\): must not be conditional \(found if \(!empty\(authClientId\)\)\)\. Without it a caller could send a forged x-ms-client-principal/,
  },
  {
    behaviour: 'rejects App Service Authentication that turns away unauthenticated WhatsApp webhooks',
    rule: 'functionapp-app-service-authentication',
    file: 'infra/modules/functionApp.bicep',
    from: "unauthenticatedClientAction: 'AllowAnonymous'",
    to: "unauthenticatedClientAction: 'Return401'",
    message: /resource 'authSettings' .*properties\.globalValidation\.unauthenticatedClientAction must be 'AllowAnonymous' \(found 'Return401'\)/,
  },
  {
    behaviour: 'rejects Cosmos DB account keys left on',
    rule: 'cosmos-local-auth-off',
    file: 'infra/modules/cosmos.bicep',
    from: 'disableLocalAuth: true',
    to: 'disableLocalAuth: false',
    message: /infra\/modules\/cosmos\.bicep: resource 'account' \(Microsoft\.DocumentDB\/databaseAccounts\): properties\.disableLocalAuth must be true \(found false\)/,
  },
  {
    behaviour: 'rejects a Cosmos container with a fixed default TTL',
    rule: 'cosmos-containers-ttl-and-partition-key',
    file: 'infra/modules/cosmos.bicep',
    from: "id: 'audit'\n      partitionKey: {\n        paths: [\n          '/tenantId'\n        ]\n        kind: 'Hash'\n        version: 2\n      }\n      defaultTtl: -1",
    to: "id: 'audit'\n      partitionKey: {\n        paths: [\n          '/tenantId'\n        ]\n        kind: 'Hash'\n        version: 2\n      }\n      defaultTtl: 86400",
    message: /resource 'audit' \(Microsoft\.DocumentDB\/databaseAccounts\/sqlDatabases\/containers\): properties\.resource\.defaultTtl must be -1 \(found 86400\)/,
  },
  {
    behaviour: 'rejects a Cosmos container partitioned differently from the app',
    rule: 'cosmos-containers-ttl-and-partition-key',
    file: 'infra/modules/cosmos.bicep',
    from: "'/tenantId'",
    to: "'/id'",
    message: /resource 'audit' .*properties\.resource\.partitionKey\.paths must be \['\/tenantId'\]/,
  },
  {
    behaviour: 'rejects a missing Cosmos container',
    rule: 'cosmos-containers-ttl-and-partition-key',
    file: 'infra/modules/cosmos.bicep',
    from: "id: 'markers'",
    to: "id: 'suppressions'",
    message: /no Cosmos container 'markers' is declared/,
  },
  {
    behaviour: 'rejects Cosmos DB periodic or longer backups',
    rule: 'cosmos-continuous-backup-7-days',
    file: 'infra/modules/cosmos.bicep',
    from: "tier: 'Continuous7Days'",
    to: "tier: 'Continuous30Days'",
    message: /resource 'account' \(Microsoft\.DocumentDB\/databaseAccounts\): properties\.backupPolicy\.continuousModeProperties\.tier must be 'Continuous7Days' \(found 'Continuous30Days'\)/,
  },
  {
    behaviour: 'rejects an app identity without Cosmos DB data-plane access',
    rule: 'cosmos-data-plane-rbac',
    file: 'infra/modules/access.bicep',
    from: "'${cosmosAccount.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'",
    to: "'${cosmosAccount.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001'",
    message: /no SQL role assignment of Cosmos DB Built-in Data Contributor \(00000000-0000-0000-0000-000000000002\) to appPrincipalId is declared/,
  },
  {
    behaviour: 'rejects Service Bus SAS keys left on',
    rule: 'servicebus-local-auth-off',
    file: 'infra/modules/serviceBus.bicep',
    from: 'disableLocalAuth: true',
    to: 'disableLocalAuth: false',
    message: /resource 'namespace' \(Microsoft\.ServiceBus\/namespaces\): properties\.disableLocalAuth must be true \(found false\)/,
  },
  {
    behaviour: 'rejects queues without duplicate detection',
    rule: 'servicebus-queue-settings',
    file: 'infra/modules/serviceBus.bicep',
    from: 'requiresDuplicateDetection: true',
    to: 'requiresDuplicateDetection: false',
    message: /resource 'queues' \(Microsoft\.ServiceBus\/namespaces\/queues\): properties\.requiresDuplicateDetection must be true \(found false\)/,
  },
  {
    behaviour: 'rejects queues that drop expired messages instead of dead-lettering them',
    rule: 'servicebus-queue-settings',
    file: 'infra/modules/serviceBus.bicep',
    from: 'deadLetteringOnMessageExpiration: true',
    to: 'deadLetteringOnMessageExpiration: false',
    message: /resource 'queues' .*properties\.deadLetteringOnMessageExpiration must be true \(found false\)/,
  },
  {
    behaviour: 'rejects queues with another retry budget or lock duration',
    rule: 'servicebus-queue-settings',
    file: 'infra/modules/serviceBus.bicep',
    from: "maxDeliveryCount: 10\n    deadLetteringOnMessageExpiration: true\n    requiresDuplicateDetection: true\n    duplicateDetectionHistoryTimeWindow: 'PT10M'\n    lockDuration: 'PT1M'",
    to: "maxDeliveryCount: 100\n    deadLetteringOnMessageExpiration: true\n    requiresDuplicateDetection: true\n    duplicateDetectionHistoryTimeWindow: 'PT10M'\n    lockDuration: 'PT5M'",
    message: /properties\.maxDeliveryCount must be 10 \(found 100\)/,
  },
  {
    behaviour: 'rejects a missing queue',
    rule: 'servicebus-queue-settings',
    file: 'infra/modules/serviceBus.bicep',
    from: "  'erasure-tasks'\n",
    to: '',
    message: /no Service Bus queue 'erasure-tasks' is declared/,
  },
  {
    behaviour: 'rejects a Basic Service Bus namespace, which cannot detect duplicates',
    rule: 'servicebus-queue-settings',
    file: 'infra/modules/serviceBus.bicep',
    from: "    name: 'Standard'\n    tier: 'Standard'",
    to: "    name: 'Basic'\n    tier: 'Basic'",
    message: /resource 'namespace' \(Microsoft\.ServiceBus\/namespaces\): sku\.name must be 'Standard' or 'Premium' \(found 'Basic'\)/,
  },
  {
    behaviour: 'rejects Key Vault access policies',
    rule: 'keyvault-rbac-authorization',
    file: 'infra/modules/keyVault.bicep',
    from: 'enableRbacAuthorization: true',
    to: 'enableRbacAuthorization: false',
    message: /infra\/modules\/keyVault\.bicep: resource 'vault' \(Microsoft\.KeyVault\/vaults\): properties\.enableRbacAuthorization must be true \(found false\)/,
  },
  {
    behaviour: 'rejects Key Vault without purge protection',
    rule: 'keyvault-purge-protection',
    file: 'infra/modules/keyVault.bicep',
    from: 'enablePurgeProtection: true',
    to: 'enablePurgeProtection: false',
    message: /resource 'vault' \(Microsoft\.KeyVault\/vaults\): properties\.enablePurgeProtection must be true \(found false\)/,
  },
  {
    behaviour: 'rejects Key Vault without soft delete',
    rule: 'keyvault-soft-delete',
    file: 'infra/modules/keyVault.bicep',
    from: 'enableSoftDelete: true',
    to: 'enableSoftDelete: false',
    message: /resource 'vault' \(Microsoft\.KeyVault\/vaults\): properties\.enableSoftDelete must be true \(found false\)/,
  },
  {
    behaviour: 'rejects a workspace default above its 30-day minimum',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/modules/monitoring.bicep',
    from: '    retentionInDays: 30\n',
    to: '    retentionInDays: 90\n',
    message: /infra\/modules\/monitoring\.bicep: resource 'workspace' \(Microsoft\.OperationalInsights\/workspaces\): properties\.retentionInDays must be 30 \(found 90\)/,
  },
  {
    behaviour: 'rejects a workspace that may keep 30-day data for 31 days',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/modules/monitoring.bicep',
    from: 'immediatePurgeDataOn30Days: true',
    to: 'immediatePurgeDataOn30Days: false',
    message: /resource 'workspace' .*properties\.features\.immediatePurgeDataOn30Days must be true \(found false\)/,
  },
  {
    behaviour: 'rejects table retention that may exceed 14 days',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/modules/monitoring.bicep',
    from: '@maxValue(14)\nparam retentionInDays int',
    to: '@maxValue(90)\nparam retentionInDays int',
    message: /infra\/modules\/monitoring\.bicep: resource 'tables' \(Microsoft\.OperationalInsights\/workspaces\/tables\): properties\.retentionInDays must be 7-14 days, as a literal or a parameter with @minValue\(7\) and @maxValue\(14\) \(found retentionInDays\)/,
  },
  {
    behaviour: 'rejects long-term retention on top of the 7-14 days',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/modules/monitoring.bicep',
    from: 'totalRetentionInDays: retentionInDays',
    to: 'totalRetentionInDays: 365',
    message: /resource 'tables' .*properties\.totalRetentionInDays must be 7-14 days.*\(found 365\)/,
  },
  {
    behaviour: 'rejects an App Insights table left at its 90-day default',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/modules/monitoring.bicep',
    from: "  'AppTraces'\n",
    to: '',
    message: /infra: no Microsoft\.OperationalInsights\/workspaces\/tables 'AppTraces' sets the retention of that table/,
  },
  {
    behaviour: 'rejects a parameter file that keeps logs 90 days',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/env/prod.bicepparam',
    from: 'param logRetentionDays = 14',
    to: 'param logRetentionDays = 90',
    message: /infra\/env\/prod\.bicepparam: param 'logRetentionDays': must be 7-14 \(found 90\)/,
  },
  {
    behaviour: 'rejects a logRetentionDays parameter that allows more than 14 days',
    rule: 'monitoring-log-retention-7-14-days',
    file: 'infra/main.bicep',
    from: '@maxValue(14)\nparam logRetentionDays',
    to: '@maxValue(730)\nparam logRetentionDays',
    message: /infra\/main\.bicep: param 'logRetentionDays': must have @minValue\(7\) and @maxValue\(14\) \(found 7\.\.730\)/,
  },
  {
    behaviour: 'rejects Key Vault without its audit log (secret reads)',
    rule: 'monitoring-diagnostic-settings',
    file: 'infra/modules/diagnostics.bicep',
    from: "category: 'AuditEvent'",
    to: "category: 'AzurePolicyEvaluationDetails'",
    message: /infra\/modules\/diagnostics\.bicep: resource 'keyVaultAudit' \(Microsoft\.Insights\/diagnosticSettings\): properties\.logs must enable the category 'AuditEvent' \(found 'AzurePolicyEvaluationDetails'\)/,
  },
  {
    behaviour: 'rejects Cosmos DB without a diagnostic setting',
    rule: 'monitoring-diagnostic-settings',
    file: 'infra/modules/diagnostics.bicep',
    from: '  scope: cosmosAccount\n',
    to: '  scope: vault\n',
    message: /infra: no diagnostic setting on a Microsoft\.DocumentDB\/databaseAccounts is declared\. The Cosmos DB data-plane requests must be logged/,
  },
  {
    behaviour: 'rejects diagnostic logs sent to the shared AzureDiagnostics table',
    rule: 'monitoring-diagnostic-settings',
    file: 'infra/modules/diagnostics.bicep',
    from: "    logAnalyticsDestinationType: 'Dedicated'\n    logs: [\n      {\n        category: 'StorageRead'",
    to: "    logAnalyticsDestinationType: 'AzureDiagnostics'\n    logs: [\n      {\n        category: 'StorageRead'",
    message: /resource 'mediaBlobAccess' \(Microsoft\.Insights\/diagnosticSettings\): properties\.logAnalyticsDestinationType must be 'Dedicated' \(found 'AzureDiagnostics'\)/,
  },
  {
    behaviour: 'rejects a diagnostic table whose retention is not set',
    rule: 'monitoring-diagnostic-settings',
    file: 'infra/modules/monitoring.bicep',
    from: "  'StorageBlobLogs'\n",
    to: '',
    message: /resource 'mediaBlobAccess' .*category 'StorageRead' writes to StorageBlobLogs, whose retention no workspaces\/tables resource sets/,
  },
  {
    behaviour: 'rejects Service Bus without runtime audit logs when Premium',
    rule: 'monitoring-diagnostic-settings',
    file: 'infra/modules/diagnostics.bicep',
    from: "category: 'RuntimeAuditLogs'",
    to: "category: 'VNetAndIPFilteringLogs'",
    message: /resource 'serviceBusAudit' .*properties\.logs must enable the category 'RuntimeAuditLogs'/,
  },
  {
    behaviour: 'rejects a store left public when network isolation is on',
    rule: 'network-isolation',
    file: 'infra/modules/cosmos.bicep',
    from: "publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'",
    to: "publicNetworkAccess: 'Enabled'",
    message: /infra\/modules\/cosmos\.bicep: resource 'account' \(Microsoft\.DocumentDB\/databaseAccounts\): properties\.publicNetworkAccess must be networkIsolation \? 'Disabled' : 'Enabled' \(found 'Enabled'\)/,
  },
  {
    behaviour: 'rejects a Key Vault firewall that allows all networks when isolated',
    rule: 'network-isolation',
    file: 'infra/modules/keyVault.bicep',
    from: "defaultAction: networkIsolation ? 'Deny' : 'Allow'",
    to: "defaultAction: 'Allow'",
    message: /resource 'vault' \(Microsoft\.KeyVault\/vaults\): properties\.networkAcls\.defaultAction must be networkIsolation \? 'Deny' : 'Allow' \(found 'Allow'\)/,
  },
  {
    behaviour: 'rejects production without network isolation',
    rule: 'network-isolation',
    file: 'infra/env/prod.bicepparam',
    from: 'param networkIsolation = true',
    to: 'param networkIsolation = false',
    message: /infra\/env\/prod\.bicepparam: param 'networkIsolation': must be true \(found false\)/,
  },
  {
    behaviour: 'rejects a Service Bus namespace that stays Standard when isolated (no private endpoints below Premium)',
    rule: 'network-isolation',
    file: 'infra/modules/serviceBus.bicep',
    from: "    name: 'Premium'\n    tier: 'Premium'\n    capacity: 1\n",
    to: "    name: 'Standard'\n    tier: 'Standard'\n",
    message: /resource 'namespace' \(Microsoft\.ServiceBus\/namespaces\): sku must be Premium when networkIsolation is on/,
  },
  {
    behaviour: 'rejects a private endpoint with the wrong sub-resource',
    rule: 'network-isolation',
    file: 'infra/modules/network.bicep',
    from: "groupId: 'vault'",
    to: "groupId: 'vaults'",
    message: /infra\/modules\/network\.bicep: no private endpoint for keyVaultId with group id 'vault' in var endpoints/,
  },
  {
    behaviour: 'rejects an app subnet not delegated to Flex Consumption',
    rule: 'network-isolation',
    file: 'infra/modules/network.bicep',
    from: "serviceName: 'Microsoft.App/environments'",
    to: "serviceName: 'Microsoft.Web/serverFarms'",
    message: /infra: no subnet delegated to 'Microsoft\.App\/environments' is declared/,
  },
  {
    behaviour: 'rejects a Function App left off the virtual network',
    rule: 'network-isolation',
    file: 'infra/main.bicep',
    from: "appSubnetId: networkIsolation ? network!.outputs.appSubnetId : ''",
    to: "appSubnetId: ''",
    message: /infra\/main\.bicep: module 'functionApp': params\.appSubnetId must be networkIsolation \? network!\.outputs\.appSubnetId : '' \(found ''\)/,
  },
  {
    behaviour: 'rejects Service Bus Data Owner granted on the whole namespace',
    rule: 'servicebus-roles-for-trigger',
    file: 'infra/modules/access.bicep',
    from: '  scope: queues[i]\n',
    to: '  scope: serviceBusNamespace\n',
    message: /resource 'serviceBusQueueDataOwner' \(Microsoft\.Authorization\/roleAssignments\): grants role 090c5cfd-751d-490a-894a-3ce6f1109419 \(Azure Service Bus Data Owner\) on a Microsoft\.ServiceBus\/namespaces, which the Service Bus trigger and the app's sends do not need/,
  },
  {
    behaviour: 'rejects a triggered queue without Data Owner (target-based scaling)',
    rule: 'servicebus-roles-for-trigger',
    file: 'infra/modules/access.bicep',
    from: "  'erasure-tasks'\n]\n\nresource queues",
    to: "]\n\nresource queues",
    message: /infra: 'Azure Service Bus Data Owner' is not granted on the queue 'erasure-tasks'/,
  },
  {
    behaviour: 'rejects an app identity without the Service Bus sender role',
    rule: 'servicebus-roles-for-trigger',
    file: 'infra/modules/access.bicep',
    from: "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')",
    to: "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')",
    message: /infra: no role assignment grants appPrincipalId 'Azure Service Bus Data Sender'/,
  },
  {
    behaviour: 'rejects operators without the workbook role',
    rule: 'operators-monitoring-read',
    file: 'infra/modules/access.bicep',
    from: "  'b279062a-9be3-42a0-92ae-8b3cf002ec4d'\n",
    to: '',
    message: /infra: no role assignment grants operatorPrincipalId 'Workbook Reader' \(b279062a-9be3-42a0-92ae-8b3cf002ec4d\)/,
  },
  {
    behaviour: 'rejects overlapping windows on a stateless alert (one failure, two e-mails)',
    rule: 'alerts-no-flood',
    file: 'infra/modules/alerts.bicep',
    from: "    evaluationFrequency: 'PT5M'\n    windowSize: 'PT5M'",
    to: "    evaluationFrequency: 'PT5M'\n    windowSize: 'PT10M'",
    message: /resource 'privacyRequestFailedAlert' \(Microsoft\.Insights\/scheduledQueryRules\): properties\.windowSize \(PT10M\) must equal properties\.evaluationFrequency \(PT5M\) when autoMitigate is false/,
  },
  {
    behaviour: 'rejects a stateless alert that counts every repeat of an event',
    rule: 'alerts-no-flood',
    file: 'infra/modules/alerts.bicep',
    from: '| where firstIngested > ago(1h)\n',
    to: '',
    message: /resource 'privacyRequestOverdueAlert' .*the query must keep only rows ingested in this evaluation's window \(ingestion_time\(\) and ago\(60m\)\)/,
  },
  {
    behaviour: 'rejects a stateless alert without its daily dedupe',
    rule: 'alerts-no-flood',
    file: 'infra/modules/alerts.bicep',
    from: "    overrideQueryTimeRange: 'P1D'\n    scopes: [\n      appInsightsId\n    ]\n    criteria: {\n      allOf: [\n        {\n          query: '''\ntraces\n| where timestamp >= startofday(now())\n| where message has \"retention.sweep.failed\"",
    to: "    scopes: [\n      appInsightsId\n    ]\n    criteria: {\n      allOf: [\n        {\n          query: '''\ntraces\n| where message has \"retention.sweep.failed\"",
    message: /resource 'retentionSweepFailedAlert' .*properties\.overrideQueryTimeRange must be P1D or longer \(found not set\)/,
  },
  {
    behaviour: 'rejects a metric alert that never resolves',
    rule: 'alerts-no-flood',
    file: 'infra/modules/alerts.bicep',
    from: '    autoMitigate: true\n    actions: metricAlertActions',
    to: '    autoMitigate: false\n    actions: metricAlertActions',
    message: /resource 'deadLetteredMessagesAlert' \(Microsoft\.Insights\/metricAlerts\): properties\.autoMitigate must be true \(found false\)/,
  },
  {
    behaviour: 'rejects an alert whose runbook link points nowhere',
    rule: 'alerts-link-runbook',
    file: 'infra/modules/alerts.bicep',
    from: '${runbook}#a-privacy-request-is-overdue',
    to: '${runbook}#overdue-requests',
    message: /resource 'privacyRequestOverdueAlert' \(Microsoft\.Insights\/scheduledQueryRules\): properties\.description links '#overdue-requests', which is not a heading of docs\/operations\.md/,
  },
  {
    behaviour: 'rejects an alert without a runbook link',
    rule: 'alerts-link-runbook',
    file: 'infra/modules/alerts.bicep',
    from: ' Runbook: ${runbook}#a-privacy-request-failed',
    to: '',
    message: /resource 'privacyRequestFailedAlert' .*properties\.description must end with its runbook link/,
  },
  {
    behaviour: 'rejects a runbook that loses a section the alerts link',
    rule: 'alerts-link-runbook',
    file: 'docs/operations.md',
    from: '### Dead letters on a queue',
    to: '### Dead-letter queues',
    message: /docs\/operations\.md: has no heading "Dead letters on a queue"/,
  },
  {
    behaviour: 'rejects App Insights without a sampling decision',
    rule: 'monitoring-app-insights-workspace-and-sampling',
    file: 'infra/modules/monitoring.bicep',
    from: '    SamplingPercentage: samplingPercentage\n',
    to: '',
    message: /resource 'appInsights' \(Microsoft\.Insights\/components\): properties\.SamplingPercentage must be set \(found not set\)/,
  },
  {
    behaviour: 'rejects classic App Insights without a workspace',
    rule: 'monitoring-app-insights-workspace-and-sampling',
    file: 'infra/modules/monitoring.bicep',
    from: '    WorkspaceResourceId: workspace.id\n',
    to: '',
    message: /resource 'appInsights' .*properties\.WorkspaceResourceId must be set \(found not set\)/,
  },
  {
    behaviour: 'rejects a dead-letter alert that no longer watches DeadletteredMessages',
    rule: 'alerts-dead-lettered-messages',
    file: 'infra/modules/alerts.bicep',
    from: "metricName: 'DeadletteredMessages'",
    to: "metricName: 'ActiveMessages'",
    message: /no enabled metric alert on 'DeadletteredMessages' GreaterThan 0 is declared/,
  },
  ...(
    [
      ['event', 'privacy.request.failed'],
      ['event', 'privacy.request.overdue'],
      ['event', 'webhook.signature.rejected'],
      ['event', 'retention.sweep.failed'],
      ['metric', 'queue.dead_lettered'],
    ] as const
  ).map(
    ([kind, name]): BrokenCopy => ({
      behaviour: `rejects the loss of the ${name} alert`,
      rule: 'alerts-on-emitted-telemetry',
      file: 'infra/modules/alerts.bicep',
      from: `"${name}"`,
      to: '"something.else"',
      message: new RegExp(`no enabled scheduled query rule over traces for the ${kind} '${name.replace(/\./g, '\\.')}' is declared`),
    }),
  ),
  {
    behaviour: 'rejects an alert on an event the code no longer emits',
    rule: 'alerts-on-emitted-telemetry',
    file: 'shared/retention/retentionSweep.ts',
    from: "telemetry.event('retention.sweep.failed', failure)",
    to: "telemetry.event('retention.sweep.error', failure)",
    message: /shared\/: no code emits the event 'retention\.sweep\.failed' \(telemetry\.event\('retention\.sweep\.failed', \.\.\.\)\) that an alert watches/,
  },
  {
    behaviour: 'rejects an alert query with a misspelt telemetry name',
    rule: 'alerts-on-emitted-telemetry',
    file: 'infra/modules/alerts.bicep',
    from: '| where eventName == "retention.sweep.failed"',
    to: '| where eventName == "retention.sweep.fialed"',
    message: /resource 'retentionSweepFailedAlert' \(Microsoft\.Insights\/scheduledQueryRules\): the query watches 'retention\.sweep\.fialed', which no code under shared\/ emits/,
  },
  {
    behaviour: 'rejects an alert the operations doc promises but the templates do not declare',
    rule: 'alerts-match-operations-doc',
    file: 'infra/modules/alerts.bicep',
    from: "name: 'alert-${namePrefix}-queue-dead-lettered'",
    to: "name: 'alert-${namePrefix}-dead-letters'",
    message: /infra: no alert named 'alert-\$\{namePrefix\}-queue-dead-lettered' is declared\. docs\/operations\.md promises it/,
  },
  {
    behaviour: 'rejects an alert the operations doc does not explain',
    rule: 'alerts-match-operations-doc',
    file: 'docs/operations.md',
    from: '| `alert-…-retention-sweep-failed` |',
    to: '| retention sweep |',
    message: /resource 'retentionSweepFailedAlert' \(Microsoft\.Insights\/scheduledQueryRules\): is not in the alerts table of docs\/operations\.md/,
  },
  {
    behaviour: 'rejects a promised alert that is switched off',
    rule: 'alerts-match-operations-doc',
    file: 'infra/modules/alerts.bicep',
    from: "    enabled: true\n    evaluationFrequency: 'PT15M'\n    windowSize: 'PT15M'",
    to: "    enabled: false\n    evaluationFrequency: 'PT15M'\n    windowSize: 'PT15M'",
    message: /resource 'retentionSweepFailedAlert' .*properties\.enabled must be true: docs\/operations\.md promises the alert 'alert-…-retention-sweep-failed'/,
  },
  {
    behaviour: "rejects a container without the retention sweep's composite index",
    rule: 'cosmos-composite-indexes',
    file: 'infra/modules/cosmos.bicep',
    from: "path: '/expiresAt'",
    to: "path: '/ttl'",
    message: /resource 'markers' \(Microsoft\.DocumentDB\/databaseAccounts\/sqlDatabases\/containers\): properties\.resource\.indexingPolicy\.compositeIndexes must include \(\/tenantId ascending, \/expiresAt ascending\)/,
  },
  {
    behaviour: 'rejects a composite index left behind by a query that changed',
    rule: 'cosmos-composite-indexes',
    file: 'shared/cosmos/expiredDocuments.ts',
    from: 'c.expiresAt <= @now',
    to: 'c.expiresAt < @now',
    message: /shared\/cosmos\/expiredDocuments\.ts: no longer contains the query 'c\.tenantId = @tenantId AND c\.expiresAt <= @now' that the composite index \(\/tenantId ascending, \/expiresAt ascending\) on 'subjects' is declared for/,
  },
  {
    behaviour: 'rejects an indexing policy that stops indexing every path',
    rule: 'cosmos-composite-indexes',
    file: 'infra/modules/cosmos.bicep',
    from: "path: '/*'",
    to: "path: '/tenantId/?'",
    message: /resource 'subjects' .*an indexingPolicy must keep the default: indexingMode 'consistent' and includedPaths '\/\*'/,
  },
  {
    behaviour: 'rejects an ORDER BY on two properties that no composite index serves in that order',
    rule: 'cosmos-composite-indexes',
    file: 'shared/cosmos/expiredDocuments.ts',
    from: 'AND c.expiresAt <= @now`',
    to: 'AND c.expiresAt <= @now ORDER BY c.tenantId, c.expiresAt DESC`',
    message: /shared\/cosmos\/expiredDocuments\.ts:\d+: 'ORDER BY c\.tenantId, c\.expiresAt DESC' needs the composite index \(\/tenantId ascending, \/expiresAt descending\) \(or all orders reversed\) on its container/,
  },
  {
    behaviour: 'rejects a storage key fetched with listKeys() into an app setting',
    rule: 'app-settings-no-secrets',
    file: 'infra/modules/functionApp.bicep',
    from: 'MEDIA_STORAGE__blobServiceUri: mediaBlobServiceUri',
    to: "MEDIA_STORAGE__blobServiceUri: mediaBlobServiceUri\n    MEDIA_STORAGE: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${runtimeStorage.listKeys().keys[0].value}'",
    message: /resource 'appSettings' \(Microsoft\.Web\/sites\/config\): app setting MEDIA_STORAGE looks like a key or connection string/,
  },
  {
    behaviour: 'rejects an app secret written into the app settings',
    rule: 'app-settings-no-secrets',
    file: 'infra/modules/functionApp.bicep',
    from: "LOCAL_DEV_AUTH: 'false'",
    to: "LOCAL_DEV_AUTH: 'false'\n    WHATSAPP_APP_SECRET: 'hunter2'",
    message: /app setting WHATSAPP_APP_SECRET is a secret: leave it out \(the app reads it from Key Vault through KEY_VAULT_URL\)/,
  },
  {
    behaviour: 'rejects a key read anywhere in the templates',
    rule: 'app-settings-no-secrets',
    file: 'infra/main.bicep',
    from: 'output appInsightsName string = monitoring.outputs.appInsightsName',
    to: "output appInsightsName string = monitoring.outputs.appInsightsName\noutput leak string = listKeys('x', '2023-05-01').keys[0].value",
    message: /infra\/main\.bicep:\d+: reads or writes a key \('listKeys\('\)/,
  },
  {
    behaviour: 'rejects a required app setting that is missing',
    rule: 'app-settings-required',
    file: 'infra/modules/functionApp.bicep',
    from: '    SERVICEBUS_CONNECTION__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace\n',
    to: '',
    message: /resource 'appSettings' \(Microsoft\.Web\/sites\/config\): app setting SERVICEBUS_CONNECTION__fullyQualifiedNamespace is not provisioned/,
  },
  {
    behaviour: 'rejects a contract setting with another value',
    rule: 'app-settings-required',
    file: 'infra/modules/functionApp.bicep',
    from: "RETENTION_SCHEDULE: '0 30 2 * * *'",
    to: "RETENTION_SCHEDULE: '0 0 * * * *'",
    message: /app setting RETENTION_SCHEDULE must be '0 30 2 \* \* \*' \(found '0 0 \* \* \* \*'\)/,
  },
  {
    behaviour: 'rejects settings the Flex Consumption plan refuses',
    rule: 'app-settings-flex-compatible',
    file: 'infra/modules/functionApp.bicep',
    from: "COSMOS_DATABASE: 'flowkeeper'",
    to: "COSMOS_DATABASE: 'flowkeeper'\n    FUNCTIONS_WORKER_RUNTIME: 'node'",
    message: /app setting FUNCTIONS_WORKER_RUNTIME is not supported on Flex Consumption/,
  },
  {
    behaviour: "rejects app settings the app's own start-up validation refuses",
    rule: 'app-settings-accepted-by-app',
    file: 'infra/modules/functionApp.bicep',
    from: "DEADLINE_ALERT_DAYS: '7'",
    to: "DEADLINE_ALERT_DAYS: 'seven'",
    message: /resource 'appSettings' \(Microsoft\.Web\/sites\/config\): the app would refuse to start with these settings: DEADLINE_ALERT_DAYS must be a whole number/,
  },
  {
    behaviour: 'rejects an app setting nobody reads, such as a misspelt name',
    rule: 'app-settings-accepted-by-app',
    file: 'infra/modules/functionApp.bicep',
    from: 'COSMOS_CONNECTION__accountEndpoint: cosmosEndpoint',
    to: 'COSMOS_CONNECTION__acountEndpoint: cosmosEndpoint',
    message: /app setting COSMOS_CONNECTION__acountEndpoint is read by neither the app \(shared\/config\/settings\.ts\) nor the Functions host/,
  },
  {
    behaviour: 'rejects LOCAL_DEV_AUTH turned on in Azure',
    rule: 'app-settings-local-dev-auth-off',
    file: 'infra/modules/functionApp.bicep',
    from: "LOCAL_DEV_AUTH: 'false'",
    to: "LOCAL_DEV_AUTH: 'true'",
    message: /resource 'appSettings' \(Microsoft\.Web\/sites\/config\): app setting LOCAL_DEV_AUTH must be 'false' \(found 'true'\)/,
  },
  {
    behaviour: 'rejects an app identity without the Service Bus receiver role',
    rule: 'app-identity-roles',
    file: 'infra/modules/access.bicep',
    from: "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')",
    to: "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')",
    message: /no role assignment grants appPrincipalId 'Azure Service Bus Data Receiver' \(4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0\) on a Microsoft\.ServiceBus\/namespaces/,
  },
  {
    behaviour: 'rejects a Key Vault role granted on the wrong resource',
    rule: 'app-identity-roles',
    file: 'infra/modules/access.bicep',
    from: "guid(vault.id, appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')\n  scope: vault",
    to: "guid(vault.id, appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')\n  scope: mediaStorage",
    message: /no role assignment grants appPrincipalId 'Key Vault Secrets User' .* on a Microsoft\.KeyVault\/vaults/,
  },
  {
    behaviour: 'rejects customer-managed keys switched on by default',
    rule: 'cmk-optional-off-by-default',
    file: 'infra/main.bicep',
    from: 'param enableCustomerManagedKeys bool = false',
    to: 'param enableCustomerManagedKeys bool = true',
    message: /infra\/main\.bicep: param enableCustomerManagedKeys bool = false must be declared/,
  },
  {
    behaviour: 'rejects a parameter file that sets an unknown parameter',
    rule: 'bicepparam-matches-main',
    file: 'infra/env/dev.bicepparam',
    from: 'param mediaRetentionDays = 7',
    to: 'param mediaRetentionDay = 7',
    message: /infra\/env\/dev\.bicepparam: param 'mediaRetentionDay': is not a parameter of infra\/main\.bicep/,
  },
  {
    behaviour: 'rejects a parameter file that leaves out a required parameter',
    rule: 'bicepparam-matches-main',
    file: 'infra/env/prod.bicepparam',
    from: "param environmentName = 'prod'\n",
    to: '',
    message: /infra\/env\/prod\.bicepparam: does not set the required parameter 'environmentName'/,
  },
  {
    behaviour: 'rejects a module call that passes a parameter the module does not declare',
    rule: 'modules-wired',
    file: 'infra/main.bicep',
    from: '    namespaceName: \'sb-${namePrefix}-${resourceToken}\'\n',
    to: '    namespaceName: \'sb-${namePrefix}-${resourceToken}\'\n    queueCount: 4\n',
    message: /infra\/main\.bicep: module 'serviceBus': passes 'queueCount', which infra\/modules\/serviceBus\.bicep does not declare/,
  },
  {
    behaviour: 'rejects a module call that leaves out a required parameter',
    rule: 'modules-wired',
    file: 'infra/main.bicep',
    from: '    keyVaultUri: keyVault.outputs.vaultUri\n    authClientId: authClientId\n',
    to: '    authClientId: authClientId\n',
    message: /module 'functionApp': does not pass the required parameter 'keyVaultUri' of infra\/modules\/functionApp\.bicep/,
  },
  {
    behaviour: 'rejects a read of a module output that does not exist',
    rule: 'modules-wired',
    file: 'infra/main.bicep',
    from: 'cosmos.outputs.endpoint',
    to: 'cosmos.outputs.documentEndpoint',
    message: /module 'cosmos': reads output 'documentEndpoint', which infra\/modules\/cosmos\.bicep does not declare/,
  },
  {
    behaviour: 'rejects an API version nobody checked against the reference',
    rule: 'api-versions-checked',
    file: 'infra/modules/keyVault.bicep',
    from: "resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {",
    to: "resource vault 'Microsoft.KeyVault/vaults@2019-09-01' = {",
    message: /resource 'vault' \(Microsoft\.KeyVault\/vaults\): API version 2019-09-01 has not been checked against Microsoft's template reference \(checked: 2025-05-01\)/,
  },
  {
    behaviour: 'rejects a workbook on an API version nobody checked',
    rule: 'api-versions-checked',
    file: 'infra/modules/workbook.bicep',
    from: "'Microsoft.Insights/workbooks@2023-06-01'",
    to: "'Microsoft.Insights/workbooks@2018-06-17-preview'",
    message: /resource 'workbook' \(Microsoft\.Insights\/workbooks\): API version 2018-06-17-preview has not been checked .* \(checked: 2023-06-01\)/,
  },
  {
    behaviour: 'rejects a workbook whose template file does not exist',
    rule: 'monitoring-workbook-template',
    file: 'infra/modules/workbook.bicep',
    from: "loadTextContent('../workbook/privacy-outcomes.workbook.json')",
    to: "loadTextContent('../workbook/privacy-outcome.workbook.json')",
    message: /resource 'workbook' \(Microsoft\.Insights\/workbooks\): the workbook template infra\/workbook\/privacy-outcome\.workbook\.json does not exist/,
  },
  {
    behaviour: 'rejects a workbook whose definition is inlined instead of loaded from its template',
    rule: 'monitoring-workbook-template',
    file: 'infra/modules/workbook.bicep',
    from: "serializedData: loadTextContent('../workbook/privacy-outcomes.workbook.json')",
    to: "serializedData: '{\"version\":\"Notebook/1.0\",\"items\":[]}'",
    message: /properties\.serializedData must be loadTextContent\('<template>\.json'\)/,
  },
  {
    behaviour: 'rejects a linter configuration that lets a hard-coded location through',
    rule: 'deployment-tooling',
    file: 'bicepconfig.json',
    from: '"no-hardcoded-location": { "level": "error" }',
    to: '"no-hardcoded-location": { "level": "off" }',
    message: /bicepconfig\.json: analyzers\.core\.rules\['no-hardcoded-location'\]\.level must be 'error' or stricter \(found 'off'\)/,
  },
  {
    behaviour: 'rejects an azd project that deploys the app as something other than a Function App',
    rule: 'deployment-tooling',
    file: 'azure.yaml',
    from: '    host: function\n',
    to: '    host: appservice\n',
    message: /azure\.yaml: the api service's host must be 'function'/,
  },
  {
    behaviour: 'rejects an azd project without the UK South check before provisioning',
    rule: 'deployment-tooling',
    file: 'azure.yaml',
    from: 'run: ./infra/hooks/preprovision.sh',
    to: 'run: echo skipped',
    message: /azure\.yaml: a preprovision hook must run \.\/infra\/hooks\/preprovision\.sh/,
  },
  {
    behaviour: 'rejects a Function App that azd deploy cannot find',
    rule: 'deployment-tooling',
    file: 'infra/modules/functionApp.bicep',
    from: "'azd-service-name': azdServiceName",
    to: "'azd-service': azdServiceName",
    message: /resource 'functionApp' \(Microsoft\.Web\/sites\): tags must include 'azd-service-name': azdServiceName/,
  },
  {
    behaviour: 'rejects a workbook only its author can see',
    rule: 'monitoring-workbook-template',
    file: 'infra/modules/workbook.bicep',
    from: "kind: 'shared'",
    to: "kind: 'user'",
    message: /resource 'workbook' \(Microsoft\.Insights\/workbooks\): kind must be 'shared' \(found 'user'\)/,
  },
];

describe('alert telemetry names', () => {
  it('count an event emitted through a names object as emitted', () => {
    const file = 'shared/retention/retentionSweep.ts';
    const original = SOURCES[file]!;
    const call = "telemetry.event('retention.sweep.failed', failure)";
    expect(original).toContain(call);
    const source = `${original.replace(call, 'telemetry.event(SWEEP_EVENTS.failed, failure)')}\nconst SWEEP_EVENTS = { failed: 'retention.sweep.failed' } as const;\n`;
    expect(messagesFor({ ...SOURCES, [file]: source }, 'alerts-on-emitted-telemetry')).toEqual([]);
  });
});

describe('composite indexes', () => {
  it('accept an ORDER BY on two properties that a declared composite index serves, in its order or all reversed', () => {
    for (const orderBy of ['ORDER BY c.tenantId, c.expiresAt', 'ORDER BY c.tenantId DESC, c.expiresAt DESC']) {
      const sources = mutate('shared/cosmos/expiredDocuments.ts', 'AND c.expiresAt <= @now`', `AND c.expiresAt <= @now ${orderBy}\``);
      expect(messagesFor(sources, 'cosmos-composite-indexes'), orderBy).toEqual([]);
    }
  });

  it('are written in the shape of the 2024-11-15 reference: an array of arrays of { path, order }', () => {
    const cosmos = new InfraProject(SOURCES).file('infra/modules/cosmos.bicep')!;
    const subjects = cosmos.resources.find((r) => r.symbol === 'subjects')!;
    const indexes = valueAt(subjects.body, 'properties.resource.indexingPolicy.compositeIndexes');
    expect(indexes?.kind).toBe('array');
    const first = indexes?.kind === 'array' ? indexes.items[0] : undefined;
    expect(first?.kind).toBe('array');
    const paths = first?.kind === 'array' ? first.items.map((p) => [literalOf(valueAt(p, 'path')), literalOf(valueAt(p, 'order'))]) : [];
    expect(paths).toEqual([
      ['/tenantId', 'ascending'],
      ['/expiresAt', 'ascending'],
    ]);
  });
});

describe('each rule fails, with its message, on a deliberately broken copy', () => {
  for (const broken of BROKEN_COPIES) {
    it(broken.behaviour, () => {
      const sources = mutate(broken.file, broken.from, broken.to);
      const messages = messagesFor(sources, broken.rule);
      expect(messages.some((m) => broken.message.test(m)), `expected a [${broken.rule}] message matching ${broken.message}, got:\n${messages.join('\n')}`).toBe(true);
      expect(messages.every((m) => m.startsWith(`[${broken.rule}] `))).toBe(true);
    });
  }

  it('covers every rule with at least one broken copy', () => {
    const covered = new Set(BROKEN_COPIES.map((b) => b.rule));
    expect(RULES.map((r) => r.id).filter((id) => !covered.has(id))).toEqual([]);
  });
});
