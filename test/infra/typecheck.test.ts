import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfraProject, readInfraSources } from './rules';
import { loadSchemas, packageVersion, SCHEMA_SOURCES } from './schemas';
import { formatDiagnostic, typeCheck, type DiagnosticCode } from './typecheck';

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = readInfraSources(ROOT);

function mutate(file: string, from: string, to: string): Record<string, string> {
  const source = SOURCES[file];
  if (source === undefined) throw new Error(`no file ${file}`);
  if (!source.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}: the test no longer breaks anything`);
  return { ...SOURCES, [file]: source.replace(from, to) };
}

function diagnostics(sources: Record<string, string>): string[] {
  return typeCheck(new InfraProject(sources)).map(formatDiagnostic);
}

describe('the Bicep type check', () => {
  it('finds nothing wrong in the templates and parameter files under infra/', () => {
    expect(diagnostics(SOURCES)).toEqual([]);
  });

  it('has a schema, from a pinned @azure/arm-* package, for every resource type the templates declare', () => {
    const schemas = loadSchemas();
    const project = new InfraProject(SOURCES);
    const missing = project.files
      .flatMap((f) => f.resources)
      .map((r) => r.type.toLowerCase())
      .filter((type) => ![...schemas.keys()].some((key) => key === type || key.startsWith(`${type}#`)));
    expect(missing).toEqual([]);
    for (const source of SCHEMA_SOURCES) expect(packageVersion(source.pkg), source.pkg).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

interface BrokenCopy {
  behaviour: string;
  code: DiagnosticCode;
  /** Other diagnostics the same mistake rightly causes. */
  also?: DiagnosticCode[];
  file: string;
  from: string;
  to: string;
  message: RegExp;
}

const BROKEN_COPIES: BrokenCopy[] = [
  {
    behaviour: 'a misspelled resource property',
    code: 'unknown-property',
    file: 'infra/modules/storage.bicep',
    from: 'allowBlobPublicAccess: false',
    to: 'allowBlobPublicAcess: false',
    message: /^infra\/modules\/storage\.bicep:\d+: \[unknown-property\] Microsoft\.Storage\/storageAccounts: properties has no property 'allowBlobPublicAcess' \(did you mean 'allowBlobPublicAccess'\?\) \[@azure\/arm-storage@19\.1\.0/,
  },
  {
    behaviour: 'a misspelled property deep inside a resource',
    code: 'unknown-property',
    file: 'infra/modules/cosmos.bicep',
    from: 'isZoneRedundant: false',
    to: 'isZoneRedundnt: false',
    message: /cosmos\.bicep:\d+: \[unknown-property\] Microsoft\.DocumentDB\/databaseAccounts: properties\.locations\[\] has no property 'isZoneRedundnt' \(did you mean 'isZoneRedundant'\?\)/,
  },
  {
    behaviour: 'a misspelled property that was also required (both reported, as Bicep does)',
    code: 'unknown-property',
    also: ['missing-required'],
    file: 'infra/modules/cosmos.bicep',
    from: "defaultConsistencyLevel: 'Session'",
    to: "defaultConsistancyLevel: 'Session'",
    message: /cosmos\.bicep:\d+: \[unknown-property\] Microsoft\.DocumentDB\/databaseAccounts: properties\.consistencyPolicy has no property 'defaultConsistancyLevel' \(did you mean 'defaultConsistencyLevel'\?\)/,
  },
  {
    behaviour: 'a misspelled property of an alert rule (a modular SDK model)',
    code: 'unknown-property',
    file: 'infra/modules/alerts.bicep',
    from: "    evaluationFrequency: 'PT1H'\n    windowSize: 'PT1H'",
    to: "    evaluationFrequency: 'PT1H'\n    windowSze: 'PT1H'",
    message: /alerts\.bicep:\d+: \[unknown-property\] Microsoft\.Insights\/scheduledQueryRules: properties has no property 'windowSze' \(did you mean 'windowSize'\?\) \[@azure\/arm-monitor@8\.0\.0/,
  },
  {
    behaviour: 'an invalid value of a closed enum',
    code: 'invalid-enum',
    file: 'infra/modules/storage.bicep',
    from: "name: 'media'\n  properties: {\n    publicAccess: 'None'",
    to: "name: 'media'\n  properties: {\n    publicAccess: 'Private'",
    message: /storage\.bicep:\d+: \[invalid-enum\] Microsoft\.Storage\/storageAccounts\/blobServices\/containers: properties\.publicAccess: "Private" is not one of "Container", "Blob", "None"/,
  },
  {
    behaviour: 'an invalid value of an open enum, which Bicep itself would let through',
    code: 'invalid-enum',
    file: 'infra/modules/storage.bicep',
    from: "minimumTlsVersion: 'TLS1_2'",
    to: "minimumTlsVersion: 'TLS1.2'",
    message: /storage\.bicep:\d+: \[invalid-enum\] Microsoft\.Storage\/storageAccounts: properties\.minimumTlsVersion: "TLS1\.2" is not one of "TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3" \(the values Azure documents for this open enum\)/,
  },
  {
    behaviour: 'an invalid value in one branch of a ternary',
    code: 'invalid-enum',
    file: 'infra/modules/serviceBus.bicep',
    from: "publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'",
    to: "publicNetworkAccess: networkIsolation ? 'Disable' : 'Enabled'",
    message: /serviceBus\.bicep:\d+: \[invalid-enum\] Microsoft\.ServiceBus\/namespaces: properties\.publicNetworkAccess: "Disable" is not one of "Enabled", "Disabled", "SecuredByPerimeter"/,
  },
  {
    behaviour: 'an undefined symbol',
    code: 'undefined-symbol',
    file: 'infra/main.bicep',
    from: "  name: 'keyVault'\n  params: {\n    location: location",
    to: "  name: 'keyVault'\n  params: {\n    location: locaton",
    message: /^infra\/main\.bicep:\d+: \[undefined-symbol\] 'locaton' is not declared \(did you mean 'location'\?\)/,
  },
  {
    behaviour: 'an undefined symbol inside a string interpolation',
    code: 'undefined-symbol',
    file: 'infra/modules/network.bicep',
    from: "name: 'pe-${vnetName}-${endpoint.name}'",
    to: "name: 'pe-${vnetNme}-${endpoint.name}'",
    message: /network\.bicep:\d+: \[undefined-symbol\] 'vnetNme' is not declared \(did you mean 'vnetName'\?\)/,
  },
  {
    behaviour: 'an unknown function',
    code: 'unknown-function',
    file: 'infra/main.bicep',
    from: 'toLower(uniqueString(',
    to: 'toLower(uniqeString(',
    message: /^infra\/main\.bicep:\d+: \[unknown-function\] 'uniqeString\(\)' is not a Bicep function \(did you mean 'uniqueString\(\)'\?\)/,
  },
  {
    behaviour: 'a method a resource does not have',
    code: 'unknown-function',
    file: 'infra/modules/keyVault.bicep',
    from: 'output vaultName string = vault.name',
    to: 'output vaultName string = vault.readSecret()',
    message: /keyVault\.bicep:\d+: \[unknown-function\] 'readSecret\(\)' is not a method Bicep offers here/,
  },
  {
    behaviour: 'a string passed to an int module parameter',
    code: 'type-mismatch',
    file: 'infra/main.bicep',
    from: 'maxThroughput: cosmosMaxThroughput',
    to: "maxThroughput: '4000'",
    message: /^infra\/main\.bicep:\d+: \[type-mismatch\] module 'cosmos': param 'maxThroughput' \(int\) expects int, found string \('4000'\)/,
  },
  {
    behaviour: 'a parameter of the wrong type passed to a module',
    code: 'type-mismatch',
    file: 'infra/main.bicep',
    from: 'maximumInstanceCount: maximumInstanceCount',
    to: 'maximumInstanceCount: storageSku',
    message: /module 'functionApp': param 'maximumInstanceCount' \(int\) expects int, found string \(storageSku\)/,
  },
  {
    behaviour: 'a module output of the wrong type passed to a module',
    code: 'type-mismatch',
    file: 'infra/main.bicep',
    from: 'serviceBusPremium: networkIsolation',
    to: 'serviceBusPremium: serviceBus.outputs.namespaceName',
    message: /module 'diagnostics': param 'serviceBusPremium' \(bool\) expects bool, found string \(serviceBus\.outputs\.namespaceName\)/,
  },
  {
    behaviour: 'a string where a resource property is an int',
    code: 'type-mismatch',
    file: 'infra/modules/serviceBus.bicep',
    from: 'maxDeliveryCount: 10',
    to: "maxDeliveryCount: '10'",
    message: /serviceBus\.bicep:\d+: \[type-mismatch\] Microsoft\.ServiceBus\/namespaces\/queues: properties\.maxDeliveryCount expects int, found string \('10'\)/,
  },
  {
    behaviour: 'an output declared with another type than its value',
    code: 'type-mismatch',
    file: 'infra/modules/keyVault.bicep',
    from: 'output vaultUri string = vault.properties.vaultUri',
    to: 'output vaultUri int = vault.properties.vaultUri',
    message: /keyVault\.bicep:\d+: \[type-mismatch\] output 'vaultUri' \(int\) expects int, found string \(vault\.properties\.vaultUri\)/,
  },
  {
    behaviour: 'a duplicate property',
    code: 'duplicate-property',
    file: 'infra/modules/functionApp.bicep',
    from: '    httpsOnly: true\n',
    to: '    httpsOnly: true\n    httpsOnly: false\n',
    message: /functionApp\.bicep:\d+: \[duplicate-property\] property 'httpsOnly' appears twice in one object/,
  },
  {
    behaviour: 'a name declared twice',
    code: 'duplicate-declaration',
    file: 'infra/modules/workbook.bicep',
    from: 'param tags object\n',
    to: 'param tags object\nparam tags object\n',
    message: /workbook\.bicep:\d+: \[duplicate-declaration\] param 'tags' is declared twice in this file/,
  },
  {
    behaviour: 'a read-only property written by the template',
    code: 'readonly-property',
    file: 'infra/modules/serviceBus.bicep',
    from: '    disableLocalAuth: true\n',
    to: "    disableLocalAuth: true\n    serviceBusEndpoint: 'https://example.servicebus.windows.net:443/'\n",
    message: /serviceBus\.bicep:\d+: \[readonly-property\] Microsoft\.ServiceBus\/namespaces: properties\.serviceBusEndpoint is read-only/,
  },
  {
    behaviour: 'a required property left out',
    code: 'missing-required',
    file: 'infra/modules/access.bicep',
    from: "    principalId: appPrincipalId\n    principalType: 'ServicePrincipal'\n  }\n}\n\n// Storage Blob Data Contributor",
    to: "    principalType: 'ServicePrincipal'\n  }\n}\n\n// Storage Blob Data Contributor",
    message: /access\.bicep:\d+: \[missing-required\] Microsoft\.Authorization\/roleAssignments: properties requires 'principalId'/,
  },
  {
    behaviour: 'a parameter file value outside @allowed',
    code: 'param-constraint',
    file: 'infra/env/prod.bicepparam',
    from: 'param instanceMemoryMB = 2048',
    to: 'param instanceMemoryMB = 3072',
    message: /^infra\/env\/prod\.bicepparam:\d+: \[param-constraint\] param 'instanceMemoryMB': 3072 is not in @allowed\(\[2048,4096\]\)/,
  },
  {
    behaviour: 'a module parameter value below its @minValue',
    code: 'param-constraint',
    file: 'infra/main.bicep',
    from: '    retentionInDays: logRetentionDays\n',
    to: '    retentionInDays: 3\n',
    message: /module 'monitoring': param 'retentionInDays': 3 is below @minValue\(7\)/,
  },
];

describe('each type check fails, with file and line, on a deliberately broken copy', () => {
  for (const broken of BROKEN_COPIES) {
    it(`reports ${broken.behaviour}`, () => {
      const found = diagnostics(mutate(broken.file, broken.from, broken.to));
      expect(found.some((d) => broken.message.test(d)), `expected a [${broken.code}] diagnostic matching ${broken.message}, got:\n${found.join('\n')}`).toBe(true);
      const expected = [broken.code, ...(broken.also ?? [])];
      expect(found.every((d) => expected.some((code) => d.includes(`[${code}]`))), `only ${expected.join(', ')} diagnostics expected, got:\n${found.join('\n')}`).toBe(true);
    });
  }

  it('covers every kind of diagnostic it reports', () => {
    const covered = new Set(BROKEN_COPIES.map((b) => b.code));
    const codes: DiagnosticCode[] = ['unknown-property', 'readonly-property', 'invalid-enum', 'type-mismatch', 'missing-required', 'param-constraint', 'undefined-symbol', 'unknown-function', 'duplicate-property', 'duplicate-declaration'];
    expect(codes.filter((c) => !covered.has(c))).toEqual([]);
  });
});
