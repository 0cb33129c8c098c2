import { exportPrefixFor } from '../domain/subjectPrefixes';

/** Where the access export of a request is written: `exports/<tenantId>/<subject-hash>/<requestId>.json`. */
export function exportBlobName(tenantId: string, subjectHash: string, requestId: string): string {
  return `${exportPrefixFor(tenantId, subjectHash)}${requestId}.json`;
}
