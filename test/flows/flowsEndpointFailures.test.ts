import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyringFrom } from '../../shared/crypto';
import { type TenantId, type WaId } from '../../shared/domain';
import { CachedFlowKeys, handleFlowsRequest, issueFlowToken, type FlowsEndpointResult } from '../../shared/flows';
import { SettingsSecretProvider } from '../../shared/secrets';
import { signBody } from '../../shared/whatsapp/signature';
import { decryptFlowResponse, encryptFlowRequest, flowKeyPair } from './support/flowClient';
import { MemoryPrivacy } from './support/memoryPrivacy';
import { ManualClock, RecordingTelemetry } from '../doubles';

const pair = flowKeyPair();
const tenantId = 'acme-lettings' as TenantId;
const env = {
  WHATSAPP_APP_SECRET: 'app-secret',
  SUBJECT_HASH_KEY: 'test-subject-hash-key-0123456789abcdef0123',
  DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  FLOWS_PRIVATE_KEY: pair.privateKey,
};

function endpoint(overrides: { env?: Record<string, string | undefined> } = {}) {
  const secrets = new SettingsSecretProvider({ ...env, ...overrides.env });
  const clock = new ManualClock(new Date('2026-01-05T10:00:00Z'));
  const privacy = new MemoryPrivacy();
  privacy.addTenant(tenantId);
  const telemetry = new RecordingTelemetry();
  const token = issueFlowToken(
    { subjectHashKey: env.SUBJECT_HASH_KEY, dataKeyring: keyringFrom(env.DATA_ENCRYPTION_KEY) },
    { tenantId, subject: { kind: 'waId', value: '447700900401' as WaId }, purpose: 'privacy-centre', now: clock.now(), ttlSeconds: 600 },
  );
  const call = async (payload: unknown, tenant: string = tenantId): Promise<{ result: FlowsEndpointResult; decrypted: () => unknown }> => {
    const sent = encryptFlowRequest(pair.publicKey, payload);
    const rawBody = Buffer.from(JSON.stringify(sent.body));
    const result = await handleFlowsRequest(
      { secrets, keys: new CachedFlowKeys(secrets, clock), privacy, clock, telemetry },
      { tenantId: tenant, rawBody, signature: signBody('app-secret', rawBody) },
    );
    return { result, decrypted: () => (result.kind === 'encrypted' ? decryptFlowResponse(result.body, sent.aesKey, sent.iv) : undefined) };
  };
  return { call, privacy, telemetry, token, clock };
}

describe('WhatsApp Flows endpoint when something behind it fails', () => {
  it('a failing privacy store keeps the user on the screen with a message, never a 500', async () => {
    const { call, privacy, token, telemetry } = endpoint();
    privacy.failWith = Object.assign(new Error('Cosmos said: 447700900401 timed out'), { name: 'TimeoutError' });
    const onScreen = await call({ version: '3.0', action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: true }, flow_token: token });
    expect(onScreen.result.status).toBe(200);
    expect(onScreen.decrypted()).toEqual({ screen: 'DELETE_CONFIRM', data: { error_message: 'Something went wrong on our side. Please try again in a moment.' } });
    const init = await call({ version: '3.0', action: 'INIT', flow_token: token });
    expect(init.result).toMatchObject({ kind: 'error', status: 503 });
    expect(telemetry.events.map((e) => e.dimensions.reason)).toEqual(['handler-TimeoutError', 'handler-TimeoutError']);
    expect(JSON.stringify(telemetry.events)).not.toContain('447700900401');
  });

  it('a tenant that no longer exists makes its tokens invalid (427)', async () => {
    const { call, privacy, token } = endpoint();
    privacy.tenants.clear();
    expect((await call({ version: '3.0', action: 'INIT', flow_token: token })).result.status).toBe(427);
  });

  it('without a configured key every request gets 421 and the event names the missing key', async () => {
    const { call, telemetry } = endpoint({ env: { FLOWS_PRIVATE_KEY: undefined } });
    expect((await call({ version: '3.0', action: 'ping' })).result.status).toBe(421);
    expect(telemetry.events).toEqual([expect.objectContaining({ name: 'flows.request', dimensions: expect.objectContaining({ tenantId, status: 421, reason: 'key-missing' }) })]);
  });

  it('a tenant id that is not one gets 400 naming it (after the signature check)', async () => {
    const { call } = endpoint();
    expect((await call({ version: '3.0', action: 'ping' }, 'Not_A_Tenant')).result).toMatchObject({ kind: 'error', status: 400, field: 'tenantId' });
  });
});
