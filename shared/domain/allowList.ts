/**
 * The one allow-list every value goes through that an audit event, a metric dimension or a telemetry
 * property takes from a payload (a webhook delivery, a Flows request). Audit events never expire and
 * telemetry leaves the app: a value from outside may be a name or a phone number, so only these pass:
 *
 * - enums: a value from a fixed list (`oneOf`), else `(other)`;
 * - ids: digits only (`numericId`), else `(other)`;
 * - keyed hashes: made by Flowkeeper (subject hashes, message keys), never taken from outside;
 * - flow screen ids that a flow declares (`declaredScreen`): the Privacy Centre's own screens
 *   (flows/privacy-centre.json, checked by a test) and the screens a tenant declares for its own flows
 *   (`flowScreens` in the tenant configuration, set by an operator), else `(other)`.
 *
 * Anything else from a payload goes nowhere but the subject's own partition.
 */
export const OTHER = '(other)';

/** The screens of flows/privacy-centre.json (test/flows/privacyCentreFlow.test.ts checks they are the same). */
export const PRIVACY_CENTRE_SCREENS = ['MENU', 'HELD_DATA', 'DELETE_SCOPE', 'DELETE_CONFIRM', 'DELETE_DONE', 'MARKETING', 'MARKETING_DONE', 'REQUEST_STATUS'] as const;
/** The pseudo-screen a Flows endpoint answers with to close a flow (Meta's Data API). */
export const FLOW_CLOSING_SCREEN = 'SUCCESS';

/**
 * What a flow screen id looks like (WELCOME, PRICING_2): a letter, then letters, digits and underscores,
 * without a run of 5 digits (a phone number). Tenants' declared screens must have this shape, and
 * records written before the declared-screens rule are read through it (`storedScreen`).
 */
export const FLOW_SCREEN_ID = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const DIGIT_RUN = /\d{5,}/;

export function isScreenId(value: string): boolean {
  return FLOW_SCREEN_ID.test(value) && !DIGIT_RUN.test(value);
}

/**
 * A screen from a payload: itself when a flow declares it (the Privacy Centre, or the tenant's
 * `declared` screens), `(other)` for any other value, undefined when there is none (absent or blank).
 */
export function declaredScreen(screen: unknown, declared: readonly string[] = []): string | undefined {
  if (screen === undefined || screen === null) return undefined;
  if (typeof screen !== 'string') return OTHER;
  const trimmed = screen.trim();
  if (trimmed === '') return undefined;
  const known = (PRIVACY_CENTRE_SCREENS as readonly string[]).includes(trimmed) || trimmed === FLOW_CLOSING_SCREEN || declared.includes(trimmed);
  return known && isScreenId(trimmed) ? trimmed : OTHER;
}

/**
 * A screen read back from a stored record (an audit event, a request) to show in metrics: records
 * written before the declared-screens rule kept any identifier-shaped screen, so the shape is checked
 * again here; anything else shows as `(other)`.
 */
export function storedScreen(screen: string | undefined): string | undefined {
  if (screen === undefined) return undefined;
  const trimmed = screen.trim();
  if (trimmed === '') return undefined;
  return isScreenId(trimmed) ? trimmed : OTHER;
}

/** `value` when it is one of `allowed`, else `(other)`. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | typeof OTHER {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : OTHER;
}

/** An id made of digits (Meta's phone number ids, error codes), else `(other)`. */
export function numericId(value: unknown, maxDigits = 20): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return typeof text === 'string' && text.length <= maxDigits && /^\d+$/.test(text) ? text : OTHER;
}

/** Message types Meta documents for the Cloud API webhook, including ones this version ignores. */
export const META_MESSAGE_TYPES = [
  'text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts', 'interactive', 'button',
  'reaction', 'order', 'system', 'unsupported', 'unknown', 'request_welcome', 'ephemeral', 'revoke', 'edit',
] as const;

/** Statuses Meta sends for outgoing messages. */
export const META_MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'failed', 'deleted', 'warning', 'played'] as const;

/** Webhook fields a WhatsApp Business Account subscription may deliver (`changes[].field`). */
export const META_CHANGE_FIELDS = [
  'messages', 'message_echoes', 'smb_message_echoes', 'smb_app_state_sync', 'history', 'calls', 'flows',
  'message_template_status_update', 'message_template_quality_update', 'message_template_components_update',
  'template_category_update', 'account_update', 'account_review_update', 'account_alerts', 'account_settings_update',
  'business_capability_update', 'business_status_update', 'phone_number_name_update', 'phone_number_quality_update',
  'security', 'user_preferences', 'user_id_update', 'partner_solutions', 'payment_configuration_update',
  'automatic_events', 'tracking_events',
] as const;
