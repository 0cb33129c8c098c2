import { dataKeyring } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { declaredScreen, OTHER } from '../domain/allowList';
import { tenantIdSchema } from '../domain/ids';
import { requireSecret, type SecretProvider } from '../secrets/secretProvider';
import type { Telemetry } from '../telemetry/telemetry';
import { decryptFlowRequest, encryptedRequestSchema, encryptFlowResponse, FlowDecryptionError } from './flowCrypto';
import type { FlowKeySource } from './flowKeys';
import { flowTokenKeyId, verifyFlowToken } from './flowToken';
import { privacyCentre } from './privacyCentre';
import type { PrivacyCentrePort } from './privacyCentrePort';
import { ERROR_ACKNOWLEDGED, flowRequestSchema, PING_RESPONSE, screenError, type FlowRequest } from './protocol';
import { verifySignature } from '../whatsapp/signature';

/**
 * POST /api/whatsapp/flows/{tenantId}: Meta's encrypted data exchange, end to end.
 *
 * Status codes as Meta documents them for Flows endpoints: 432 when the request signature does not
 * verify, 421 when the payload cannot be decrypted (the client re-fetches the public key and retries),
 * 427 when the flow token is invalid or expired (the client shows the message and closes the flow),
 * 400 for a body that is not the documented JSON. Never a 500: a failing privacy store shows an error
 * message on the current screen. Nothing decrypted is ever logged: telemetry names the tenant, action,
 * screen and outcome only.
 */
export interface FlowsEndpointDeps {
  secrets: SecretProvider;
  keys: FlowKeySource;
  privacy: PrivacyCentrePort;
  clock: Clock;
  telemetry: Telemetry;
}

export type FlowsEndpointResult =
  | { kind: 'encrypted'; status: number; body: string }
  | { kind: 'error'; status: number; message: string; field?: string };

export const FLOW_TOKEN_INVALID_MESSAGE = 'This Privacy Centre link has expired. Send us a message to get a new one.';
const TRY_AGAIN = 'Something went wrong on our side. Please try again in a moment.';

export async function handleFlowsRequest(
  deps: FlowsEndpointDeps,
  input: { tenantId: string | undefined; rawBody: Buffer; signature: string | null },
): Promise<FlowsEndpointResult> {
  const started = Date.now();
  const tenant = tenantIdSchema.safeParse(input.tenantId);
  const tenantId = tenant.success ? tenant.data : undefined;
  const outcome = (result: FlowsEndpointResult, details: Record<string, string> = {}): FlowsEndpointResult => {
    deps.telemetry.event('flows.request', { tenantId, status: result.status, ...details, ms: Date.now() - started });
    return result;
  };

  // Checked as on the webhook (current and previous app secret, constant time); Meta's status for a
  // signature that does not verify on a Flows endpoint is 432.
  const signature = await verifySignature(deps.secrets, input.rawBody, input.signature);
  if (!signature.ok) {
    return outcome({ kind: 'error', status: 432, message: 'X-Hub-Signature-256 does not verify', field: 'X-Hub-Signature-256' }, { reason: `signature-${signature.reason}` });
  }
  if (!tenantId) return outcome({ kind: 'error', status: 400, message: 'tenantId must be 1-63 lowercase letters, digits or dashes', field: 'tenantId' }, { reason: 'tenant-id' });

  let json: unknown;
  try {
    json = JSON.parse(input.rawBody.toString('utf8'));
  } catch {
    return outcome({ kind: 'error', status: 400, message: 'request body is not valid JSON' }, { reason: 'json' });
  }
  const envelope = encryptedRequestSchema.safeParse(json);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(body)';
    return outcome({ kind: 'error', status: 400, message: `${field} ${issue?.message ?? 'is invalid'}`, field }, { reason: 'envelope' });
  }

  let key = await deps.keys.privateKeyFor(tenantId);
  if (!key.ok) {
    // Without a usable key nothing can be decrypted: 421 makes the client re-fetch the public key, and
    // the event tells operators which secret to fix.
    return outcome({ kind: 'error', status: 421, message: 'the request cannot be decrypted' }, { reason: `key-${key.reason}` });
  }
  let decrypted;
  try {
    decrypted = decryptFlowRequest(envelope.data, key.key);
  } catch (error) {
    // The key may have been rotated in Key Vault after this instance cached it: read it again once
    // (rate-limited) and try the new one before refusing.
    const fresh = deps.keys.refresh && (await deps.keys.refresh(tenantId)) ? await deps.keys.privateKeyFor(tenantId) : undefined;
    if (fresh?.ok) {
      key = fresh;
      try {
        decrypted = decryptFlowRequest(envelope.data, key.key);
      } catch {
        // refused below, with the first reason
      }
    }
    if (!decrypted) {
      const reason = error instanceof FlowDecryptionError ? error.reason : 'unknown';
      return outcome({ kind: 'error', status: 421, message: 'the request cannot be decrypted' }, { reason: `decrypt-${reason}` });
    }
  }
  const reply = (status: number, body: unknown): FlowsEndpointResult => ({ kind: 'encrypted', status, body: encryptFlowResponse(body, decrypted.aesKey, decrypted.iv) });

  let payload: unknown;
  try {
    payload = JSON.parse(decrypted.plaintext);
  } catch {
    return outcome({ kind: 'error', status: 400, message: 'the decrypted payload is not valid JSON' }, { reason: 'payload-json' });
  }
  const parsed = flowRequestSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(payload)';
    return outcome({ kind: 'error', status: 400, message: `${field} ${issue?.message ?? 'is invalid'}`, field }, { reason: 'payload' });
  }
  const request = parsed.data;
  const screen = declaredScreen(request.screen);
  const details: Record<string, string> = { action: request.action, ...(screen ? { screen } : {}) };

  if (request.action === 'ping') return outcome(reply(200, PING_RESPONSE), details);
  if (request.data.error !== undefined) {
    // The client reports a problem with an earlier response; neither its code nor its message is recorded
    // (free text from the payload: shared/domain/allowList.ts), only that it happened.
    return outcome(reply(200, ERROR_ACKNOWLEDGED), { ...details, reason: 'client-error' });
  }

  const keys = { subjectHashKey: await requireSecret(deps.secrets, 'SUBJECT_HASH_KEY'), dataKeyring: await dataKeyring(deps.secrets, flowTokenKeyId(request.flow_token)) };
  const token = verifyFlowToken(keys, request.flow_token, { tenantId, now: deps.clock.now() });
  if (!token.ok) return outcome(reply(427, { error_msg: FLOW_TOKEN_INVALID_MESSAGE }), { ...details, reason: `token-${token.reason}` });

  try {
    const tenantView = await deps.privacy.tenant(tenantId);
    if (!tenantView) return outcome(reply(427, { error_msg: FLOW_TOKEN_INVALID_MESSAGE }), { ...details, reason: 'tenant-unknown' });
    const context = { tenantId, subject: token.claims.subject, flowToken: request.flow_token!, tenant: tenantView, now: deps.clock.now() };
    const response = await privacyCentre(deps.privacy, context, toScreenRequest(request));
    return outcome(reply(200, response), { ...details, next: declaredScreen(response.screen) ?? OTHER });
  } catch (error) {
    const failure = { ...details, reason: `handler-${error instanceof Error ? error.name : 'error'}` };
    // INIT has no screen to show an error on: 503 makes the client offer a retry. Otherwise the client
    // stays on its screen with the message.
    if (request.action === 'INIT' || !request.screen) return outcome({ kind: 'error', status: 503, message: 'the Privacy Centre is unavailable, try again' }, failure);
    return outcome(reply(200, screenError(request.screen, TRY_AGAIN)), failure);
  }
}

function toScreenRequest(request: FlowRequest): Parameters<typeof privacyCentre>[2] {
  if (request.action === 'INIT' || !request.screen) return { action: 'INIT', data: request.data };
  return { action: request.action === 'BACK' ? 'BACK' : 'data_exchange', screen: request.screen, data: request.data };
}


