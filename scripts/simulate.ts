import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { scriptArguments } from '../cli/args';
import { localEnvironment } from '../shared/config';
import { encodePrincipal } from '../shared/http';
import { inboundMessage, messageIdFor, messagesChange, signBody, unixSeconds, webhookDelivery, type Sender } from '../shared/whatsapp';
import { startGraphApiFake, type GraphApiFake } from '../test/fakes/graphApi';

/**
 * `npm run simulate`: plays Meta's side against a running local host (`npm start`). It configures a
 * tenant through the admin API (dev principal, LOCAL_DEV_AUTH), serves the Graph API's media endpoints
 * on loopback (the port of GRAPH_API_BASE_URL), sends signed deliveries of a scripted conversation
 * (text, statuses, an image, a flow completion, a duplicate, a forged one, a WhatsApp username user
 * with no phone number, a number change, a flow asking for erasure) and prints what happened, ending with
 * the privacy request's status. Identifiers follow Meta's "Business-scoped user IDs" page (updated
 * Jun 29 2026): every sender has a BSUID (`from_user_id`), a username user has no `from` / `wa_id`.
 *
 *   npm run simulate -- [--url http://127.0.0.1:7071] [--storage none|encrypted|hubspot] [--wait 20]
 */
export interface SimulateOptions {
  /** The host, e.g. http://127.0.0.1:7071 */
  url: string;
  appSecret: string;
  verifyToken?: string;
  accessToken: string;
  /** Where the Graph fake listens: GRAPH_API_BASE_URL of the host (e.g. http://127.0.0.1:7072/v23.0). */
  graphBaseUrl: string;
  messageStorage?: 'none' | 'encrypted' | 'hubspot';
  tenantId?: string;
  phoneNumberId?: string;
  waId?: string;
  /** How long to wait for the media download and the privacy request, in seconds. */
  waitSeconds?: number;
  log?: (line: string) => void;
}

export interface SimulationStep {
  step: string;
  status: number;
  detail: string;
}

export interface SimulationReport {
  tenantId: string;
  steps: SimulationStep[];
  media: { id: string; fetched: boolean };
  privacyRequest?: { id: string; status: string; tasks?: { store: string; status: string }[] };
}

const ADMIN = encodePrincipal({ objectId: 'simulator', roles: ['Flowkeeper.Admin'] });

export async function simulate(options: SimulateOptions): Promise<SimulationReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const base = new URL(options.graphBaseUrl);
  const graph = await startGraphApiFake({ token: options.accessToken, host: base.hostname, port: Number(base.port), version: base.pathname.replace(/^\/+|\/+$/g, '') || 'v23.0' });
  try {
    return await play(options, graph, log);
  } finally {
    await graph.close();
  }
}

async function play(options: SimulateOptions, graph: GraphApiFake, log: (line: string) => void): Promise<SimulationReport> {
  const tenantId = options.tenantId ?? 'simulated-lettings';
  const phoneNumberId = options.phoneNumberId ?? '106540352242922';
  const waId = options.waId ?? '447700900123';
  const sender: Sender = { waId, userId: 'GB.13491208655302741918', name: 'Jo Bloggs' };
  const usernameUser: Sender = { userId: 'GB.1502576394655843', username: 'priya.lettings', name: 'Priya S.' };
  const steps: SimulationStep[] = [];
  const record = (step: string, status: number, detail: string) => {
    steps.push({ step, status, detail });
    log(`${step.padEnd(22)} ${String(status).padEnd(4)} ${detail}`);
  };
  const api = (path: string, init: RequestInit = {}) => fetch(`${options.url}/api/${path}`, init);

  if (options.verifyToken) {
    const challenge = String(Date.now());
    const r = await api(`whatsapp/webhook?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(options.verifyToken)}&hub.challenge=${challenge}`);
    record('verification', r.status, (await r.text()) === challenge ? 'challenge echoed' : 'challenge NOT echoed');
  }

  const tenant = await api(`tenants/${tenantId}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'x-ms-client-principal': ADMIN },
    body: JSON.stringify({ name: 'Simulated Lettings', phoneNumberIds: [phoneNumberId], messageStorage: options.messageStorage ?? 'encrypted' }),
  });
  record('tenant', tenant.status, tenant.ok ? `${tenantId}, storage ${options.messageStorage ?? 'encrypted'}` : await tenant.text());
  if (!tenant.ok) throw new Error(`could not configure the tenant (${tenant.status}); is LOCAL_DEV_AUTH=true?`);

  const deliver = async (step: string, messages: Record<string, unknown>[], extra: { statuses?: Record<string, unknown>[]; secret?: string; from?: Sender | null } = {}) => {
    // `from: null`: no contacts block (Meta's system messages have none).
    const contacts = extra.from === null ? {} : { contacts: [extra.from ?? sender] };
    const payload = webhookDelivery([
      [messagesChange({ phoneNumberId, ...(messages.length ? { ...contacts, messages } : {}), ...(extra.statuses ? { statuses: extra.statuses } : {}) })],
    ]);
    const body = JSON.stringify(payload);
    const r = await api('whatsapp/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(extra.secret ?? options.appSecret, body) },
      body,
    });
    const answer = (await r.json().catch(() => ({}))) as { received?: Record<string, unknown>; error?: { message: string } };
    const summary = answer.received
      ? Object.entries(answer.received)
          .filter(([, v]) => (Array.isArray(v) ? v.length > 0 : v !== 0))
          .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`)
          .join(', ')
      : (answer.error?.message ?? '');
    record(step, r.status, summary);
    return answer.received;
  };

  const now = () => unixSeconds();
  const message = (type: string, content: Record<string, unknown>) => inboundMessage(sender, { type, ...content });

  const hello = message('text', { text: { body: 'Hi, is the flat on Elm Road still available?' } });
  await deliver('text message', [hello]);
  await deliver('status updates', [], { statuses: ['sent', 'delivered', 'read'].map((status) => ({ id: messageIdFor('447700900000'), status, timestamp: now(), recipient_id: waId })) });

  const mediaId = String(1_000_000_000_000_000 + Math.floor(Math.random() * 1e12));
  const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4096)]);
  graph.addMedia(mediaId, { bytes: photo, mimeType: 'image/jpeg' });
  const sha256 = createHash('sha256').update(photo).digest('base64');
  await deliver('image', [message('image', { image: { caption: 'the damp in the bathroom', mime_type: 'image/jpeg', sha256, id: mediaId } })]);

  await deliver('flow completion', [
    message('interactive', { interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: JSON.stringify({ flow_token: 'lead-qualify', budget: '1500', bedrooms: '2' }) } } }),
  ]);
  await deliver('duplicate delivery', [hello]);
  await deliver('forged delivery', [message('text', { text: { body: 'forged' } })], { secret: 'not-the-app-secret' });
  await deliver('username user (BSUID)', [inboundMessage(usernameUser, { type: 'text', text: { body: 'Hello from a username, no number shared' } })], { from: usernameUser });
  // Meta's system message for a number change: `from` the old number, `system.wa_id` the new one, `system.user_id` the new BSUID.
  await deliver(
    'number change',
    [inboundMessage({ waId }, { type: 'system', system: { body: `User Jo Bloggs changed from ${waId} to 447700900999`, type: 'user_changed_number', wa_id: '447700900999', user_id: 'GB.20934818273645501927' } })],
    { from: null },
  );

  const fetched = await waitFor(options.waitSeconds ?? 20, () => graph.requests.some((r) => r.mediaId === mediaId && r.step === 'file' && r.authorized));
  record('media download', fetched ? 200 : 0, fetched ? `Graph media ${mediaId} fetched with the bearer token` : 'the host did not fetch the media (is GRAPH_API_BASE_URL the simulator\'s?)');

  // Give the download a moment to land before the erasure, so the erasure has media to remove.
  await new Promise((r) => setTimeout(r, 300));
  const erasure = await deliver('erasure via flow', [
    message('interactive', {
      interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: JSON.stringify({ action: 'data_deletion_request', scope: 'all', flow_token: 'compliance_prod_001' }) } },
    }),
  ]);
  const requestId = (erasure?.privacyRequestIds as string[] | undefined)?.[0];
  const report: SimulationReport = { tenantId, steps, media: { id: mediaId, fetched } };
  if (!requestId) return report;

  let last: { status: string; tasks?: { store: string; status: string }[] } | undefined;
  let lastStatus = 0;
  await waitFor(options.waitSeconds ?? 20, async () => {
    const r = await api(`privacy-requests/${requestId}`, { headers: { 'x-ms-client-principal': ADMIN } });
    lastStatus = r.status;
    if (!r.ok) return r.status === 404 || r.status === 405;
    last = (await r.json()) as { status: string; tasks?: { store: string; status: string }[] };
    return last.status === 'completed' || last.status === 'failed';
  });
  const tasks = last?.tasks?.map((task) => `${task.store} ${task.status}`).join(', ');
  record('privacy request', lastStatus, last ? `${requestId} ${last.status}${tasks ? ` (${tasks})` : ''}` : `${requestId} created (status route not available)`);
  report.privacyRequest = { id: requestId, status: last?.status ?? 'received', ...(last?.tasks ? { tasks: last.tasks } : {}) };
  return report;
}

async function waitFor(seconds: number, probe: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A message id shaped like Meta's (base64 that contains the number). */
const USAGE = 'usage: npm run simulate -- [--url http://127.0.0.1:7071] [--storage none|encrypted|hubspot] [--wait 20]';

async function main(): Promise<void> {
  const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };
  const parsed = scriptArguments(process.argv.slice(2), { url: { type: 'string' }, storage: { type: 'string' }, wait: { type: 'string' } }, USAGE, io);
  if ('exitCode' in parsed) {
    process.exitCode = parsed.exitCode;
    return;
  }
  const args = parsed.values;
  const storage = args.storage ?? 'encrypted';
  const waitSeconds = Number(args.wait ?? 20);
  const problem = !['none', 'encrypted', 'hubspot'].includes(storage) ? '--storage must be none, encrypted or hubspot' : !Number.isInteger(waitSeconds) || waitSeconds < 1 ? '--wait must be a whole number of seconds' : undefined;
  if (problem) {
    io.err(`${problem}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const projectDir = resolve(__dirname, '..', '..');
  const { values, source } = localEnvironment(projectDir);
  const required = (name: string) => {
    const value = values[name]?.trim();
    if (!value) throw new Error(`${name} is not set in ${source} or the environment`);
    return value;
  };
  const url = args.url ?? `http://127.0.0.1:${values.PORT ?? 7071}`;
  console.log(`Simulating Meta against ${url} (settings from ${source})`);
  const report = await simulate({
    url,
    appSecret: required('WHATSAPP_APP_SECRET'),
    verifyToken: values.WHATSAPP_VERIFY_TOKEN,
    accessToken: required('WHATSAPP_ACCESS_TOKEN'),
    graphBaseUrl: values.GRAPH_API_BASE_URL?.trim() || 'http://127.0.0.1:7072/v23.0',
    messageStorage: storage as 'none' | 'encrypted' | 'hubspot',
    waitSeconds,
  });
  const failed = report.steps.filter((s) => s.status >= 500 || s.status === 0);
  if (failed.length > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  });
}
