import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredScreen, PRIVACY_CENTRE_SCREENS, type TenantId, type WaId } from '../../shared/domain';
import { checkScreenResponse, flowJsonSchema, privacyCentre, type FlowJson, type PrivacyCentreContext, type PrivacyCentreRequest, type ScreenResponse } from '../../shared/flows';
import { MemoryPrivacy } from './support/memoryPrivacy';

const raw = JSON.parse(readFileSync(join(__dirname, '../../flows/privacy-centre.json'), 'utf8')) as Record<string, unknown>;
const flow: FlowJson = flowJsonSchema.parse(raw);
const tenantId = 'acme-lettings' as TenantId;
const waId = '447700900123' as WaId;

function setup() {
  const port = new MemoryPrivacy();
  port.addTenant(tenantId);
  const ctx: PrivacyCentreContext = { tenantId, subject: { kind: 'waId', value: waId }, flowToken: 'v1.token.mac', tenant: port.tenants.get(tenantId)!, now: new Date('2026-01-05T10:00:00Z') };
  /** Runs a request and checks the answer against the Flow JSON: routing model and declared screen data. */
  const run = async (request: PrivacyCentreRequest): Promise<ScreenResponse & { data: Record<string, unknown> }> => {
    const response = await privacyCentre(port, ctx, request);
    expect(checkScreenResponse(flow, { action: request.action, ...('screen' in request ? { screen: request.screen } : {}) }, response)).toEqual([]);
    return response as ScreenResponse & { data: Record<string, unknown> };
  };
  return { port, ctx, run };
}

/** A deep copy of the Flow JSON with one change: the schema must reject it. */
function broken(change: (copy: { screens: { id: string; data?: Record<string, unknown>; terminal?: boolean; layout: { children: Record<string, unknown>[] } }[]; routing_model: Record<string, string[]>; version: string }) => void) {
  const copy = structuredClone(raw) as Parameters<typeof change>[0];
  change(copy);
  const result = flowJsonSchema.safeParse(copy);
  expect(result.success).toBe(false);
  return result.success ? [] : result.error.issues.map((i) => i.message);
}

describe('the Privacy Centre Flow JSON', () => {
  it('validates against the documented structure: current version, screens, layout components, routing model', () => {
    const result = flowJsonSchema.safeParse(raw);
    expect(result.success ? [] : result.error.issues).toEqual([]);
    expect(flow.version).toBe('7.3');
    expect(flow.data_api_version).toBe('3.0');
    expect(flow.screens.map((s) => s.id)).toEqual(['MENU', 'HELD_DATA', 'DELETE_SCOPE', 'DELETE_CONFIRM', 'DELETE_DONE', 'MARKETING', 'MARKETING_DONE', 'REQUEST_STATUS']);
    // The confirmation screen states what is removed and that active services end, and needs an explicit opt-in.
    const confirm = flow.screens.find((s) => s.id === 'DELETE_CONFIRM')!;
    expect(confirm.layout.children.map((c) => c.type)).toEqual(['TextHeading', 'TextSubheading', 'TextBody', 'TextSubheading', 'TextBody', 'OptIn', 'Footer']);
    expect(confirm.layout.children).toContainEqual(expect.objectContaining({ type: 'OptIn', name: 'confirm', required: true }));
  });

  it("its screens are the allow-list's Privacy Centre screens: the ids an audit event or a metric may carry", () => {
    expect([...PRIVACY_CENTRE_SCREENS].sort()).toEqual(flow.screens.map((screen) => screen.id).sort());
    expect(declaredScreen('DELETE_CONFIRM')).toBe('DELETE_CONFIRM');
    expect(declaredScreen('JO_BLOGGS')).toBe('(other)');
    expect(declaredScreen('JO_BLOGGS', ['JO_BLOGGS'])).toBe('JO_BLOGGS');
    expect(declaredScreen('Jo Bloggs 07700 900123', ['Jo Bloggs 07700 900123'])).toBe('(other)');
    expect(declaredScreen(' ')).toBeUndefined();
  });

  it('a deliberately broken copy fails, naming what is wrong', () => {
    expect(broken((f) => f.screens[0]!.layout.children.unshift({ type: 'TextBody', text: '${data.not_declared}' }))).toContainEqual(expect.stringContaining('${data.not_declared} is not declared'));
    expect(broken((f) => f.screens[0]!.layout.children.unshift({ type: 'Carousel', images: [] }))).not.toEqual([]);
    expect(broken((f) => f.screens[0]!.layout.children.unshift({ type: 'TextBody', txt: 'typo' }))).not.toEqual([]);
    expect(broken((f) => f.screens[1]!.layout.children.pop())).toContainEqual('a terminal screen must have a Footer');
    expect(broken((f) => (f.routing_model.MENU = [...f.routing_model.MENU!, 'NOWHERE']))).toContainEqual('route to unknown screen NOWHERE');
    expect(broken((f) => (f.routing_model.DELETE_DONE = ['MENU']))).toEqual(expect.arrayContaining([expect.stringContaining('cycles')]));
    expect(broken((f) => delete f.routing_model.MARKETING)).toContainEqual('screen MARKETING is missing from the routing model');
    expect(broken((f) => (f.version = '2.1'))).toContainEqual(expect.stringContaining('current Flow JSON version'));
    expect(
      broken((f) => {
        const footer = f.screens[0]!.layout.children.find((c) => c.type === 'Footer')!;
        footer['on-click-action'] = { name: 'navigate', next: { type: 'screen', name: 'DELETE_DONE' } };
      }),
    ).toContainEqual('navigate to DELETE_DONE is not in the routing model of MENU');
    expect(broken((f) => delete (f.screens[0]!.data!.heading as Record<string, unknown>).__example__)).toContainEqual('every declared field needs an __example__');
    expect(broken((f) => (f.screens[0]!.layout.children[3]!.label = 'A label that is far too long for a radio group'))).not.toEqual([]);
    expect(broken((f) => f.screens[2]!.layout.children.push({ type: 'TextBody', text: '${form.missing}' }))).toContainEqual(expect.stringContaining('${form.missing} names no input'));
  });
});

describe('endpoint answers checked against the Flow JSON', () => {
  it('a screen outside the routing model, or data the screen does not declare, is caught', () => {
    expect(checkScreenResponse(flow, { action: 'data_exchange', screen: 'MENU' }, { screen: 'DELETE_DONE', data: { request_id: 'x', status_text: 'y', reference: 'z' } })).toEqual([
      'data_exchange from MENU cannot show DELETE_DONE',
    ]);
    expect(checkScreenResponse(flow, { action: 'data_exchange', screen: 'MENU' }, { screen: 'MARKETING', data: { marketing_status: 1, phone: '447700900123' } })).toEqual([
      'MARKETING: data.marketing_status is not a string',
      'MARKETING: data.phone is not declared',
    ]);
    expect(checkScreenResponse(flow, { action: 'INIT' }, { screen: 'MENU', data: { heading: 'h', summary: 's' } })).toEqual(['MENU: data.requests_line is missing']);
    expect(checkScreenResponse(flow, { action: 'data_exchange', screen: 'MENU' }, { screen: 'DELETE_SCOPE', data: { scope_options: [{ id: 'all', title: 'A title that is much longer than thirty characters' }] } })).toEqual([
      'DELETE_SCOPE: data.scope_options is not a valid data-source (1-20 options, title up to 30 characters)',
    ]);
    expect(checkScreenResponse(flow, { action: 'data_exchange', screen: 'DELETE_DONE' }, { screen: 'SUCCESS', data: {} })).toEqual(['SUCCESS needs data.extension_message_response.params.flow_token']);
  });
});

describe('the Privacy Centre flow handler', () => {
  it('opens on the menu with a summary of what is held, and every menu choice leads to its screen', async () => {
    const { run } = setup();
    const menu = await run({ action: 'INIT', data: {} });
    expect(menu).toEqual({
      screen: 'MENU',
      data: {
        heading: 'Your data with Acme Lettings',
        summary: 'We hold your WhatsApp number and profile name, 2 form answers and 1 photo or file.',
        requests_line: 'You have no privacy requests in progress.',
      },
    });
    expect((await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'see_data' } })).screen).toBe('HELD_DATA');
    expect((await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'delete' } })).screen).toBe('DELETE_SCOPE');
    expect((await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'marketing' } })).screen).toBe('MARKETING');
    expect((await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'status' } })).screen).toBe('REQUEST_STATUS');
    expect(await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'hack' } })).toEqual({ screen: 'MENU', data: { error_message: 'Please choose what you would like to do.' } });
  });

  it('the held-data screen lists kinds and counts with their retention, never contents', async () => {
    const { run } = setup();
    const held = await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'see_data' } });
    expect(held.data.held_detail).toContain('Form answers: 2.');
    expect(held.data.held_detail).toContain('first seen 3 Jan 2026');
    expect(held.data.retention_detail).toContain('contact details 365 days after your last message');
    expect(JSON.stringify(held)).not.toContain(waId);
  });

  it('deleting asks for a scope, states what is removed and that active services end, and needs the opt-in', async () => {
    const { run, port } = setup();
    const scopes = await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'delete' } });
    expect((scopes.data.scope_options as { id: string }[]).map((o) => o.id)).toEqual(['all', 'messages', 'media', 'flow_responses', 'marketing']);
    const confirm = await run({ action: 'data_exchange', screen: 'DELETE_SCOPE', data: { scope: 'all' } });
    expect(confirm.screen).toBe('DELETE_CONFIRM');
    expect(confirm.data.what_is_removed).toMatch(/contact details.*messages.*photos and files.*form answers.*marketing preferences/);
    expect(confirm.data.consequences).toMatch(/active services end/i);

    expect(await run({ action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: false } })).toEqual({
      screen: 'DELETE_CONFIRM',
      data: { error_message: 'Please tick the box to confirm the deletion.' },
    });
    expect(port.created).toEqual([]);

    const done = await run({ action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: true } });
    expect(done.screen).toBe('DELETE_DONE');
    expect(port.created).toEqual([expect.objectContaining({ tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', scope: 'all', screen: 'DELETE_CONFIRM' })]);
    expect(done.data.request_id).toBe(port.created[0]!.id);
    expect(done.data.status_text).toMatch(/received.*4 Feb 2026/);

    // The back button and a second tap do not make a second request while the first is open.
    const again = await run({ action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: 'true' } });
    expect(again.data.request_id).toBe(port.created[0]!.id);
    expect(port.created).toHaveLength(1);

    const success = await run({ action: 'data_exchange', screen: 'DELETE_DONE', data: { request_id: done.data.request_id } });
    expect(success).toEqual({
      screen: 'SUCCESS',
      data: { extension_message_response: { params: { flow_token: 'v1.token.mac', flow: 'privacy-centre', outcome: 'erasure_requested', request_id: port.created[0]!.id } } },
    });
  });

  it('a partial deletion names only its kind of data; the CRM copy is named when the tenant uses HubSpot', async () => {
    const { run, port, ctx } = setup();
    port.addTenant(tenantId, { usesHubspot: true });
    ctx.tenant = port.tenants.get(tenantId)!;
    const media = await run({ action: 'data_exchange', screen: 'DELETE_SCOPE', data: { scope: 'media' } });
    expect(media.data).toMatchObject({ scope: 'media', scope_title: 'Delete your photos and files' });
    expect(media.data.what_is_removed).toContain('in our CRM (HubSpot)');
    expect(media.data.consequences).toMatch(/Active services that need these files end/);
    expect(await run({ action: 'data_exchange', screen: 'DELETE_SCOPE', data: { scope: 'everything' } })).toEqual({ screen: 'DELETE_SCOPE', data: { error_message: 'Please choose what to delete.' } });
  });

  it('opting out of marketing makes an objection request; the status screen lists requests', async () => {
    const { run, port } = setup();
    expect((await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'marketing' } })).data.marketing_status).toBe('You may receive marketing messages from Acme Lettings.');
    expect((await run({ action: 'data_exchange', screen: 'MARKETING', data: { opt_out: false } })).data).toEqual({ error_message: 'Please tick the box to opt out.' });
    const done = await run({ action: 'data_exchange', screen: 'MARKETING', data: { opt_out: true } });
    expect(done.screen).toBe('MARKETING_DONE');
    expect(port.created).toEqual([expect.objectContaining({ type: 'objection', scope: 'marketing', screen: 'MARKETING' })]);

    await run({ action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'media', confirm: true } });
    port.complete(port.created[0]!.id);
    const status = await run({ action: 'data_exchange', screen: 'MENU', data: { choice: 'status' } });
    expect(status.data.requests_text).toBe(
      [`Deletion (photos and files): received, made 5 Jan 2026. Ref ${port.created[1]!.id.slice(0, 8)}.`, `Marketing opt-out: completed on 5 Jan 2026. Ref ${port.created[0]!.id.slice(0, 8)}.`].join('\n'),
    );
    expect((await run({ action: 'INIT', data: {} })).data.requests_line).toBe('You have one privacy request in progress.');
  });

  it('the back button refreshes the screen it returns to', async () => {
    const { run, port } = setup();
    await run({ action: 'data_exchange', screen: 'DELETE_CONFIRM', data: { scope: 'all', confirm: true } });
    const back = await run({ action: 'BACK', screen: 'REQUEST_STATUS', data: {} });
    expect(back).toMatchObject({ screen: 'MENU', data: { requests_line: 'You have one privacy request in progress.' } });
    expect((await run({ action: 'BACK', screen: 'DELETE_CONFIRM', data: {} })).screen).toBe('DELETE_SCOPE');
    expect(port.created).toHaveLength(1);
  });

  it('every terminal screen closes the flow with the flow token in the completion params', async () => {
    const { run } = setup();
    for (const screen of ['HELD_DATA', 'REQUEST_STATUS', 'MARKETING_DONE']) {
      const response = await run({ action: 'data_exchange', screen, data: { done: screen.toLowerCase() } });
      expect(response).toMatchObject({ screen: 'SUCCESS', data: { extension_message_response: { params: { flow_token: 'v1.token.mac', flow: 'privacy-centre' } } } });
    }
  });
});
