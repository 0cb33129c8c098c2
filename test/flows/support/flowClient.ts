import { constants, createCipheriv, createDecipheriv, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { signBody } from '../../../shared/whatsapp/signature';

/**
 * Encrypts requests the way the WhatsApp client does (Meta's protocol): a fresh AES-128 key and 16-byte
 * IV per request, the key wrapped with the business public key (RSA-OAEP, SHA-256), the JSON encrypted
 * with AES-128-GCM and the tag appended; the response is decrypted with the same key and the flipped IV.
 */
export interface FlowKeyPair {
  publicKey: string;
  privateKey: string;
}

/** An RSA-2048 key pair; the private key is PEM, encrypted with `passphrase` when one is given. */
export function flowKeyPair(passphrase?: string): FlowKeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: passphrase ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase } : { type: 'pkcs8', format: 'pem' },
  });
}

export interface EncryptedFlowRequest {
  body: { encrypted_flow_data: string; encrypted_aes_key: string; initial_vector: string };
  aesKey: Buffer;
  iv: Buffer;
}

export function encryptFlowRequest(publicKey: string, payload: unknown): EncryptedFlowRequest {
  const aesKey = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-gcm', aesKey, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey);
  return {
    body: { encrypted_flow_data: data.toString('base64'), encrypted_aes_key: wrapped.toString('base64'), initial_vector: iv.toString('base64') },
    aesKey,
    iv,
  };
}

export function decryptFlowResponse(base64: string, aesKey: Buffer, requestIv: Buffer): unknown {
  const data = Buffer.from(base64, 'base64');
  const flipped = Buffer.from(requestIv.map((b) => ~b & 0xff));
  const decipher = createDecipheriv('aes-128-gcm', aesKey, flipped);
  decipher.setAuthTag(data.subarray(data.length - 16));
  return JSON.parse(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8'));
}

/** A WhatsApp client talking to the endpoint of one tenant: signs like Meta, encrypts like the app. */
export class FlowClient {
  constructor(
    private readonly url: string,
    private readonly publicKey: string,
    private readonly appSecret: string,
  ) {}

  async send(payload: unknown, options: { tamper?: (body: EncryptedFlowRequest['body']) => EncryptedFlowRequest['body']; secret?: string; raw?: string } = {}) {
    const request = encryptFlowRequest(this.publicKey, payload);
    const text = options.raw ?? JSON.stringify(options.tamper ? options.tamper(request.body) : request.body);
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(options.secret ?? this.appSecret, text) },
      body: text,
    });
    const body = await response.text();
    const decrypted = (): unknown => decryptFlowResponse(body, request.aesKey, request.iv);
    return { status: response.status, contentType: response.headers.get('content-type'), body, decrypted };
  }
}
