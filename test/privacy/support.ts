import { createHash, randomBytes } from 'node:crypto';
import type { TenantId } from '../../shared/domain';
import { hubspotTokenSecret } from '../../shared/secrets';
import type { PrivacyRequestStatus, PrivacyRequestView } from '../../shared/privacy';
import { startGraphApiFake, type GraphApiFake } from '../fakes/graphApi';
import { startHubSpotFake, type HubSpotFake, type HubSpotFakeOptions } from '../fakes/hubspot';
import { messages, newMediaId, newPhoneNumberId, single } from '../fixtures/whatsapp/payloads';
import type { InProcessQueue } from '../../shared/queue';
import { adminHeaders } from '../support/principals';
import { distinctTestMobile } from '../support/subjects';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { postWebhook, subjectDocuments, TEST_FLOW_SCREENS } from '../whatsapp/support';

export const GRAPH_TOKEN = 'test-graph-token';

export interface PrivacyWorld {
  t: TestHost;
  hubspot: HubSpotFake;
  graph: GraphApiFake;
  close(): Promise<void>;
}

/**
 * The local host on the emulators, with the HubSpot and Graph API fakes on loopback. Secrets are not
 * cached (SECRET_CACHE_SECONDS=0) so a test can give a tenant its HubSpot token after start-up.
 */
export async function startPrivacyWorld(options: { hubspot?: HubSpotFakeOptions; queue?: InProcessQueue; env?: Record<string, string> } = {}): Promise<PrivacyWorld> {
  const hubspot = await startHubSpotFake(options.hubspot);
  const graph = await startGraphApiFake({ token: GRAPH_TOKEN });
  const t = await startTestHost(
    { HUBSPOT_API_BASE_URL: hubspot.url, GRAPH_API_BASE_URL: graph.baseUrl, WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN, SECRET_CACHE_SECONDS: '0', ...options.env },
    options.queue ? { queue: options.queue } : {},
  );
  return {
    t,
    hubspot,
    graph,
    close: async () => {
      await t.close();
      await Promise.all([hubspot.close(), graph.close()]);
    },
  };
}

export interface PrivacyTenant {
  tenantId: TenantId;
  phoneNumberId: string;
  token: string;
}

/** A tenant configured through the admin API; with HubSpot, its private-app token is set as the app would read it. */
export async function createPrivacyTenant(
  world: { t: TestHost },
  config: { hubspot?: boolean; jurisdiction?: 'gdpr' | 'ccpa'; messageStorage?: 'none' | 'encrypted' | 'hubspot'; confirmErasureByMessage?: boolean; exportDays?: number; prefix?: string } = {},
): Promise<PrivacyTenant> {
  const tenantId = uniqueTenantId(config.prefix ?? 'pr') as TenantId;
  const phoneNumberId = newPhoneNumberId();
  const token = `pat-eu1-${randomBytes(8).toString('hex')}`;
  world.t.services.env[hubspotTokenSecret(tenantId)] = token;
  const response = await fetch(`${world.t.url}/api/tenants/${tenantId}`, {
    method: 'PUT',
    headers: adminHeaders(),
    body: JSON.stringify({
      name: 'Acme Lettings',
      phoneNumberIds: [phoneNumberId],
      messageStorage: config.messageStorage ?? 'encrypted',
      jurisdiction: config.jurisdiction ?? 'gdpr',
      hubspot: { enabled: config.hubspot ?? true },
      confirmErasureByMessage: config.confirmErasureByMessage ?? false,
      flowScreens: TEST_FLOW_SCREENS,
      ...(config.exportDays ? { retention: { exportDays: config.exportDays } } : {}),
    }),
  });
  if (response.status !== 201) throw new Error(`tenant setup failed: ${response.status} ${await response.text()}`);
  return { tenantId, phoneNumberId, token };
}

export interface Subject {
  waId: string;
  name: string;
  text: string;
  answers: Record<string, string>;
  /** Every needle a PII sweep must not find afterwards. */
  needles: string[];
}

/** A fresh subject with distinctive personal data (so a sweep hit cannot be a coincidence). */
export function newSubject(): Subject {
  const tag = randomBytes(3).toString('hex');
  const waId = distinctTestMobile();
  const name = `Morwenna Trevithick-${tag}`;
  const text = `Please call me about flat 4B, my budget is ${tag} pounds`;
  const answers = { full_name: name, email: `morwenna.${tag}@example.org`, postcode: `TR1 ${tag.toUpperCase()}`, income: `income-${tag}` };
  return { waId, name, text, answers, needles: [name, text, answers.email, answers.postcode, answers.income] };
}

/**
 * Builds the subject's data the way production does: real signed webhooks (a text message, an image
 * that the media worker downloads from the Graph fake into Blob, a completed flow with answers), and a
 * HubSpot contact holding the number as a person typed it.
 */
export async function buildSubjectThroughWebhooks(world: PrivacyWorld, tenant: PrivacyTenant, subject: Subject): Promise<{ hubspotContactId: string }> {
  const { t, graph, hubspot } = world;
  const post = async (message: Record<string, unknown>) => {
    const response = await postWebhook(t.url, single(tenant.phoneNumberId, subject.waId, message, subject.name));
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
  };
  await post(messages.text(subject.waId, subject.text));
  const mediaId = newMediaId();
  const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2048), Buffer.from(`EXIF ${subject.name}`)]);
  const { webhookSha256 } = graph.addMedia(mediaId, { bytes, mimeType: 'image/jpeg' });
  await post(messages.image(subject.waId, { id: mediaId, sha256: webhookSha256 }, `photo of ${subject.name}`));
  await post(messages.flowCompletion(subject.waId, { flow_token: `lead-${createHash('sha256').update(subject.waId).digest('hex').slice(0, 8)}`, screen: 'LEAD', ...subject.answers }));
  // The media worker stores the image under the subject's prefix: wait for it.
  await eventually(async () => {
    const docs = await subjectDocuments(t.services, tenant.tenantId, subject.waId);
    return docs.some((d) => d.type === 'mediaRef' && d.status === 'stored') || undefined;
  }, 15_000, 'the media download');
  const national = `0${subject.waId.slice(2)}`;
  const contact = hubspot.addContact({ firstname: subject.name.split(' ')[0]!, lastname: subject.name.split(' ')[1]!, phone: `+44 ${subject.waId.slice(2, 6)} ${subject.waId.slice(6)}`, mobilephone: national });
  return { hubspotContactId: contact.id };
}

export async function postRequest(t: TestHost, body: unknown, headers = adminHeaders()): Promise<Response> {
  return fetch(`${t.url}/api/privacy-requests`, { method: 'POST', headers, body: JSON.stringify(body) });
}

export async function getRequest(t: TestHost, id: string): Promise<PrivacyRequestView> {
  const response = await fetch(`${t.url}/api/privacy-requests/${id}`, { headers: adminHeaders() });
  if (response.status !== 200) throw new Error(`GET privacy request answered ${response.status}`);
  return (await response.json()) as PrivacyRequestView;
}

export async function waitForStatus(t: TestHost, id: string, statuses: PrivacyRequestStatus[], timeoutMs = 20_000): Promise<PrivacyRequestView> {
  return eventually(async () => {
    const view = await getRequest(t, id);
    return statuses.includes(view.status) ? view : undefined;
  }, timeoutMs, `request ${id} to reach ${statuses.join('/')}`);
}
