import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataKeyring } from '../../shared/crypto';
import type { TenantId, WaId } from '../../shared/domain';
import { issueFlowToken } from '../../shared/flows';
import { change, delivery, messages, newMediaId, status, unixSeconds, wamid } from '../fixtures/whatsapp/payloads';
import { FlowClient, flowKeyPair } from '../flows/support/flowClient';
import { postRequest, waitForStatus } from '../privacy/support';
import { EVERY_STORE_PLACE, everyStore, phoneNeedles } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { distinctTestMobile } from '../support/subjects';
import { postWebhook } from '../whatsapp/support';
import { captureConsole, sweep, type ConsoleCapture } from './support/sweep';
import { APP_SECRET, createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';
import { queuesDrained } from './support/proof';

/**
 * Audit events, metric dimensions and telemetry hold no free text from outside (shared/domain/allowList.ts).
 * Each subject's deliveries carry a planted name and phone number in every field a payload can reach:
 * the profile name, a text, a reply's context, a document's filename and caption, a location, a shared
 * contact card, button and list titles, a flow's screen, token and answers, an order's note, an unknown
 * message type's name, error titles and details, a status value and its errors, another change's field
 * name, a message that is rejected, and the Flows endpoint's screen, error code and message. The requests
 * run at the same time: deliveries for some subjects while others are erased or exported. Afterwards the
 * audit trail (GET /api/audit), the telemetry, the logs and the console hold none of it; the erased
 * subjects are in no store at all (the audit container, the export blobs, every queue and dead-letter
 * queue included); the others only in their own partition and their own access export.
 */
const keys = flowKeyPair();
let world: ProofWorld;
let tenant: ProofTenant;
let output: ConsoleCapture;

beforeAll(async () => {
  output = captureConsole();
  world = await startProofWorld({ env: { FLOWS_PRIVATE_KEY: keys.privateKey } });
  tenant = await createProofTenant(world, { prefix: 'as', messageStorage: 'encrypted' });
}, 60_000);
afterAll(async () => {
  output?.stop();
  await world?.close();
});

interface Planted {
  waId: string;
  /** The subject's profile name. */
  name: string;
  /** A name and a phone number, planted in every free-text field. */
  plantName: string;
  plantNumber: string;
  needles: string[];
}

function plantedSubject(): Planted {
  const tag = randomBytes(3).toString('hex');
  const waId = distinctTestMobile();
  const other = distinctTestMobile().slice(-5);
  const plantName = `Demelza Poldark-${tag}`;
  const plantNumber = `07700 9${other}`;
  const name = `Ross Carne-${tag}`;
  return { waId, name, plantName, plantNumber, needles: [name, plantName, `Demelza_Poldark_${tag}`, ...phoneNeedles(waId), ...phoneNeedles(`447700 9${other}`)] };
}

/** Every field a webhook delivery can carry, holding the subject's planted name and number. */
function plantedDeliveries(phoneNumberId: string, s: Planted): unknown[] {
  const free = `${s.plantName} ${s.plantNumber}`;
  const contacts = [{ waId: s.waId, name: s.name }];
  const at = new Date();
  const msgs = [
    messages.text(s.waId, `Hello, this is ${free}`),
    messages.reply(s.waId, `Re: ${free}`, wamid(s.waId)),
    { ...messages.document(s.waId, { id: newMediaId(), sha256: 'c2hhMjU2' }, `${s.plantName}.pdf`), document: { filename: `${free}.pdf`, caption: free, mime_type: 'application/pdf', sha256: 'c2hhMjU2', id: newMediaId() } },
    { ...messages.location(s.waId), location: { latitude: 50.26, longitude: -5.05, name: free, address: free } },
    { ...messages.contacts(s.waId), contacts: [{ name: { formatted_name: s.plantName }, phones: [{ phone: s.plantNumber, type: 'CELL' }] }] },
    messages.buttonReply(s.waId, free),
    messages.listReply(s.waId, free),
    messages.flowCompletion(s.waId, { flow_token: free, screen: free, full_name: s.plantName, phone: s.plantNumber }),
    messages.flowCompletion(s.waId, { flow_token: free, screen: `${s.plantName.replace(/[ -]/g, '_')}`, action: 'data_access_request' }),
    messages.button(s.waId, free),
    messages.order(s.waId, free),
    { ...messages.future(s.waId), type: free, [free]: { note: free } },
    { ...messages.unsupported(s.waId), errors: [{ code: 131051, title: free, message: free, error_data: { details: free } }] },
    { ...messages.text(s.waId, `rejected: ${free}`), timestamp: '99999999999999' },
  ];
  const statuses = [{ ...status(s.waId, 'failed'), status: free, errors: [{ code: 131047, title: free, message: free, error_data: { details: free } }] }];
  return [
    delivery([change({ phoneNumberId, contacts, messages: msgs.slice(0, 7) })]),
    delivery([change({ phoneNumberId, contacts, messages: msgs.slice(7), statuses, errors: [{ code: 131000, title: free, message: free, error_data: { details: free } }] })]),
    delivery([change({ phoneNumberId, contacts, messages: [messages.text(s.waId, `more from ${free}`, at)] }), { field: free, value: { note: free, at: unixSeconds(at) } }]),
  ];
}

async function flowsRequests(s: Planted): Promise<number[]> {
  const tokenKeys = { subjectHashKey: world.t.services.env.SUBJECT_HASH_KEY!, dataKeyring: await dataKeyring(world.t.services.secrets) };
  const flowToken = issueFlowToken(tokenKeys, { tenantId: tenant.tenantId as TenantId, subject: { kind: 'waId', value: s.waId as WaId }, purpose: 'privacy-centre', now: new Date(), ttlSeconds: 3600 });
  const client = new FlowClient(`${world.t.url}/api/whatsapp/flows/${tenant.tenantId}`, keys.publicKey, APP_SECRET);
  const free = `${s.plantName} ${s.plantNumber}`;
  const answers = await Promise.all([
    client.send({ version: '3.0', action: 'INIT', flow_token: flowToken, data: { note: free } }),
    client.send({ version: '3.0', action: 'data_exchange', screen: free, flow_token: flowToken, data: { choice: free } }),
    client.send({ version: '3.0', action: 'data_exchange', screen: 'MENU', flow_token: flowToken, data: { error: s.plantName.replace(/[ -]/g, '_'), error_message: free } }),
    client.send({ version: '3.0', action: 'data_exchange', screen: free, flow_token: free, data: {} }),
  ]);
  return answers.map((a) => a.status);
}

async function deliver(payload: unknown): Promise<number> {
  const response = await postWebhook(world.t.url, payload);
  await response.arrayBuffer();
  return response.status;
}

const ROUNDS = Number(process.env.AUDIT_SWEEP_ROUNDS ?? 20);

async function auditText(): Promise<string> {
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const audit = await fetch(`${world.t.url}/api/audit?tenantId=${tenant.tenantId}&from=${from}&to=${to}&limit=1000`, { headers: adminHeaders() });
  expect(audit.status).toBe(200);
  return audit.text();
}

function flowScreensIn(text: string): unknown[] {
  return (JSON.parse(text) as { events: { type: string; details?: { screen?: unknown } }[] }).events.filter((e) => e.type === 'flow.completed').map((e) => e.details?.screen);
}

describe('no free text from outside in the audit trail, the metrics or telemetry', () => {
  it('a flow reply whose screen holds a name and a number: after the erasure, GET /api/audit does not show that string', async () => {
    const s = plantedSubject();
    const screen = `${s.plantName} ${s.plantNumber}`;
    const reply = messages.flowCompletion(s.waId, { flow_token: 'lead-7', screen, budget: '900' });
    expect(await deliver(delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId: s.waId, name: s.name }], messages: [reply] })]))).toBe(200);
    const erasure = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: s.waId } });
    const { id } = (await erasure.json()) as { id: string };
    expect((await waitForStatus(world.t, id, ['completed', 'failed'], 30_000)).status).toBe('completed');
    const text = await auditText();
    expect(text).toContain('privacy.erasure.completed');
    expect(text).not.toContain(s.plantName);
    expect(text).not.toContain(s.plantNumber);
    expect(flowScreensIn(text)).toContain('(other)');
  });

  it(`planted names and numbers in every payload field, ${ROUNDS} rounds of concurrent deliveries, Flows requests, erasures and exports: the audit trail and telemetry hold none, the erased subjects are in no store`, async () => {
    const erased: Planted[] = [];
    const kept: Planted[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [toErase, toExport, active] = [plantedSubject(), plantedSubject(), plantedSubject()];
      const all = [toErase, toExport, active];
      // Every subject's deliveries and Flows requests at once.
      const first = await Promise.all(all.flatMap((s) => plantedDeliveries(tenant.phoneNumberId, s).map(deliver)));
      expect(first.every((code) => code === 200), `round ${round}: ${JSON.stringify(first)}`).toBe(true);
      expect((await Promise.all(all.map(flowsRequests))).flat().every((code) => code === 200 || code === 427)).toBe(true);
      // Then, at the same time: an erasure, an access export, and more traffic from the active subject.
      const [erasure, access] = await Promise.all([
        postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: toErase.waId } }),
        postRequest(world.t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: toExport.waId } }),
        ...plantedDeliveries(tenant.phoneNumberId, active).map(deliver),
        flowsRequests(active),
      ]);
      const ids = await Promise.all([erasure, access].map(async (r) => ((await (r as Response).json()) as { id: string }).id));
      for (const id of ids) expect((await waitForStatus(world.t, id, ['completed', 'failed'], 60_000)).status).toBe('completed');
      erased.push(toErase);
      kept.push(toExport, active);
    }
    await queuesDrained(world.t.services.queue, 30_000);

    // The audit trail as an operator reads it: no planted string of any subject, erased or not.
    const text = await auditText();
    const lower = text.toLowerCase();
    expect(lower).toContain('webhook.message.rejected');
    const survivors = [...erased, ...kept].flatMap((s) => s.needles.filter((needle) => lower.includes(needle.toLowerCase())));
    expect(survivors).toEqual([]);
    expect(new Set(flowScreensIn(text))).toEqual(new Set(['(other)']));

    // Every store: the erased subjects nowhere; the others only in their own partition and their own export.
    const searched: string[] = [];
    const targets = { ...everyStore(world.t.services), logs: world.t.logs, telemetry: world.t.services.telemetry, console: output.lines, searched };
    expect(await sweep(erased.flatMap((s) => s.needles), targets)).toEqual([]);
    expect(searched).toEqual(expect.arrayContaining(EVERY_STORE_PLACE));
    const keptNeedles = kept.flatMap((s) => s.needles);
    const legitimate = (hit: { location: string }) => hit.location.startsWith('cosmos:subjects/') || hit.location.startsWith('blob:exports/');
    const everywhere = await sweep(keptNeedles, targets);
    expect(everywhere.some(legitimate)).toBe(true); // the sweep does find data where it may be
    expect(everywhere.filter((hit) => !legitimate(hit))).toEqual([]);
  }, 600_000);
});
