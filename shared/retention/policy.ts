import type { SubjectDocumentType } from '../subjects/documents';
import { lifetime } from '../subjects/documents';
import { ttlSeconds, type Retention } from '../tenants/tenant';

const DAY_MS = 86_400_000;

/**
 * Which retention setting governs each subject document type. A consent lives as long as the contact it
 * belongs to: it is the record that processing was allowed, needed while the contact is kept.
 */
export const RETENTION_SETTING_OF: Readonly<Record<SubjectDocumentType, keyof Retention>> = {
  contact: 'contactDays',
  flowResponse: 'flowResponseDays',
  message: 'messageDays',
  mediaRef: 'mediaDays',
  consent: 'contactDays',
};

/** Seconds a subject document of this type lives under the tenant's retention (the Cosmos `ttl`). */
export function retentionSecondsFor(retention: Retention, type: SubjectDocumentType): number {
  return ttlSeconds(retention[RETENTION_SETTING_OF[type]]);
}

/** `ttl` and `expiresAt` of a subject document written (or refreshed by activity) at `now`. */
export function subjectDocumentLifetime(retention: Retention, type: SubjectDocumentType, now: Date): { ttl: number; expiresAt: string } {
  return lifetime(now, retentionSecondsFor(retention, type));
}

/** Whether something created at `createdAt` is past a retention of `days` at `now` (its end is `<= now`). */
export function isPastRetention(createdAt: Date, days: number, now: Date): boolean {
  return createdAt.getTime() + days * DAY_MS <= now.getTime();
}
