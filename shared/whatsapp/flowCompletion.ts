import { ERASURE_SCOPES, type ErasureScope, type PrivacyRequestType } from '../privacy/privacyRequest';
import { nestedDeeperThan } from '../domain/nesting';

/**
 * A completed WhatsApp Flow (`interactive.nfm_reply`): `response_json` is a JSON string with the answers
 * and the `flow_token` the business sent the flow with. A flow may also be the privacy screen itself:
 * `{"action": "data_deletion_request", "scope": "all"}` asks for erasure through the same use case as
 * the admin API. An erasure whose `scope` is not one of ERASURE_SCOPES is refused (`unknown-scope`),
 * never widened to `all`; without a `scope` field it is `all`, the documented default.
 */
export interface FlowCompletion {
  flowToken?: string;
  screen?: string;
  answers: Record<string, unknown>;
  dataRequest?: DataRequest;
}

export type DataRequest =
  /** `scopeGiven` false: no known scope was sent and `scope` is the default, `all` (an erasure: no `scope` field at all). */
  | { type: Exclude<PrivacyRequestType, 'rectification'>; scope: ErasureScope; scopeGiven: boolean }
  | { type: 'rectification'; scope: ErasureScope; scopeGiven: boolean; profileName: string };

/** The `action` values a flow uses to ask for a data-subject right. */
export const DATA_REQUEST_ACTIONS: Record<string, PrivacyRequestType> = {
  data_deletion_request: 'erasure',
  data_erasure_request: 'erasure',
  data_access_request: 'access',
  data_rectification_request: 'rectification',
  data_restriction_request: 'restriction',
  data_objection_request: 'objection',
};

export type FlowParse =
  | { ok: true; completion: FlowCompletion }
  | { ok: false; reason: 'not-json' | 'not-an-object' | 'incomplete-request' | 'too-deep' }
  /** The answer named by `field` is there but not a value we know; the value itself is never reported. */
  | { ok: false; reason: 'unknown-scope'; field: 'scope' };

/**
 * Flow answers are form fields: values, lists of values, at most a few levels of objects. Anything nested
 * deeper is not a flow's answer, and could not be stored anyway (serialising it overflows the stack):
 * without this bound such a delivery failed every time with a 503 that Meta retries for a week.
 */
export const MAX_ANSWER_DEPTH = 32;

export function parseFlowCompletion(responseJson: string): FlowParse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(responseJson);
  } catch {
    return { ok: false, reason: 'not-json' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, reason: 'not-an-object' };
  if (nestedDeeperThan(parsed, MAX_ANSWER_DEPTH)) return { ok: false, reason: 'too-deep' };
  const { flow_token: flowToken, screen, ...answers } = parsed as Record<string, unknown>;
  const completion: FlowCompletion = {
    answers,
    ...(typeof flowToken === 'string' ? { flowToken } : {}),
    ...(typeof screen === 'string' ? { screen } : {}),
  };
  const action = typeof answers.action === 'string' ? answers.action.trim().toLowerCase() : undefined;
  const type = action !== undefined && Object.hasOwn(DATA_REQUEST_ACTIONS, action) ? DATA_REQUEST_ACTIONS[action] : undefined;
  if (type === undefined) return { ok: true, completion };

  // Scope: a flow without a `scope` field asks for the documented default, `all` (as the admin API does).
  // A `scope` that is there but not one we know (a typo, an empty or non-text answer) is not guessed:
  // reading it as `all` would erase more than the person asked. For an erasure the completion is then
  // unreadable (ignored and counted, the field named, never its value); other types have no scope.
  // A blank or null `scope` (an optional choice left empty) is no scope at all.
  const givenScope = typeof answers.scope === 'string' ? answers.scope.trim().toLowerCase() : undefined;
  const scopeGiven = givenScope !== undefined && (ERASURE_SCOPES as readonly string[]).includes(givenScope);
  const scopeSent = answers.scope !== undefined && answers.scope !== null && givenScope !== '';
  if (type === 'erasure' && scopeSent && !scopeGiven) return { ok: false, reason: 'unknown-scope', field: 'scope' };
  const scope = scopeGiven ? (givenScope as ErasureScope) : 'all';
  if (type === 'rectification') {
    const name = [answers.profile_name, answers.profileName, answers.name].find((v): v is string => typeof v === 'string' && v.trim() !== '');
    if (!name) return { ok: false, reason: 'incomplete-request' };
    completion.dataRequest = { type, scope, scopeGiven, profileName: name.trim().slice(0, 200) };
  } else {
    completion.dataRequest = { type, scope, scopeGiven };
  }
  return { ok: true, completion };
}

/** The `flow` value Flowkeeper's own Privacy Centre puts in its closing message (shared/flows/privacyCentre.ts). */
export const PRIVACY_CENTRE_FLOW = 'privacy-centre';

/**
 * The closing message of the Privacy Centre flow itself. The flow's endpoint already did what the person
 * asked; the message only says the flow closed. It must not refresh the contact: after an erasure from
 * the flow, tapping "Done" would otherwise bring the contact back a second after it was erased.
 */
export function isPrivacyCentreClosing(message: { type: string; interactive?: { type?: string; nfm_reply?: { response_json: string } | undefined } }): boolean {
  if (message.type !== 'interactive' || message.interactive?.type !== 'nfm_reply' || !message.interactive.nfm_reply) return false;
  try {
    const parsed = JSON.parse(message.interactive.nfm_reply.response_json) as unknown;
    return typeof parsed === 'object' && parsed !== null && (parsed as { flow?: unknown }).flow === PRIVACY_CENTRE_FLOW;
  } catch {
    return false;
  }
}
