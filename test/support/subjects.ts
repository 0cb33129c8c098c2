import { identifierHashOf, subjectPartitionKey, type SubjectHash, type SubjectIdentifier, type TenantId, type UserId, type WaId } from '../../shared/domain';

/**
 * Partition keys and hashes as the app computes them with the tests' SUBJECT_HASH_KEY: a subject
 * identifier's documents are in `<tenantId>|<identifier hash>` (docs/identity.md).
 */
/** testEnv's SUBJECT_HASH_KEY (test/support/testServices.ts). */
export const TEST_SUBJECT_HASH_KEY = 'test-subject-hash-key-0123456789abcdef0123';

export const waIdentifier = (waId: string): SubjectIdentifier => ({ kind: 'waId', value: waId as WaId });
export const userIdentifier = (userId: string): SubjectIdentifier => ({ kind: 'userId', value: userId as UserId });

export function hashOfWaId(tenantId: string, waId: string, key: string = TEST_SUBJECT_HASH_KEY): SubjectHash {
  return identifierHashOf(key, tenantId as TenantId, waIdentifier(waId));
}

export function hashOfUserId(tenantId: string, userId: string, key: string = TEST_SUBJECT_HASH_KEY): SubjectHash {
  return identifierHashOf(key, tenantId as TenantId, userIdentifier(userId));
}

/** The partition of a phone number's documents. */
export function pkOfWaId(tenantId: string, waId: string, key: string = TEST_SUBJECT_HASH_KEY): string {
  return subjectPartitionKey(tenantId as TenantId, hashOfWaId(tenantId, waId, key));
}

/** The partition of a BSUID's documents. */
export function pkOfUserId(tenantId: string, userId: string, key: string = TEST_SUBJECT_HASH_KEY): string {
  return subjectPartitionKey(tenantId as TenantId, hashOfUserId(tenantId, userId, key));
}

/**
 * A UK mobile number (Ofcom's drama range, 447700 9xxxxx) that no other test of this run has: random
 * numbers for an erased and a kept subject collided about 1 run in 30 (the kept subject's number then
 * legitimately "survives" the erasure), and the Blob containers are shared by every file. Each test
 * file (a vitest worker, VITEST_WORKER_ID unique per file) walks its own block of 1,000 numbers.
 */
export function distinctTestMobile(): string {
  const n = mobileBlock * 1000 + ((mobileStart + mobilesIssued++) % 1000);
  return `4477009${String(n).padStart(5, '0')}`;
}
const mobileBlock = Number(process.env.VITEST_WORKER_ID ?? Math.floor(Math.random() * 100)) % 100;
const mobileStart = Math.floor(Math.random() * 1000);
let mobilesIssued = 0;
