import { describe, expect, it } from 'vitest';
import { loadSettings, localEnvironment, SETTING_NAMES } from '../../shared/config';
import { MINIMAL_SETTINGS, settingsProblemsOf } from '../support/settings';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const valid = MINIMAL_SETTINGS;
const problemsOf = settingsProblemsOf;

describe('app settings', () => {
  it('a complete environment loads, with documented defaults filled in', () => {
    const settings = loadSettings(valid);
    expect(settings.GRAPH_API_BASE_URL).toBe('https://graph.facebook.com/v23.0');
    expect(settings.HUBSPOT_API_BASE_URL).toBe('https://api.hubapi.com');
    expect(settings.COSMOS_DATABASE).toBe('flowkeeper');
    expect(settings.LOCAL_DEV_AUTH).toBe(false);
    expect(settings.RETENTION_SCHEDULE).toBe('0 30 2 * * *');
  });

  it('a missing setting stops start-up with a message naming each one', () => {
    const problems = problemsOf({ ...valid, WHATSAPP_APP_SECRET: undefined, SUBJECT_HASH_KEY: '' });
    expect(problems.some((p) => p.startsWith('WHATSAPP_APP_SECRET is required'))).toBe(true);
    expect(problems.some((p) => p.startsWith('SUBJECT_HASH_KEY is required'))).toBe(true);
    expect(() => loadSettings({ ...valid, WHATSAPP_APP_SECRET: undefined })).toThrow(/WHATSAPP_APP_SECRET/);
  });

  it('an unresolved Key Vault reference counts as missing, and its value is not echoed', () => {
    const problems = problemsOf({ ...valid, WHATSAPP_APP_SECRET: '@Microsoft.KeyVault(SecretUri=https://kv/secrets/x)' });
    expect(problems).toEqual([expect.stringMatching(/^WHATSAPP_APP_SECRET is an unresolved Key Vault reference/)]);
    expect(problems.join()).not.toContain('SecretUri');
  });

  it('invalid values are named without their values', () => {
    const problems = problemsOf({
      ...valid,
      DATA_ENCRYPTION_KEY: 'c2hvcnQ=',
      GRAPH_API_BASE_URL: 'not a url',
      LOCAL_DEV_AUTH: 'yes',
      RETENTION_SCHEDULE: '0 2 * * *',
      DEADLINE_ALERT_DAYS: 'soon',
    });
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(
      ['DATA_ENCRYPTION_KEY', 'DEADLINE_ALERT_DAYS', 'GRAPH_API_BASE_URL', 'LOCAL_DEV_AUTH', 'RETENTION_SCHEDULE'].sort(),
    );
    expect(problems.join()).not.toContain('c2hvcnQ=');
  });

  it('with KEY_VAULT_URL set, secrets may be absent from the settings', () => {
    const settings = loadSettings({ COSMOS_CONNECTION__accountEndpoint: 'https://acct.documents.azure.com:443/', MEDIA_STORAGE__blobServiceUri: 'https://acct.blob.core.windows.net', KEY_VAULT_URL: 'https://kv.vault.azure.net' });
    expect(settings.WHATSAPP_APP_SECRET).toBeUndefined();
  });

  it('identity-based connections satisfy the Cosmos and Storage settings; neither at all is named', () => {
    const problems = problemsOf({ ...valid, COSMOS_CONNECTION: undefined, MEDIA_STORAGE: undefined });
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['COSMOS_CONNECTION', 'MEDIA_STORAGE']);
  });
});

describe('local settings files', () => {
  it('in Azure (a variable the platform sets) start-up without a Service Bus connection fails naming both settings; locally the in-process queue is fine', () => {
    const azure = [{ WEBSITE_INSTANCE_ID: 'a1b2c3' }, { CONTAINER_NAME: 'flowkeeper-app', WEBSITE_SITE_NAME: 'flowkeeper' }, { WEBSITE_POD_NAME: 'pod-7', LEGION_SERVICE_HOST: '10.0.0.1' }, { WEBSITE_SKU: 'FlexConsumption' }];
    for (const platform of azure) {
      const problems = problemsOf({ ...valid, ...platform });
      expect(problems, JSON.stringify(platform)).toEqual([expect.stringMatching(/^SERVICEBUS_CONNECTION__fullyQualifiedNamespace is required in Azure \(the platform set (WEBSITE_INSTANCE_ID|CONTAINER_NAME|LEGION_SERVICE_HOST|WEBSITE_SKU)\).*SERVICEBUS_CONNECTION \(a connection string\)/)]);
      expect(() => loadSettings({ ...valid, ...platform })).toThrow(/SERVICEBUS_CONNECTION__fullyQualifiedNamespace/);
      // An unresolved Key Vault reference is no connection either.
      expect(problemsOf({ ...valid, ...platform, SERVICEBUS_CONNECTION: '@Microsoft.KeyVault(SecretUri=https://kv/secrets/sb)' }).join()).toContain('SERVICEBUS_CONNECTION__fullyQualifiedNamespace is required in Azure');
      expect(problemsOf({ ...valid, ...platform, SERVICEBUS_CONNECTION__fullyQualifiedNamespace: 'flowkeeper.servicebus.windows.net' })).toEqual([]);
      expect(problemsOf({ ...valid, ...platform, SERVICEBUS_CONNECTION: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b' })).toEqual([]);
    }
    // Off Azure: nothing the platform sets, including names a copied local.settings.json may carry, and a
    // container runtime's own CONTAINER_NAME (CI, dev containers).
    expect(problemsOf({ ...valid, WEBSITE_SITE_NAME: 'flowkeeper', FUNCTIONS_EXTENSION_VERSION: '~4', WEBSITE_HOSTNAME: 'localhost:7071', WEBSITE_SKU: ' ' })).toEqual([]);
    expect(problemsOf({ ...valid, CONTAINER_NAME: 'ci-runner-42' })).toEqual([]);
  });

  it('local.settings.json wins over the example, and real environment variables win over both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fk-settings-'));
    writeFileSync(join(dir, 'local.settings.example.json'), JSON.stringify({ Values: { A: 'example', B: 'example' } }));
    expect(localEnvironment(dir, {}).values).toMatchObject({ A: 'example' });
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { A: 'local', B: 'local' } }));
    const { values, source } = localEnvironment(dir, { B: 'env' });
    expect(source).toBe('local.settings.json');
    expect(values).toMatchObject({ A: 'local', B: 'env' });
  });

  it('the example file lists every setting the app reads', async () => {
    const example = (JSON.parse(readFileSync(join(__dirname, '../../local.settings.example.json'), 'utf8')) as { Values: Record<string, string> }).Values;
    const missing = SETTING_NAMES.filter((name) => !(name in example) && !name.includes('__'));
    expect(missing).toEqual([]);
    expect(() => loadSettings({ ...example, COSMOS_CONNECTION: valid.COSMOS_CONNECTION, MEDIA_STORAGE: valid.MEDIA_STORAGE })).not.toThrow();
  });
});
