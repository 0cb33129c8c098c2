import { createHash } from 'node:crypto';
import { z } from 'zod';
import { hashSubject } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { hashOfPartitionKey, normaliseWaId, subjectPartitionKey, tenantIdSchema, type SubjectHash, type TenantId } from '../domain/ids';
import { DeadLetterError, type QueueSender } from '../queue/queuePort';
import { retryDelayMs, retryAfterMsOf, type Backoff } from '../retry';
import type { SecretProvider } from '../secrets/secretProvider';
import { mediaPrefixFor } from '../domain/subjectPrefixes';
import { erasureCovering, type FenceMarkers } from '../markers/erasureFence';
import type { MediaRefDocument } from '../subjects/documents';
import type { SubjectStore, VersionedDocument } from '../subjects/subjectStore';
import type { Telemetry } from '../telemetry/telemetry';

/** A `media-downloads` message: ids and the subject's keyed hash only. */
export const mediaDownloadMessageSchema = z.object({
  tenantId: tenantIdSchema,
  subjectHash: z.string().regex(/^[0-9a-f]{64}$/),
  mediaRefId: z.string().regex(/^media-[A-Za-z0-9_-]{1,128}$/),
  /** How many transient failures came before this message (0 on the first). */
  attempt: z.number().int().min(0).default(0),
});
export type MediaDownloadMessage = z.infer<typeof mediaDownloadMessageSchema>;

/** Where the bytes go: the media container, under the subject's prefix (shared/storage/mediaBlobs.ts in the app). */
export interface MediaBlobs {
  upload(name: string, bytes: Buffer, contentType: string | undefined): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface MediaDownloadDeps {
  subjects: SubjectStore;
  /** The erasure fence and tombstones (shared/markers/erasureFence.ts). */
  markers: Pick<FenceMarkers, 'get'>;
  blobs: MediaBlobs;
  queue: QueueSender;
  secrets: SecretProvider;
  clock: Clock;
  telemetry: Telemetry;
  fetch: typeof fetch;
  /** GRAPH_API_BASE_URL, e.g. https://graph.facebook.com/v23.0 */
  graphBaseUrl: string;
  /** Per HTTP call (metadata, then the file). Default 30 s. */
  timeoutMs?: number;
  /** Transient failures before the media is marked failed. Default 12 (about two hours of backoff). */
  maxAttempts?: number;
  /** Largest file accepted (WhatsApp documents go up to 100 MB). */
  maxBytes?: number;
  /** The backoff after a transient failure (shared/retry); default MEDIA_BACKOFF. */
  backoff?: Backoff;
}

export type MediaDownloadOutcome = 'stored' | 'gone' | 'already-done' | 'failed' | 'rescheduled' | 'gave-up';

type Fetched =
  | { kind: 'ok'; bytes: Buffer; mimeType?: string; sha256?: string }
  | { kind: 'permanent'; reason: string }
  | { kind: 'transient'; reason: string; retryAfterMs?: number };

const graphMediaSchema = z.object({
  url: z.string(),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  file_size: z.union([z.number(), z.string()]).optional(),
  id: z.string().optional(),
});

/**
 * 2-2.2 s after the first failure, doubling, at most 1-1.1 h (12 attempts span about two hours). A 429
 * counts as an attempt here (Graph's media limits are per app, not per message), its Retry-After a floor.
 */
export const MEDIA_BACKOFF: Backoff = { baseMs: 2000, capMs: 3_600_000, jitter: 0.1, throttledMs: 10_000, minRetryAfterMs: 0 };

/**
 * A `media-downloads` message: fetch the media URL from the Graph API, download the file with the bearer
 * token, check its SHA-256 against what Meta sent, store it under the subject's prefix, and mark the
 * reference stored. The reference is looked up by id: when the subject was erased meanwhile it is gone
 * and the message completes doing nothing, so in-flight work cannot bring erased data back.
 *
 * Transient failures (429, 5xx, timeouts) complete this message and schedule a new one with backoff;
 * permanent ones (404, checksum mismatch) mark the reference failed and keep no bytes.
 */
export async function downloadMedia(deps: MediaDownloadDeps, body: unknown): Promise<MediaDownloadOutcome> {
  const parsed = mediaDownloadMessageSchema.safeParse(body);
  if (!parsed.success) throw new DeadLetterError('InvalidMessage', 'media-downloads message does not match its schema');
  const message = parsed.data;
  const outcome = await download(deps, message);
  deps.telemetry.metric('media.download', 1, { tenantId: message.tenantId, outcome: outcome.outcome, reason: outcome.reason });
  return outcome.outcome;
}

async function download(deps: MediaDownloadDeps, message: MediaDownloadMessage): Promise<{ outcome: MediaDownloadOutcome; reason?: string }> {
  const found = await deps.subjects.findById(message.tenantId, 'mediaRef', message.mediaRefId);
  if (!found) return { outcome: 'gone' };
  if (found.doc.status !== 'queued') return { outcome: 'already-done' };
  await checkSubject(deps.secrets, message.tenantId, found.doc, message.subjectHash);
  const receivedAt = new Date(found.doc.createdAt);
  // An erasure of the subject in flight includes this media: nothing is downloaded.
  if (await erasureCovering(deps.markers, message.tenantId, message.subjectHash, receivedAt)) return { outcome: 'gone', reason: 'erasure-in-progress' };

  const token = await deps.secrets.get('WHATSAPP_ACCESS_TOKEN');
  if (token === undefined) throw new DeadLetterError('MissingSecret', 'WHATSAPP_ACCESS_TOKEN is not set');

  const fetched = await fetchMedia(deps, found.doc.mediaId, token);
  if (fetched.kind === 'transient') {
    const attempt = message.attempt + 1;
    if (attempt >= (deps.maxAttempts ?? 12)) {
      await markFailed(deps, found);
      return { outcome: 'gave-up', reason: fetched.reason };
    }
    const delay = retryDelayMs(deps.backoff ?? MEDIA_BACKOFF, { failures: attempt, retryAfterMs: fetched.retryAfterMs });
    await deps.queue.send('media-downloads', {
      messageId: `${found.doc.mediaId}:${attempt}`,
      body: { ...message, attempt },
      scheduledAt: new Date(deps.clock.now().getTime() + delay),
    });
    return { outcome: 'rescheduled', reason: fetched.reason };
  }
  if (fetched.kind === 'permanent') {
    await markFailed(deps, found);
    return { outcome: 'failed', reason: fetched.reason };
  }

  const digest = createHash('sha256').update(fetched.bytes).digest();
  const expected = [fetched.sha256, found.doc.sha256].filter((v): v is string => v !== undefined && v !== '');
  if (expected.some((value) => !sameDigest(digest, value))) {
    await markFailed(deps, found);
    return { outcome: 'failed', reason: 'sha256-mismatch' };
  }

  const blobName = `${mediaPrefixFor(message.tenantId, message.subjectHash)}${found.doc.mediaId}`;
  const mimeType = found.doc.mimeType ?? fetched.mimeType;
  await deps.blobs.upload(blobName, fetched.bytes, mimeType);
  let current: VersionedDocument<MediaRefDocument> | undefined = found;
  for (let i = 0; i < 3 && current; i++) {
    const stored: MediaRefDocument = { ...current.doc, status: 'stored', blobName, ...(mimeType ? { mimeType } : {}) };
    const result = await deps.subjects.replace(stored, current.etag);
    if (result === 'replaced') {
      // Write, then look again: an erasure that started during the upload includes this file.
      if (!(await erasureCovering(deps.markers, message.tenantId, message.subjectHash, receivedAt))) return { outcome: 'stored', reason: expected.length === 0 ? 'no-sha256-to-check' : undefined };
      await deps.subjects.delete({ tenantId: message.tenantId }, [{ id: stored.id, pk: stored.pk }]);
      break;
    }
    if (result === 'gone') break;
    current = await deps.subjects.findById(message.tenantId, 'mediaRef', message.mediaRefId);
  }
  // The reference vanished while the file was on its way, or an erasure began: keep nothing.
  await deps.blobs.delete(blobName);
  return { outcome: 'gone', reason: 'erased-during-download' };
}

/**
 * The reference must be in the partition of the identifier the message names (its keyed hash), or in
 * that number's legacy partition (`<tenantId>|<waId>`, queued before the identity migration).
 */
async function checkSubject(secrets: SecretProvider, tenantId: TenantId, doc: MediaRefDocument, subjectHash: string): Promise<void> {
  if (doc.pk === subjectPartitionKey(tenantId, subjectHash as SubjectHash)) return;
  const legacy = hashOfPartitionKey(tenantId, doc.pk) === undefined ? normaliseWaId(doc.pk.slice(doc.pk.indexOf('|') + 1)) : undefined;
  if (legacy && (await hashSubject(secrets, tenantId, legacy)) === subjectHash) return;
  throw new DeadLetterError('SubjectMismatch', 'the message subject hash does not match the media reference');
}

async function markFailed(deps: MediaDownloadDeps, found: VersionedDocument<MediaRefDocument>): Promise<void> {
  const failed: MediaRefDocument = { ...found.doc, status: 'failed' };
  delete failed.blobName;
  await deps.subjects.replace(failed, found.etag);
}

/**
 * Meta writes the SHA-256 as base64 in webhooks and as hex in the media URL response: both are read, and
 * compared as bytes.
 */
export function sameDigest(digest: Buffer, written: string): boolean {
  const text = written.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  return bytes.length === digest.length && bytes.equals(digest);
}

async function fetchMedia(deps: MediaDownloadDeps, mediaId: string, token: string): Promise<Fetched> {
  const base = deps.graphBaseUrl.replace(/\/+$/, '');
  const meta = await call(deps, `${base}/${encodeURIComponent(mediaId)}`, token, 'metadata');
  if (meta.kind !== 'ok') return meta;
  const info = graphMediaSchema.safeParse(await readJson(meta.response));
  if (!info.success) return { kind: 'permanent', reason: 'graph-bad-response' };
  if (!trustedMediaUrl(info.data.url, base)) return { kind: 'permanent', reason: 'untrusted-media-url' };

  const file = await call(deps, info.data.url, token, 'file');
  if (file.kind !== 'ok') return file;
  const maxBytes = deps.maxBytes ?? 100 * 1024 * 1024;
  if (Number(file.response.headers.get('content-length') ?? 0) > maxBytes) return { kind: 'permanent', reason: 'too-large' };
  let bytes: Buffer;
  try {
    bytes = Buffer.from(await file.response.arrayBuffer());
  } catch {
    return { kind: 'transient', reason: 'file-timeout' };
  }
  if (bytes.length > maxBytes) return { kind: 'permanent', reason: 'too-large' };
  return { kind: 'ok', bytes, ...(info.data.mime_type ? { mimeType: info.data.mime_type } : {}), ...(info.data.sha256 ? { sha256: info.data.sha256 } : {}) };
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

type Called = { kind: 'ok'; response: Response } | Exclude<Fetched, { kind: 'ok' }>;

/**
 * One bearer-token call. The metadata call decides whether the media still exists (404: permanent); a
 * failed file download is retried, because the URL expires after five minutes and a retry fetches a new one.
 */
async function call(deps: MediaDownloadDeps, url: string, token: string, step: 'metadata' | 'file'): Promise<Called> {
  let response: Response;
  try {
    response = await deps.fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000) });
  } catch (error) {
    const timedOut = (error as { name?: string }).name === 'TimeoutError';
    return { kind: 'transient', reason: `${step}-${timedOut ? 'timeout' : 'unreachable'}` };
  }
  if (response.ok) return { kind: 'ok', response };
  await response.body?.cancel().catch(() => undefined);
  if (response.status === 429) {
    const retryAfterMs = retryAfterMsOf(response.headers);
    return { kind: 'transient', reason: `${step}-429`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (response.status >= 500) return { kind: 'transient', reason: `${step}-${response.status}` };
  if (step === 'file') return { kind: 'transient', reason: `file-${response.status}` };
  if (response.status === 401 || response.status === 403) return { kind: 'transient', reason: `metadata-${response.status}` };
  return { kind: 'permanent', reason: `metadata-${response.status}` };
}

/** The bearer token goes only to https URLs, or to the Graph base's own host (a loopback fake in tests). */
function trustedMediaUrl(url: string, graphBase: string): boolean {
  try {
    const target = new URL(url);
    return target.protocol === 'https:' || target.host === new URL(graphBase).host;
  } catch {
    return false;
  }
}
