import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import { ADMIN_BODY_MAX_BYTES, readBodyWithin, tooLargeMessage, type BodySource } from './body';

/** Every error body has one shape: `{ error: { message, field? } }`; messages name fields, never values. */
export function errorResponse(status: number, message: string, field?: string): HttpResponseInit {
  return { status, jsonBody: { error: field ? { message, field } : { message } } };
}

export function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body };
}

/** A zod failure as a 400 that names the first bad field and lists all of them. */
export function validationError(error: z.ZodError, prefix = ''): HttpResponseInit {
  const problems = error.issues.map((issue) => {
    const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return { field: field || '(body)', message: issue.message };
  });
  const first = problems[0] ?? { field: '(body)', message: 'is invalid' };
  return {
    status: 400,
    jsonBody: { error: { message: `${first.field} ${first.message}`, field: first.field, problems } },
  };
}

/** Reads a JSON body (at most ADMIN_BODY_MAX_BYTES, 413 above) without letting a parse error become a 500. */
export async function readJson(request: BodySource, maxBytes = ADMIN_BODY_MAX_BYTES): Promise<{ ok: true; value: unknown } | { ok: false; response: HttpResponseInit }> {
  const body = await readBodyWithin(request, maxBytes);
  if (!body.ok) return { ok: false, response: errorResponse(413, tooLargeMessage(body.maxBytes)) };
  const text = body.bytes.toString('utf8');
  if (text.trim() === '') return { ok: false, response: errorResponse(400, 'request body is required (JSON)') };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: errorResponse(400, 'request body is not valid JSON') };
  }
}
