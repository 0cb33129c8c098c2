import { z } from 'zod';
import type { DataKeyring } from '../crypto/dataEncryption';
import type { SubjectHash, SubjectIdentifier, TenantId } from '../domain/ids';
import type { Marker, MarkerKind } from '../markers/markerStore';
import { issueFlowToken, type FlowPurpose } from './flowToken';

/**
 * Sends a flow to a WhatsApp user through the Graph API, as an interactive `flow` message with a freshly
 * issued flow token and `flow_action: data_exchange` (the flow's first screen comes from the endpoint's
 * INIT answer): `POST {GRAPH_API_BASE_URL}/{phone-number-id}/messages`.
 */
export interface SendFlowInput {
  tenantId: TenantId;
  /** A phone number, or a BSUID for a username user (sent as `recipient`, Meta "Business-scoped user IDs", Jun 29 2026). */
  subject: SubjectIdentifier;
  phoneNumberId: string;
  flowId: string;
  purpose: FlowPurpose;
  /** How long the token (and so the flow) stays usable. */
  ttlSeconds: number;
  /** `draft` opens an unpublished flow (testing with Meta's tools). */
  mode?: 'draft' | 'published';
  bodyText: string;
  cta: string;
  headerText?: string;
}

export interface SendFlowDeps {
  fetch: typeof fetch;
  graphApiBaseUrl: string;
  accessToken: string;
  keys: { subjectHashKey: string; dataKeyring: DataKeyring };
  now: Date;
}

export type SendFlowResult =
  | { ok: true; messageId: string; flowToken: string; expiresAt: Date }
  | { ok: false; status: number; code?: number; message: string };

const graphSuccess = z.object({ messages: z.array(z.object({ id: z.string() })).min(1) });
const graphError = z.object({ error: z.object({ message: z.string().optional(), code: z.number().optional() }) });

export function flowMessage(input: SendFlowInput, flowToken: string): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    ...(input.subject.kind === 'waId' ? { to: input.subject.value } : { recipient: input.subject.value }),
    type: 'interactive',
    interactive: {
      type: 'flow',
      ...(input.headerText ? { header: { type: 'text', text: input.headerText } } : {}),
      body: { text: input.bodyText },
      action: {
        name: 'flow',
        parameters: {
          flow_message_version: '3',
          flow_token: flowToken,
          flow_id: input.flowId,
          flow_cta: input.cta,
          flow_action: 'data_exchange',
          ...(input.mode === 'draft' ? { mode: 'draft' } : {}),
        },
      },
    },
  };
}

/**
 * Whether a marketing send to this person is refused, and why: the person stopped marketing messages in
 * WhatsApp (`user_preferences` stop), or is on the suppression list (STOP, objection, a marketing
 * erasure). Person markers are written under every identifier (shared/identity): one read each suffices.
 */
export async function marketingRefusal(
  markers: { get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined> },
  tenantId: TenantId,
  subjectHash: SubjectHash,
): Promise<'whatsapp-stop' | 'suppressed' | undefined> {
  const [preference, suppression] = await Promise.all([markers.get('marketing-preference', tenantId, subjectHash), markers.get('suppression', tenantId, subjectHash)]);
  if (preference?.data?.value === 'stop') return 'whatsapp-stop';
  if (suppression) return 'suppressed';
  return undefined;
}

export async function sendFlow(deps: SendFlowDeps, input: SendFlowInput): Promise<SendFlowResult> {
  const flowToken = issueFlowToken(deps.keys, { tenantId: input.tenantId, subject: input.subject, purpose: input.purpose, now: deps.now, ttlSeconds: input.ttlSeconds });
  const url = `${deps.graphApiBaseUrl.replace(/\/+$/, '')}/${encodeURIComponent(input.phoneNumberId)}/messages`;
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${deps.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(flowMessage(input, flowToken)),
    });
  } catch (error) {
    return { ok: false, status: 0, message: `Graph API unreachable (${error instanceof Error ? error.name : 'error'})` };
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) {
    const parsed = graphSuccess.safeParse(body);
    if (parsed.success) return { ok: true, messageId: parsed.data.messages[0]!.id, flowToken, expiresAt: new Date(deps.now.getTime() + input.ttlSeconds * 1000) };
    return { ok: false, status: response.status, message: 'Graph API answered without a message id' };
  }
  const error = graphError.safeParse(body);
  return {
    ok: false,
    status: response.status,
    ...(error.success && error.data.error.code !== undefined ? { code: error.data.error.code } : {}),
    message: error.success && error.data.error.message ? error.data.error.message.slice(0, 300) : `Graph API answered ${response.status}`,
  };
}
