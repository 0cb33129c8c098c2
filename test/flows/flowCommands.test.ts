import { copyFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as keygen } from '../../scripts/flowsKeygen';
import { main as sendFlowCommand } from '../../scripts/sendFlow';
import { localEnvironment } from '../../shared/config';
import { type TenantId } from '../../shared/domain';
import { CachedFlowKeys, decryptFlowRequest } from '../../shared/flows';
import { SettingsSecretProvider } from '../../shared/secrets';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { uniqueTenantId } from '../support/testServices';
import { encryptFlowRequest, FlowClient, flowKeyPair } from './support/flowClient';
import { startGraphMessagesFake, type GraphMessagesFake } from './support/graphMessagesFake';
import { CosmosAuditLog } from '../../shared/cosmos';
import { ManualClock } from '../doubles';

const projectDir = join(__dirname, '../..');
const key = flowKeyPair();

function io(cwd: string, env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  return { cwd, env, out: (l: string) => out.push(l), err: (l: string) => err.push(l), fetch: globalThis.fetch, stdout: out, stderr: err };
}

describe('npm run flows:keygen', () => {
  let graph: GraphMessagesFake;
  beforeAll(async () => {
    graph = await startGraphMessagesFake('keygen-token');
  });
  afterAll(async () => {
    await graph?.close();
  });

  it('creates an RSA-2048 pair, prints the public key, and stores the encrypted private key where the secret provider reads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flows-keygen-'));
    copyFileSync(join(projectDir, 'local.settings.example.json'), join(dir, 'local.settings.example.json'));
    const run = io(dir, {});
    expect(await keygen([], run)).toBe(0);
    const printed = run.stdout.join('\n');
    const publicKey = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/.exec(printed)?.[0];
    expect(publicKey).toBeDefined();
    expect(printed).toContain('/whatsapp_business_encryption');

    const settingsFile = join(dir, 'local.settings.json');
    expect(statSync(settingsFile).mode & 0o777).toBe(0o600);
    const values = localEnvironment(dir, {}).values;
    expect(values.FLOWS_PRIVATE_KEY).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    expect(values.FLOWS_PRIVATE_KEY_PASSPHRASE).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(values.WHATSAPP_VERIFY_TOKEN).toBe('local-verify-token'); // the example's other settings are kept
    expect(printed).not.toContain(values.FLOWS_PRIVATE_KEY_PASSPHRASE!);

    // The endpoint's key source reads it and decrypts what a client encrypted for the printed public key.
    const keys = await new CachedFlowKeys(new SettingsSecretProvider(values), new ManualClock()).privateKeyFor('any-tenant' as TenantId);
    expect(keys.ok).toBe(true);
    if (!keys.ok) return;
    expect(keys.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const sent = encryptFlowRequest(publicKey!, { version: '3.0', action: 'ping' });
    expect(JSON.parse(decryptFlowRequest(sent.body, keys.key).plaintext)).toEqual({ version: '3.0', action: 'ping' });
  });

  it("a tenant's key for Key Vault goes to private files with the az commands; --upload registers the public key", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flows-keygen-'));
    const run = io(dir, { GRAPH_API_BASE_URL: graph.baseUrl, WHATSAPP_ACCESS_TOKEN: 'keygen-token' });
    expect(await keygen(['--tenant', 'acme-lettings', '--key-vault', 'kv-flowkeeper', '--passphrase', 'a long enough passphrase', '--upload', '106540352242922'], run)).toBe(0);
    const printed = run.stdout.join('\n');
    expect(printed).toContain('az keyvault secret set --vault-name kv-flowkeeper --name FLOWS-PRIVATE-KEY-ACME-LETTINGS --file');
    expect(printed).toContain('--name FLOWS-PRIVATE-KEY-PASSPHRASE-ACME-LETTINGS --file');
    expect(printed).not.toContain('a long enough passphrase');
    const keyFile = join(dir, '.local/flows-keys/FLOWS_PRIVATE_KEY_ACME_LETTINGS.pem');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, '.local/flows-keys/FLOWS_PRIVATE_KEY_PASSPHRASE_ACME_LETTINGS.txt'), 'utf8')).toBe('a long enough passphrase');

    const upload = graph.calls.find((c) => c.path === '/v23.0/106540352242922/whatsapp_business_encryption');
    expect(upload).toMatchObject({ authorized: true, contentType: 'application/x-www-form-urlencoded' });
    expect(new URLSearchParams(upload!.body).get('business_public_key')).toContain('-----BEGIN PUBLIC KEY-----');
    expect(printed).toContain('registered for phone number id 106540352242922');
  });

  it('bad arguments are refused with the usage', async () => {
    const run = io(mkdtempSync(join(tmpdir(), 'flows-keygen-')), {});
    expect(await keygen(['--tenant', 'Not A Tenant'], run)).toBe(2);
    expect(await keygen(['--passphrase', 'short'], run)).toBe(2);
    expect(await keygen(['--unknown'], run)).toBe(2);
    expect(run.stderr.join('\n')).toContain('usage: npm run flows:keygen');
  });
});

describe('npm run flows:send', () => {
  let t: TestHost;
  let graph: GraphMessagesFake;
  beforeAll(async () => {
    graph = await startGraphMessagesFake('test-graph-token');
    t = await startTestHost({ FLOWS_PRIVATE_KEY: key.privateKey, GRAPH_API_BASE_URL: graph.baseUrl });
  });
  afterAll(async () => {
    await t?.close();
    await graph?.close();
  });

  it('sends the Privacy Centre as an interactive flow message whose token opens the flow at the endpoint', async () => {
    const tenantId = uniqueTenantId();
    const phoneNumberId = `7${String(Date.now()).slice(-10)}`;
    const created = await fetch(`${t.url}/api/tenants/${tenantId}`, {
      method: 'PUT',
      headers: adminHeaders(),
      body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [phoneNumberId], messageStorage: 'none' }),
    });
    expect(created.status).toBe(201);

    const run = io(mkdtempSync(join(tmpdir(), 'flows-send-')), { ...t.services.env, FLOWS_PRIVACY_CENTRE_FLOW_ID: '1197715005513101', USER: 'ops' });
    expect(await sendFlowCommand(['--tenant', tenantId, '--to', '+44 7700 900301', '--ttl-hours', '24'], run)).toBe(0);
    expect(run.stdout.join('\n')).toMatch(/^Sent the Privacy Centre flow \(message wamid\.[0-9a-f-]+\); its link works until /);
    expect(run.stdout.join('\n')).not.toContain('7700900301');

    expect(graph.calls).toHaveLength(1);
    const call = graph.calls[0]!;
    expect(call).toMatchObject({ path: `/v23.0/${phoneNumberId}/messages`, authorized: true, contentType: 'application/json' });
    const message = JSON.parse(call.body) as { interactive: { action: { parameters: { flow_token: string } } } };
    expect(message).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '447700900301',
      type: 'interactive',
      interactive: {
        type: 'flow',
        header: { type: 'text', text: 'Privacy Centre' },
        body: { text: expect.stringContaining('See what Acme Lettings holds about you') },
        action: {
          name: 'flow',
          parameters: {
            flow_message_version: '3',
            flow_token: expect.stringMatching(/^v1\./),
            flow_id: '1197715005513101',
            flow_cta: 'Open Privacy Centre',
            flow_action: 'data_exchange',
          },
        },
      },
    });

    const flowToken = message.interactive.action.parameters.flow_token;
    const opened = await new FlowClient(`${t.url}/api/whatsapp/flows/${tenantId}`, key.publicKey, 'test-app-secret').send({ version: '3.0', action: 'INIT', flow_token: flowToken });
    expect(opened.status).toBe(200);
    expect(opened.decrypted()).toMatchObject({ screen: 'MENU', data: { heading: 'Your data with Acme Lettings' } });

    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenantId as TenantId, new Date(0), new Date(Date.now() + 1000), { type: 'flow.sent' });
    expect(events).toEqual([
      expect.objectContaining({ actor: 'cli:ops', subjectHash: expect.stringMatching(/^[0-9a-f]{64}$/), details: expect.objectContaining({ purpose: 'privacy-centre', phoneNumberId }) }),
    ]);
    expect(JSON.stringify(events)).not.toContain('7700900301');
  });

  it('without a flow id, a number or a known tenant it explains what is missing and sends nothing', async () => {
    const before = graph.calls.length;
    const run = io(mkdtempSync(join(tmpdir(), 'flows-send-')), { ...t.services.env });
    expect(await sendFlowCommand(['--tenant', uniqueTenantId(), '--to', 'not a number'], run)).toBe(2);
    expect(run.stderr.join('\n')).toMatch(/--to is required[\s\S]*--flow-id \(or FLOWS_PRIVACY_CENTRE_FLOW_ID\) is required/);
    expect(await sendFlowCommand(['--tenant', uniqueTenantId(), '--to', '+447700900302', '--flow-id', '1197715005513101'], run)).toBe(1);
    expect(run.stderr.join('\n')).toMatch(/Tenant .* does not exist/);
    expect(graph.calls.length).toBe(before);
  });
});
