/** A subject's media is one prefix: erasure and retention work on it without listing anything else. */
export function mediaPrefixFor(tenantId: string, subjectHash: string): string {
  return `${tenantId}/${subjectHash}/`;
}

/**
 * A subject's access exports are one prefix too: an erasure finds, deletes and verifies them by listing
 * it, with no query over the privacy requests.
 */
export function exportPrefixFor(tenantId: string, subjectHash: string): string {
  return `${tenantId}/${subjectHash}/`;
}
