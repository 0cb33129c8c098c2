import { constants, createCipheriv, createDecipheriv, privateDecrypt, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Meta's encrypted data-exchange protocol for WhatsApp Flows endpoints (the "Implementing Endpoint for
 * Flows" guide and Meta's Node sample, WhatsApp-Flows-Tools examples/endpoint/nodejs):
 * - the client makes a fresh AES-128 key and a 16-byte IV per request, wraps the key with the business
 *   public key (RSA-OAEP, SHA-256 for both OAEP and MGF1) and encrypts the JSON with AES-128-GCM; the
 *   16-byte tag is the last 16 bytes of `encrypted_flow_data`;
 * - the response is the JSON encrypted with the same AES key and the IV with every bit flipped,
 *   base64 (ciphertext followed by the tag), sent as a plain-text body.
 */
export const encryptedRequestSchema = z.object(
  {
    encrypted_flow_data: z.string({ error: 'is required (base64)' }).min(1, 'must not be empty'),
    encrypted_aes_key: z.string({ error: 'is required (base64)' }).min(1, 'must not be empty'),
    initial_vector: z.string({ error: 'is required (base64)' }).min(1, 'must not be empty'),
  },
  // A JSON array, string, number or null is not an envelope: said in the project's words, not zod's.
  { error: 'must be a JSON object with encrypted_flow_data, encrypted_aes_key and initial_vector' },
);
export type EncryptedRequest = z.infer<typeof encryptedRequestSchema>;

const TAG_LENGTH = 16;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The request could not be decrypted: wrong key, tampered ciphertext, bad IV. Meta expects HTTP 421. */
export class FlowDecryptionError extends Error {
  constructor(readonly reason: 'key-unwrap' | 'ciphertext' | 'encoding') {
    super(`flow request cannot be decrypted (${reason})`);
    this.name = 'FlowDecryptionError';
  }
}

/** What a decrypted request leaves behind: its plaintext, and what the response must be encrypted with. */
export interface DecryptedFlowRequest {
  plaintext: string;
  aesKey: Buffer;
  iv: Buffer;
}

function base64(text: string): Buffer {
  const compact = text.replace(/\s/g, '');
  if (!BASE64.test(compact)) throw new FlowDecryptionError('encoding');
  return Buffer.from(compact, 'base64');
}

export function decryptFlowRequest(body: EncryptedRequest, privateKey: KeyObject): DecryptedFlowRequest {
  const wrappedKey = base64(body.encrypted_aes_key);
  const iv = base64(body.initial_vector);
  const data = base64(body.encrypted_flow_data);
  let aesKey: Buffer;
  try {
    aesKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrappedKey);
  } catch {
    throw new FlowDecryptionError('key-unwrap');
  }
  if (aesKey.length !== 16 || iv.length === 0 || data.length <= TAG_LENGTH) throw new FlowDecryptionError('ciphertext');
  try {
    const decipher = createDecipheriv('aes-128-gcm', aesKey, iv);
    decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
    const plaintext = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_LENGTH)), decipher.final()]).toString('utf8');
    return { plaintext, aesKey, iv };
  } catch {
    throw new FlowDecryptionError('ciphertext');
  }
}

/** The IV of the response: every bit of the request's IV flipped. */
export function flipIv(iv: Buffer): Buffer {
  return Buffer.from(iv.map((byte) => ~byte & 0xff));
}

export function encryptFlowResponse(response: unknown, aesKey: Buffer, requestIv: Buffer): string {
  const cipher = createCipheriv('aes-128-gcm', aesKey, flipIv(requestIv));
  return Buffer.concat([cipher.update(JSON.stringify(response), 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}
