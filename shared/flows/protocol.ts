import { z } from 'zod';

/**
 * The decrypted request of Meta's Data API (data_api_version 3.0): `version`, `action`, and for screen
 * actions `screen`, `data` and `flow_token`. A health check is `{version, action: "ping"}`; an error
 * notification carries `data.error` (and `data.error_message`) with action INIT or data_exchange.
 */
export const FLOW_ACTIONS = ['ping', 'INIT', 'BACK', 'data_exchange'] as const;
export type FlowAction = (typeof FLOW_ACTIONS)[number];

export const flowRequestSchema = z.object({
  version: z.string({ error: 'is required' }),
  action: z.enum(FLOW_ACTIONS, { error: `must be one of ${FLOW_ACTIONS.join(', ')}` }),
  screen: z.string().optional(),
  data: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
  flow_token: z.string().optional(),
});
export type FlowRequest = z.infer<typeof flowRequestSchema>;

/** Screen data as Flow JSON declares it: strings, numbers, booleans, and arrays/objects of them. */
export type ScreenData = Record<string, unknown>;

/** Show `screen` with `data` (the screen must be reachable from the current one in the routing model). */
export interface NextScreenResponse {
  screen: string;
  data: ScreenData;
}

/** Close the flow; WhatsApp sends the `params` to the business in the completion message (nfm_reply). */
export interface SuccessResponse {
  screen: 'SUCCESS';
  data: { extension_message_response: { params: { flow_token: string } & Record<string, string | number | boolean> } };
}

export type ScreenResponse = NextScreenResponse | SuccessResponse;

/** A screen's data with `error_message`: the client stays on the screen and shows the message. */
export function screenError(screen: string, message: string): NextScreenResponse {
  return { screen, data: { error_message: message } };
}

export const PING_RESPONSE = { data: { status: 'active' } } as const;
export const ERROR_ACKNOWLEDGED = { data: { acknowledged: true } } as const;
