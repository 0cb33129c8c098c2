import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataKeyring } from '../../shared/crypto';
import { type TenantId, type WaId } from '../../shared/domain';
import { FLOW_TOKEN_INVALID_MESSAGE, flowsKeySecretNames, issueFlowToken } from '../../shared/flows';
import { lifetime } from '../../shared/subjects';
import { signBody } from '../../shared/whatsapp';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { encryptFlowRequest, FlowClient, flowKeyPair } from './support/flowClient';
import { pkOfWaId } from '../support/subjects';

const APP_SECRET = 'test-app-secret';
const PREVIOUS_SECRET = 'test-app-secret-before-rotation';
const PASSPHRASE = 'default key passphrase 42';
const defaultKey = flowKeyPair(PASSPHRASE);
const tenantKey = flowKeyPair();
/** A tenant with its own key pair (FLOWS_PRIVATE_KEY_<TENANT>); every other tenant uses FLOWS_PRIVATE_KEY. */
const ownKeyTenant = uniqueTenantId('own');

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost({
    FLOWS_PRIVATE_KEY: defaultKey.privateKey,
    FLOWS_PRIVATE_KEY_PASSPHRASE: PASSPHRASE,
    [flowsKeySecretNames(ownKeyTenant as TenantId).key]: tenantKey.privateKey,
    WHATSAPP_APP_SECRET_PREVIOUS: PREVIOUS_SECRET,
  });
});
afterAll(async () => {
  await t?.close();
});

let phone = Number(String(Date.now()).slice(-9)) * 10;
async function createTenant(tenantId = uniqueTenantId()): Promise<TenantId> {
  const response = await fetch(`${t.url}/api/tenants/${tenantId}`, {
    method: 'PUT',
    headers: adminHeaders(),
    body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [String(++phone)], messageStorage: 'none' }),
  });
  expect(response.status).toBe(201);
  return tenantId as TenantId;
}

async function tokenFor(tenantId: TenantId, waId: string, ttlSeconds = 3600, now = new Date()): Promise<string> {
  const keys = { subjectHashKey: t.services.env.SUBJECT_HASH_KEY!, dataKeyring: await dataKeyring(t.services.secrets) };
  return issueFlowToken(keys, { tenantId, subject: { kind: 'waId', value: waId as WaId }, purpose: 'privacy-centre', now, ttlSeconds });
}

function client(tenantId: string, publicKey = defaultKey.publicKey): FlowClient {
  return new FlowClient(`${t.url}/api/whatsapp/flows/${tenantId}`, publicKey, APP_SECRET);
}

/** A subject who has talked to the tenant: a contact and one flow answer in their partition. */
async function seedSubject(tenantId: TenantId, waId: string): Promise<void> {
  const now = new Date();
  const pk = pkOfWaId(tenantId, waId);
  const base = { pk, tenantId, createdAt: now.toISOString(), ...lifetime(now, 86_400) };
  await t.services.cosmos.subjects.items.create({ ...base, id: 'contact', type: 'contact', waId, profileName: 'Sam Tenant', optIn: 'opted_in', restricted: false, firstSeenAt: now.toISOString(), lastSeenAt: now.toISOString() });
  await t.services.cosmos.subjects.items.create({ ...base, id: 'flow-1', type: 'flowResponse', messageId: 'wamid.1', answers: { move_in: '2026-02-01' }, receivedAt: now.toISOString() });
}

describe('WhatsApp Flows endpoint: protocol', () => {
  it('a health check is answered with status active, encrypted with the flipped IV, as text/plain', async () => {
    const tenantId = await createTenant();
    const response = await client(tenantId).send({ version: '3.0', action: 'ping' });
    expect(response.status).toBe(200);
    expect(response.contentType).toMatch(/^text\/plain/);
    expect(response.body).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(response.decrypted()).toEqual({ data: { status: 'active' } });
  });

  it('INIT opens the menu with what is held; data_exchange and BACK move through the screens', async () => {
    const tenantId = await createTenant();
    const waId = '447700900201';
    await seedSubject(tenantId, waId);
    const flow_token = await tokenFor(tenantId, waId);
    const c = client(tenantId);

    const init = await c.send({ version: '3.0', action: 'INIT', flow_token });
    expect(init.status).toBe(200);
    expect(init.decrypted()).toEqual({
      screen: 'MENU',
      data: {
        heading: 'Your data with Acme Lettings',
        summary: 'We hold your WhatsApp number and profile name and 1 form answer.',
        requests_line: 'You have no privacy requests in progress.',
      },
    });
    const held = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'see_data' }, flow_token })).decrypted();
    expect(held).toMatchObject({ screen: 'HELD_DATA', data: { held_detail: expect.stringContaining('Form answers: 1.') } });
    const back = (await c.send({ version: '3.0', action: 'BACK', screen: 'HELD_DATA', data: {}, flow_token })).decrypted();
    expect(back).toMatchObject({ screen: 'MENU' });
    const scope = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'delete' }, flow_token })).decrypted();
    expect(scope).toMatchObject({ screen: 'DELETE_SCOPE', data: { scope_options: expect.arrayContaining([{ id: 'flow_responses', title: 'Form answers', description: '1 stored' }]) } });
    const confirm = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'DELETE_SCOPE', data: { scope: 'media' }, flow_token })).decrypted();
    expect(confirm).toMatchObject({ screen: 'DELETE_CONFIRM', data: { scope: 'media', consequences: expect.stringMatching(/services .* end/) } });
    const closed = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'HELD_DATA', data: { done: 'held_data' }, flow_token })).decrypted();
    expect(closed).toEqual({ screen: 'SUCCESS', data: { extension_message_response: { params: { flow_token, flow: 'privacy-centre', outcome: 'viewed' } } } });
  });

  it("the client's error notification is acknowledged, and only that it happened is recorded (its code and message are free text)", async () => {
    const tenantId = await createTenant();
    const flow_token = await tokenFor(tenantId, '447700900202');
    const response = await client(tenantId).send({ version: '3.0', action: 'data_exchange', screen: 'MENU', flow_token, data: { error: 'JO_BLOGGS_07700_900123', error_message: 'heading is a secret text' } });
    expect(response.status).toBe(200);
    expect(response.decrypted()).toEqual({ data: { acknowledged: true } });
    expect(t.services.telemetry.events).toContainEqual(expect.objectContaining({ name: 'flows.request', dimensions: expect.objectContaining({ tenantId, screen: 'MENU', reason: 'client-error' }) }));
    expect(JSON.stringify(t.services.telemetry.events)).not.toContain('secret text');
    expect(JSON.stringify(t.services.telemetry.events)).not.toContain('JO_BLOGGS');

    // A screen the Privacy Centre does not declare is recorded as (other), whatever it says.
    await client(tenantId).send({ version: '3.0', action: 'data_exchange', screen: 'Jo_Bloggs_07700_900123', flow_token, data: { error: 'X' } });
    expect(JSON.stringify(t.services.telemetry.events)).not.toContain('Jo_Bloggs');
    expect(t.services.telemetry.events).toContainEqual(expect.objectContaining({ name: 'flows.request', dimensions: expect.objectContaining({ tenantId, screen: '(other)' }) }));
  });
});

describe('WhatsApp Flows endpoint: errors as Meta expects them', () => {
  it('a tampered ciphertext gets 421', async () => {
    const tenantId = await createTenant();
    const response = await client(tenantId).send({ version: '3.0', action: 'ping' }, {
      tamper: (body) => {
        const data = Buffer.from(body.encrypted_flow_data, 'base64');
        data[3] = data[3]! ^ 0x80;
        return { ...body, encrypted_flow_data: data.toString('base64') };
      },
    });
    expect(response.status).toBe(421);
  });

  it('a request encrypted for another key gets 421, also for a tenant with a key of its own', async () => {
    const tenantId = await createTenant();
    expect((await client(tenantId, flowKeyPair().publicKey).send({ version: '3.0', action: 'ping' })).status).toBe(421);
    await createTenant(ownKeyTenant);
    expect((await client(ownKeyTenant, defaultKey.publicKey).send({ version: '3.0', action: 'ping' })).status).toBe(421);
    const own = await client(ownKeyTenant, tenantKey.publicKey).send({ version: '3.0', action: 'ping' });
    expect(own.status).toBe(200);
    expect(own.decrypted()).toEqual({ data: { status: 'active' } });
  });

  it('an expired token, a token for another tenant and a missing token get 427 with an encrypted message', async () => {
    const tenantId = await createTenant();
    const other = await createTenant();
    const c = client(tenantId);
    const expired = await c.send({ version: '3.0', action: 'INIT', flow_token: await tokenFor(tenantId, '447700900203', 60, new Date(Date.now() - 120_000)) });
    expect(expired.status).toBe(427);
    expect(expired.decrypted()).toEqual({ error_msg: FLOW_TOKEN_INVALID_MESSAGE });
    expect((await c.send({ version: '3.0', action: 'INIT', flow_token: await tokenFor(other, '447700900203') })).status).toBe(427);
    expect((await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'delete' } })).status).toBe(427);
    expect((await c.send({ version: '3.0', action: 'INIT', flow_token: 'v1.forged.token' })).status).toBe(427);
    const reasons = t.services.telemetry.events.filter((e) => e.name === 'flows.request' && e.dimensions.tenantId === tenantId).map((e) => e.dimensions.reason);
    expect(reasons).toEqual(['token-expired', 'token-tenant', 'token-malformed', 'token-signature']);
  });

  it('a bad signature gets 432; during a rotation the previous app secret is accepted', async () => {
    const tenantId = await createTenant();
    const c = client(tenantId);
    expect((await c.send({ version: '3.0', action: 'ping' }, { secret: 'not-the-app-secret' })).status).toBe(432);
    const unsigned = await fetch(`${t.url}/api/whatsapp/flows/${tenantId}`, { method: 'POST', body: JSON.stringify(encryptFlowRequest(defaultKey.publicKey, { version: '3.0', action: 'ping' }).body) });
    expect(unsigned.status).toBe(432);
    expect((await c.send({ version: '3.0', action: 'ping' }, { secret: PREVIOUS_SECRET })).status).toBe(200);
  });

  it('bad JSON and a body without the encrypted fields get 400 naming the problem; an oversized body 413', async () => {
    const tenantId = await createTenant();
    const c = client(tenantId);
    const bad = await c.send({}, { raw: '{"encrypted_flow_data": ' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ error: { message: 'request body is not valid JSON' } });
    const missing = await c.send({}, { raw: JSON.stringify({ encrypted_flow_data: 'abc', initial_vector: 'abc' }) });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { field: 'encrypted_aes_key' } });
    const action = await c.send({ version: '3.0', action: 'navigate' });
    expect(action.status).toBe(400);
    expect(JSON.parse(action.body)).toMatchObject({ error: { field: 'action' } });
    const huge = await c.send({}, { raw: JSON.stringify({ encrypted_flow_data: 'A'.repeat(3_200_000), encrypted_aes_key: 'A', initial_vector: 'A' }) });
    expect(huge.status).toBe(413);
  });

  it('a signed JSON array (or any non-object) body gets 400 saying the body must be the envelope object, also for a percent-encoded tenant', async () => {
    const tenantId = await createTenant();
    const encoded = [...tenantId].map((ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    for (const raw of ['[[[1]]]', '"text"', '42', 'null']) {
      const response = await fetch(`${t.url}/api/whatsapp/flows/${encoded}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(APP_SECRET, raw) }, body: raw });
      expect(response.status, raw).toBe(400);
      expect(await response.json(), raw).toEqual({
        error: { message: '(body) must be a JSON object with encrypted_flow_data, encrypted_aes_key and initial_vector', field: '(body)' },
      });
    }
  });

  it('nothing decrypted reaches the logs or telemetry', async () => {
    const tenantId = await createTenant();
    const waId = '447700900204';
    await seedSubject(tenantId, waId);
    const flow_token = await tokenFor(tenantId, waId);
    const c = client(tenantId);
    await c.send({ version: '3.0', action: 'INIT', flow_token });
    await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'see_data' }, flow_token });
    const everything = `${t.logs.join('\n')}\n${JSON.stringify(t.services.telemetry.events)}\n${JSON.stringify(t.services.telemetry.metrics)}`;
    for (const secret of [waId, flow_token, 'Sam Tenant', 'Acme Lettings', 'see_data', 'profile name']) expect(everything).not.toContain(secret);
    const events = t.services.telemetry.events.filter((e) => e.name === 'flows.request' && e.dimensions.tenantId === tenantId);
    expect(events.map((e) => [e.dimensions.action, e.dimensions.screen, e.dimensions.next, e.dimensions.status])).toEqual([
      ['INIT', undefined, 'MENU', 200],
      ['data_exchange', 'MENU', 'HELD_DATA', 200],
    ]);
  });
});

describe('WhatsApp Flows endpoint: a deletion from the Privacy Centre', () => {
  it('ends as a completed erasure visible in GET /api/privacy-requests/{id}', async () => {
    const tenantId = await createTenant();
    const waId = '447700900205';
    await seedSubject(tenantId, waId);
    const flow_token = await tokenFor(tenantId, waId);
    const c = client(tenantId);
    await c.send({ version: '3.0', action: 'INIT', flow_token });
    await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'delete' }, flow_token });
    await c.send({ version: '3.0', action: 'data_exchange', screen: 'DELETE_SCOPE', data: { scope: 'all' }, flow_token });
    const done = await c.send({ version: '3.0', action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: true }, flow_token });
    expect(done.status).toBe(200);
    const screen = done.decrypted() as { screen: string; data: { request_id: string; status_text: string } };
    expect(screen.screen).toBe('DELETE_DONE');
    const id = screen.data.request_id;

    const request = await eventually(
      async () => {
        const response = await fetch(`${t.url}/api/privacy-requests/${id}`, { headers: adminHeaders() });
        if (response.status !== 200) return undefined;
        const body = (await response.json()) as { status: string; channel: string; screen?: string; type: string; scope: string };
        return body.status === 'completed' ? body : undefined;
      },
      20_000,
      'the erasure to complete',
    );
    expect(request).toMatchObject({ id, tenantId, type: 'erasure', scope: 'all', channel: 'flow', screen: 'DELETE_CONFIRM', status: 'completed' });
    const pk = pkOfWaId(tenantId, waId);
    const { resources } = await t.services.cosmos.subjects.items.query({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }).fetchAll();
    expect(resources).toEqual([]);

    // The status screen shows it; closing the done screen hands the request id to the completion message.
    const status = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', data: { choice: 'status' }, flow_token })).decrypted() as { data: { requests_text: string } };
    expect(status.data.requests_text).toMatch(/^Deletion \(everything\): completed on /);
    const closed = (await c.send({ version: '3.0', action: 'data_exchange', screen: 'DELETE_DONE', data: { request_id: id }, flow_token })).decrypted();
    expect(closed).toEqual({ screen: 'SUCCESS', data: { extension_message_response: { params: { flow_token, flow: 'privacy-centre', outcome: 'erasure_requested', request_id: id } } } });
  });
});
