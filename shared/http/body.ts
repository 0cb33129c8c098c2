/**
 * Reading a request body without letting its sender decide how much memory it takes: a declared
 * `content-length` above the limit is refused before a byte is read, and any body (chunked, or lying
 * about its length) is read as a stream with a running count and cancelled as soon as the count passes
 * the limit. Only bodies within the limit are ever held whole.
 *
 * What the real Functions host does before the worker sees a body is the host's business (docs/webhook.md,
 * "Size limits"): it enforces FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (infra sets it to the app's own limit)
 * and, without HTTP streams, hands the worker a buffered copy; this reader then bounds what Flowkeeper
 * copies, decodes and parses. The local host stops reading at its own limit (local/host.ts).
 */
export interface BodySource {
  headers: { get(name: string): string | null };
  /** The body as a web stream (`HttpRequest.body`), null when there is none. */
  body: ReadableStream<Uint8Array> | null;
}

export type BoundedBody = { ok: true; bytes: Buffer } | { ok: false; maxBytes: number };

/** Admin routes take small JSON documents (a tenant, a privacy request): 1 MiB is far above any of them. */
export const ADMIN_BODY_MAX_BYTES = 1_048_576;

export async function readBodyWithin(request: BodySource, maxBytes: number): Promise<BoundedBody> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) return { ok: false, maxBytes };
  if (request.body === null) return { ok: true, bytes: Buffer.alloc(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Stop reading: the rest of the body is never pulled (the stream's source is told to stop).
      await reader.cancel().catch(() => undefined);
      return { ok: false, maxBytes };
    }
    chunks.push(value);
  }
  const bytes = chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength) : Buffer.concat(chunks, total);
  return { ok: true, bytes };
}

/** The one 413 message of every route. */
export function tooLargeMessage(maxBytes: number): string {
  return `request body is larger than ${maxBytes} bytes`;
}
