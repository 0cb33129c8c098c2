import type { Container } from '@azure/cosmos';
import { hashSubject } from '../../shared/crypto';
import type { TenantId, WaId } from '../../shared/domain';
import { InProcessQueue, type OutgoingMessage, type QueueName } from '../../shared/queue';
import { signBody } from '../../shared/whatsapp';
import { newPhoneNumberId } from '../fixtures/whatsapp/payloads';
import { adminHeaders } from '../support/principals';
import type { TestHost } from '../support/testHost';
import { uniqueTenantId, type TestServices } from '../support/testServices';
import { pkOfUserId, pkOfWaId, TEST_SUBJECT_HASH_KEY } from '../support/subjects';

export const APP_SECRET = 'test-app-secret';

/** POSTs a delivery as Meta does: the raw bytes signed with the app secret. */
export async function postWebhook(
  url: string,
  payload: unknown,
  options: { secret?: string; signature?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  const signature = options.signature === undefined ? signBody(options.secret ?? APP_SECRET, body) : options.signature;
  return fetch(`${url}/api/whatsapp/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== null ? { 'x-hub-signature-256': signature } : {}), ...options.headers },
    body,
  });
}

export interface TestTenant {
  tenantId: TenantId;
  phoneNumberId: string;
}

/** The screens of the tests' own flows, declared by their tenants (a screen nobody declares is recorded as `(other)`). */
export const TEST_FLOW_SCREENS = ['PRIVACY', 'PRIVACY_CENTRE', 'LEAD', 'BOOKING', 'SEARCH', 'END'];

/** A tenant configured through the admin API, as an operator would. */
export async function createTenant(t: TestHost, config: { messageStorage: 'none' | 'encrypted' | 'hubspot'; retention?: Record<string, number>; flowScreens?: string[] }): Promise<TestTenant> {
  const tenantId = uniqueTenantId('wa') as TenantId;
  const phoneNumberId = newPhoneNumberId();
  const response = await fetch(`${t.url}/api/tenants/${tenantId}`, {
    method: 'PUT',
    headers: adminHeaders(),
    body: JSON.stringify({ name: 'Acme Lettings', phoneNumberIds: [phoneNumberId], flowScreens: TEST_FLOW_SCREENS, ...config }),
  });
  if (response.status !== 201) throw new Error(`tenant setup failed: ${response.status} ${await response.text()}`);
  return { tenantId, phoneNumberId };
}

/**
 * Every document of a subject identifier's partition (the WHERE names the partition: the emulator ignores
 * the option). `identifier` is a phone number (wa_id digits) or a BSUID; its partition is
 * `<tenantId>|<keyed hash>` (docs/identity.md), computed with the services' SUBJECT_HASH_KEY.
 */
export async function subjectDocuments(s: TestServices, tenantId: string, identifier: string): Promise<Record<string, unknown>[]> {
  const key = s.env.SUBJECT_HASH_KEY ?? TEST_SUBJECT_HASH_KEY;
  const pk = /^\d+$/.test(identifier) ? pkOfWaId(tenantId, identifier, key) : pkOfUserId(tenantId, identifier, key);
  const { resources } = await s.cosmos.subjects.items
    .query<Record<string, unknown>>({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk })
    .fetchAll();
  return resources;
}

export async function documentsOf(container: Container): Promise<Record<string, unknown>[]> {
  const { resources } = await container.items.query<Record<string, unknown>>('SELECT * FROM c').fetchAll();
  return resources;
}

/** Every document of every container of the test database (listed from the database itself), serialised. */
export async function everyCosmosDocument(s: TestServices): Promise<string> {
  const database = s.cosmos.subjects.database;
  const { resources: containers } = await database.containers.readAll().fetchAll();
  if (containers.length < Object.keys(s.cosmos).length) throw new Error('the database lists fewer containers than the app uses');
  const all = await Promise.all(containers.map((c) => documentsOf(database.container(c.id))));
  return JSON.stringify(all);
}

export function subjectHashOf(s: TestServices, tenantId: TenantId, waId: string): Promise<string> {
  return hashSubject(s.secrets, tenantId, waId as WaId);
}

/** Everything the app emitted as telemetry, serialised. */
export function telemetryText(s: TestServices): string {
  return JSON.stringify([s.telemetry.events, s.telemetry.metrics]);
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** The in-process queue, recording every message sent (workers may consume them before a test can peek). */
export class RecordingInProcessQueue extends InProcessQueue {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  private readonly held = new Map<QueueName, OutgoingMessage[]>();
  override async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    for (const message of Array.isArray(messages) ? messages : [messages]) this.sent.push({ queue, message: structuredClone(message) });
    const held = this.held.get(queue);
    if (held) held.push(...(Array.isArray(messages) ? messages : [messages]));
    else await super.send(queue, messages);
  }
  /** Keeps what is sent to `queue` from its workers until `release`: a test sees the state in between. */
  hold(queue: QueueName): void {
    this.held.set(queue, this.held.get(queue) ?? []);
  }
  async release(queue: QueueName): Promise<void> {
    const held = this.held.get(queue) ?? [];
    this.held.delete(queue);
    if (held.length > 0) await super.send(queue, held);
  }
  sentTo(queue: QueueName, tenantId?: string): OutgoingMessage[] {
    return this.sent.filter((s) => s.queue === queue && (tenantId === undefined || (s.message.body as { tenantId?: string }).tenantId === tenantId)).map((s) => s.message);
  }
}

/** A loopback address where nothing listens: outside calls fail at once. */
export const CLOSED_PORT_URL = 'http://127.0.0.1:9/v23.0';
