import type { SubjectIdentifier, TenantId } from '../domain/ids';
import { ERASURE_SCOPES, type ErasureScope, type PrivacyRequestType } from '../privacy/privacyRequest';
import type { NextScreenResponse, ScreenData, ScreenResponse } from './protocol';
import { screenError } from './protocol';
import { OPEN_STATUSES, type HeldDataView, type PrivacyCentrePort, type RequestView, type TenantView } from './privacyCentrePort';

/**
 * The Privacy Centre flow (flows/privacy-centre.json): what each request of the flow gets back. Screens:
 * MENU → HELD_DATA | DELETE_SCOPE → DELETE_CONFIRM → DELETE_DONE | MARKETING → MARKETING_DONE | REQUEST_STATUS.
 * The screen data returned here is exactly what the Flow JSON declares (a test checks every response
 * against the Flow JSON), and every navigation follows its routing model.
 */
export const SCREENS = {
  menu: 'MENU',
  heldData: 'HELD_DATA',
  deleteScope: 'DELETE_SCOPE',
  deleteConfirm: 'DELETE_CONFIRM',
  deleteDone: 'DELETE_DONE',
  marketing: 'MARKETING',
  marketingDone: 'MARKETING_DONE',
  requestStatus: 'REQUEST_STATUS',
} as const;

/** Where the back button leads from a screen with `refresh_on_back` (each screen has one parent). */
const PARENT: Record<string, string> = {
  [SCREENS.heldData]: SCREENS.menu,
  [SCREENS.deleteScope]: SCREENS.menu,
  [SCREENS.marketing]: SCREENS.menu,
  [SCREENS.requestStatus]: SCREENS.menu,
  [SCREENS.deleteConfirm]: SCREENS.deleteScope,
};

const TERMINAL: readonly string[] = [SCREENS.heldData, SCREENS.deleteDone, SCREENS.marketingDone, SCREENS.requestStatus];

export interface PrivacyCentreContext {
  tenantId: TenantId;
  /** Who the flow token was issued to: a phone number, or a BSUID (a username user). */
  subject: SubjectIdentifier;
  flowToken: string;
  tenant: TenantView;
  now: Date;
}

export type PrivacyCentreRequest =
  | { action: 'INIT'; data: Record<string, unknown> }
  | { action: 'BACK' | 'data_exchange'; screen: string; data: Record<string, unknown> };

export async function privacyCentre(port: PrivacyCentrePort, ctx: PrivacyCentreContext, request: PrivacyCentreRequest): Promise<ScreenResponse> {
  if (request.action === 'INIT') return menu(port, ctx);
  if (request.action === 'BACK') return render(port, ctx, PARENT[request.screen] ?? SCREENS.menu);

  const { screen, data } = request;
  if (TERMINAL.includes(screen)) return success(ctx, screen, data);
  switch (screen) {
    case SCREENS.menu:
      return chooseFromMenu(port, ctx, data.choice);
    case SCREENS.deleteScope: {
      const scope = scopeOf(data.scope);
      return scope ? deleteConfirm(ctx, scope) : screenError(screen, 'Please choose what to delete.');
    }
    case SCREENS.deleteConfirm:
      return requestErasure(port, ctx, data);
    case SCREENS.marketing:
      return optOut(port, ctx, data);
    default:
      return screenError(screen, 'This screen is no longer available. Please close and open the Privacy Centre again.');
  }
}

async function render(port: PrivacyCentrePort, ctx: PrivacyCentreContext, screen: string): Promise<NextScreenResponse> {
  switch (screen) {
    case SCREENS.deleteScope:
      return deleteScope(port, ctx);
    default:
      return menu(port, ctx);
  }
}

async function chooseFromMenu(port: PrivacyCentrePort, ctx: PrivacyCentreContext, choice: unknown): Promise<NextScreenResponse> {
  switch (choice) {
    case 'see_data':
      return heldData(port, ctx);
    case 'delete':
      return deleteScope(port, ctx);
    case 'marketing':
      return marketing(port, ctx);
    case 'status':
      return requestStatus(port, ctx);
    default:
      return screenError(SCREENS.menu, 'Please choose what you would like to do.');
  }
}

async function menu(port: PrivacyCentrePort, ctx: PrivacyCentreContext): Promise<NextScreenResponse> {
  const [held, requests] = await Promise.all([port.heldData(ctx.tenantId, ctx.subject), port.requests(ctx.tenantId, ctx.subject)]);
  const open = requests.filter((r) => OPEN_STATUSES.includes(r.status));
  return next(SCREENS.menu, {
    heading: `Your data with ${ctx.tenant.name}`.slice(0, 80),
    summary: summaryLine(held, ctx.tenant),
    requests_line:
      open.length === 0
        ? 'You have no privacy requests in progress.'
        : `You have ${open.length === 1 ? 'one privacy request' : `${open.length} privacy requests`} in progress.`,
  });
}

async function heldData(port: PrivacyCentrePort, ctx: PrivacyCentreContext): Promise<NextScreenResponse> {
  const held = await port.heldData(ctx.tenantId, ctx.subject);
  const lines = [
    held.contact
      ? `Contact: your WhatsApp number${held.contact.hasProfileName ? ' and profile name' : ''}${held.contact.firstSeenAt ? `, first seen ${day(held.contact.firstSeenAt)}` : ''}.`
      : 'Contact: nothing stored.',
    `Form answers: ${countText(held.flowResponses)}.`,
    `Photos and files: ${countText(held.media)}.`,
    `Messages: ${held.messages === 0 ? 'none stored' : countText(held.messages)}.`,
    `Marketing: ${marketingText(held.marketing)}${held.whatsappMarketing === 'stop' ? ' (you stopped marketing messages in WhatsApp)' : ''}.`,
    ...(held.restricted ? ['Processing of your data is restricted at your request.'] : []),
    ...(ctx.tenant.usesHubspot ? [`${ctx.tenant.name} also keeps your contact and conversations in its CRM (HubSpot); a deletion removes them there too.`] : []),
  ];
  const r = ctx.tenant.retention;
  return next(SCREENS.heldData, {
    held_detail: lines.join('\n'),
    retention_detail:
      `Each item is deleted automatically: contact details ${r.contactDays} days after your last message, ` +
      `form answers after ${r.flowResponseDays} days, photos and files after ${r.mediaDays} days` +
      (held.messages > 0 ? `, messages after ${r.messageDays} days.` : '.'),
  });
}

async function deleteScope(port: PrivacyCentrePort, ctx: PrivacyCentreContext): Promise<NextScreenResponse> {
  const held = await port.heldData(ctx.tenantId, ctx.subject);
  return next(SCREENS.deleteScope, {
    scope_options: [
      { id: 'all', title: 'Everything', description: ctx.tenant.usesHubspot ? 'All your data, here and in our CRM' : 'All the data we hold about you' },
      { id: 'messages', title: 'Messages', description: held.messages === 0 ? 'None stored' : `${countText(held.messages)} stored` },
      { id: 'media', title: 'Photos and files', description: held.media === 0 ? 'None stored' : `${countText(held.media)} stored` },
      { id: 'flow_responses', title: 'Form answers', description: held.flowResponses === 0 ? 'None stored' : `${countText(held.flowResponses)} stored` },
      { id: 'marketing', title: 'Marketing data', description: 'Your marketing preferences' },
    ] satisfies { id: ErasureScope; title: string; description: string }[],
  });
}

const SCOPE_TEXT: Record<ErasureScope, { title: string; removed: string; consequences: string }> = {
  all: {
    title: 'Delete everything',
    removed: 'Everything we hold about you: your contact details and profile name, your messages, the photos and files you sent, your form answers and your marketing preferences.',
    consequences:
      'Any active services end: open bookings, orders, applications or conversations with us stop, and we cannot restore them. ' +
      'If you message us again later, we start afresh.',
  },
  messages: {
    title: 'Delete your messages',
    removed: 'The content of the messages you sent us and we sent you.',
    consequences: 'Active services that depend on these messages end: we can no longer refer back to earlier conversations, and we cannot restore them.',
  },
  media: {
    title: 'Delete your photos and files',
    removed: 'The photos, documents, voice notes and other files you sent us.',
    consequences: 'Active services that need these files end (for example a claim or application that relies on a document you sent), and we cannot restore them.',
  },
  flow_responses: {
    title: 'Delete your form answers',
    removed: 'Your answers to forms you filled in on WhatsApp.',
    consequences: 'Active services based on those answers end (for example a booking or enquiry made through a form), and we cannot restore them.',
  },
  marketing: {
    title: 'Delete your marketing data',
    removed: 'Your marketing preferences and anything we keep only for marketing.',
    consequences: 'We stop any marketing to you. Replies and messages about things you asked for continue.',
  },
};

function deleteConfirm(ctx: PrivacyCentreContext, scope: ErasureScope): NextScreenResponse {
  const text = SCOPE_TEXT[scope];
  const removed = ctx.tenant.usesHubspot && scope !== 'marketing' ? `${text.removed} This includes the copy in our CRM (HubSpot).` : text.removed;
  return next(SCREENS.deleteConfirm, {
    scope,
    scope_title: text.title,
    what_is_removed: removed,
    consequences: text.consequences,
  });
}

async function requestErasure(port: PrivacyCentrePort, ctx: PrivacyCentreContext, data: Record<string, unknown>): Promise<ScreenResponse> {
  const scope = scopeOf(data.scope);
  if (!scope) return screenError(SCREENS.deleteConfirm, 'Please go back and choose what to delete.');
  if (!isTrue(data.confirm)) return screenError(SCREENS.deleteConfirm, 'Please tick the box to confirm the deletion.');
  const request = await openOrNew(port, ctx, 'erasure', scope, SCREENS.deleteConfirm);
  return next(SCREENS.deleteDone, {
    request_id: request.id,
    status_text:
      `Your request to ${SCOPE_TEXT[scope].title.toLowerCase()} is ${statusText(request.status)}. ` +
      `It normally completes within minutes; at the latest by ${day(request.dueAt)}. You can check its status in the Privacy Centre.`,
    reference: `Reference: ${request.id.slice(0, 8)}`,
  });
}

async function marketing(port: PrivacyCentrePort, ctx: PrivacyCentreContext): Promise<NextScreenResponse> {
  const held = await port.heldData(ctx.tenantId, ctx.subject);
  const status =
    held.whatsappMarketing === 'stop'
      ? `You stopped marketing messages from ${ctx.tenant.name} in WhatsApp: you will not receive them.`
      : held.marketing === 'opted_out'
      ? `You have already opted out of marketing messages from ${ctx.tenant.name}.`
      : `You may receive marketing messages from ${ctx.tenant.name}.`;
  return next(SCREENS.marketing, { marketing_status: status });
}

async function optOut(port: PrivacyCentrePort, ctx: PrivacyCentreContext, data: Record<string, unknown>): Promise<ScreenResponse> {
  if (!isTrue(data.opt_out)) return screenError(SCREENS.marketing, 'Please tick the box to opt out.');
  const request = await openOrNew(port, ctx, 'objection', 'marketing', SCREENS.marketing);
  return next(SCREENS.marketingDone, {
    request_id: request.id,
    status_text: `You will not receive marketing messages from ${ctx.tenant.name} any more. Reference: ${request.id.slice(0, 8)}.`,
  });
}

async function requestStatus(port: PrivacyCentrePort, ctx: PrivacyCentreContext): Promise<NextScreenResponse> {
  const requests = (await port.requests(ctx.tenantId, ctx.subject)).slice(0, 10);
  const lines = requests.map((r) => {
    const what = r.type === 'erasure' ? `${TYPE_TEXT.erasure} (${SCOPE_LABEL[r.scope]})` : TYPE_TEXT[r.type];
    const when = r.status === 'completed' && r.completedAt ? ` on ${day(r.completedAt)}` : `, made ${day(r.receivedAt)}`;
    return `${what}: ${statusText(r.status)}${when}. Ref ${r.id.slice(0, 8)}.`;
  });
  return next(SCREENS.requestStatus, {
    requests_text: lines.length > 0 ? lines.join('\n') : 'You have not made any privacy requests.',
  });
}

/** A request of the same kind that is still open is shown again rather than made twice (a double tap, the back button). */
async function openOrNew(
  port: PrivacyCentrePort,
  ctx: PrivacyCentreContext,
  type: Extract<PrivacyRequestType, 'erasure' | 'objection'>,
  scope: ErasureScope,
  screen: string,
): Promise<RequestView> {
  const open = (await port.requests(ctx.tenantId, ctx.subject)).find((r) => r.type === type && r.scope === scope && OPEN_STATUSES.includes(r.status));
  return open ?? port.createRequest({ tenantId: ctx.tenantId, subject: ctx.subject, type, scope, screen });
}

function success(ctx: PrivacyCentreContext, screen: string, data: Record<string, unknown>): ScreenResponse {
  const outcome: Record<string, string> = {
    [SCREENS.heldData]: 'viewed',
    [SCREENS.deleteDone]: 'erasure_requested',
    [SCREENS.marketingDone]: 'marketing_opt_out',
    [SCREENS.requestStatus]: 'status_viewed',
  };
  const requestId = typeof data.request_id === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(data.request_id) ? data.request_id : undefined;
  return {
    screen: 'SUCCESS',
    data: {
      extension_message_response: {
        params: { flow_token: ctx.flowToken, flow: 'privacy-centre', outcome: outcome[screen] ?? 'closed', ...(requestId ? { request_id: requestId } : {}) },
      },
    },
  };
}

function next(screen: string, data: ScreenData): NextScreenResponse {
  return { screen, data };
}

function scopeOf(value: unknown): ErasureScope | undefined {
  return ERASURE_SCOPES.find((s) => s === value);
}

/** OptIn values arrive as booleans; a `${form.x}` payload may also carry them as strings. */
function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

const TYPE_TEXT: Record<PrivacyRequestType, string> = {
  erasure: 'Deletion',
  access: 'Copy of your data',
  rectification: 'Correction',
  restriction: 'Restriction',
  objection: 'Marketing opt-out',
};

const SCOPE_LABEL: Record<ErasureScope, string> = {
  all: 'everything',
  messages: 'messages',
  media: 'photos and files',
  flow_responses: 'form answers',
  marketing: 'marketing data',
};

function statusText(status: RequestView['status']): string {
  switch (status) {
    case 'received':
      return 'received';
    case 'in_progress':
      return 'in progress';
    case 'verifying':
      return 'being checked';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'delayed: our team has been alerted and will finish it';
  }
}

function summaryLine(held: HeldDataView, tenant: TenantView): string {
  if (!held.contact && held.flowResponses + held.media + held.messages === 0) {
    return `${tenant.name} holds no personal data about you apart from this conversation.`;
  }
  const parts = [
    held.contact ? `your WhatsApp number${held.contact.hasProfileName ? ' and profile name' : ''}` : undefined,
    held.flowResponses > 0 ? `${countText(held.flowResponses)} form ${held.flowResponses === 1 ? 'answer' : 'answers'}` : undefined,
    held.media > 0 ? `${countText(held.media)} ${held.media === 1 ? 'photo or file' : 'photos or files'}` : undefined,
    held.messages > 0 ? `${countText(held.messages)} ${held.messages === 1 ? 'message' : 'messages'}` : undefined,
  ].filter((p): p is string => p !== undefined);
  return `We hold ${joinList(parts)}.`;
}

function marketingText(state: HeldDataView['marketing']): string {
  return state === 'opted_in' ? 'you agreed to receive offers' : state === 'opted_out' ? 'you opted out' : 'no preference recorded';
}

function countText(n: number): string {
  return n === 0 ? 'none' : String(n);
}

function joinList(parts: string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function day(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}
