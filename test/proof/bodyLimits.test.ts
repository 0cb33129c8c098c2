import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBodyWithin } from '../../shared/http';
import { rootOf } from '../../shared/runtime';
import { change, delivery, messages, newWaId } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { createTenant, postWebhook, subjectDocuments } from '../whatsapp/support';

/**
 * Size limits are enforced before a body is buffered: in the function code (the body read as a stream
 * with a running count, cancelled at the limit) and in the local host (it stops reading at its largest
 * configured limit and answers 413). The default webhook limit is Meta's documented maximum payload.
 */
const MB = 1_000_000;
const DEFAULT_LIMIT = 3 * 1_048_576;

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

interface Upload {
  status: number;
  /** Bytes the client could hand to its socket before the server's answer (the rest was never sent). */
  sent: number;
}

/**
 * An unsigned POST of `total` bytes, chunked, without content-length (unless `declare`), written only as
 * fast as the server reads it (back-pressure), stopped as soon as an answer arrives.
 */
function upload(url: string, path: string, total: number, declare = false): Promise<Upload> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered: number | undefined;
    const chunk = Buffer.alloc(64 * 1024, 0x7b); // '{', never valid JSON: nothing could be accepted
    const req = request({ host: target.hostname, port: target.port, method: 'POST', path, headers: { 'content-type': 'application/json', ...(declare ? { 'content-length': String(total) } : {}) } });
    const done = () => {
      if (answered === undefined) return;
      req.destroy();
      resolve({ status: answered, sent });
    };
    req.on('response', (res) => {
      answered = res.statusCode ?? 0;
      res.resume();
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', (error) => (answered !== undefined ? done() : reject(error)));
    const pump = () => {
      while (answered === undefined && sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (sent >= total && answered === undefined) req.end();
    };
    pump();
  });
}

function rssMb(): number {
  return process.memoryUsage().rss / 1_048_576;
}

describe('request bodies are limited before they are buffered', () => {
  it('the default webhook limit is 3 MiB (Meta: "Webhooks payloads can be up to 3MB"), and a valid signed 2.9 MB delivery is accepted and stored', async () => {
    expect(rootOf(t.services).settings.MAX_WEBHOOK_BYTES).toBe(DEFAULT_LIMIT);
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const filler = 'x'.repeat(2_850_000);
    const body = JSON.stringify(delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: 'Jo Bloggs' }], messages: [{ ...messages.text(waId, 'hello'), padding: filler }] })]));
    expect(body.length).toBeGreaterThan(2.85 * MB);
    expect(body.length).toBeLessThan(2.9 * MB + 1000);
    const response = await postWebhook(t.url, body);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ received: { messages: 1, stored: 1 } });
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
  });

  it('unsigned 60 MB chunked POSTs without content-length, in a loop, to the webhook and the Flows route get 413 after at most the limit is read; the host does not grow by the body size', async () => {
    const before = rssMb();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
    try {
      for (let round = 0; round < 3; round++) {
        for (const path of ['/api/whatsapp/webhook', '/api/whatsapp/flows/some-tenant']) {
          const result = await upload(t.url, path, 60 * MB);
          expect(result.status, path).toBe(413);
          // Read no further than the limit: what the client could send beyond it sits in socket buffers.
          expect(result.sent, path).toBeLessThan(DEFAULT_LIMIT + 24 * MB);
        }
      }
    } finally {
      clearInterval(sampler);
    }
    // A buffered 60 MB body costs well over 120 MB (chunks, their concatenation, the request's copy).
    expect(peak - before).toBeLessThan(60);
  });

  it('a declared content-length above the limit is refused before the body is read, on every route', async () => {
    for (const path of ['/api/whatsapp/webhook', '/api/whatsapp/flows/some-tenant', '/api/privacy-requests']) {
      const result = await upload(t.url, path, 60 * MB, true);
      expect(result.status, path).toBe(413);
      expect(result.sent, path).toBeLessThan(24 * MB);
    }
  });

  it('in the function code the body is read as a stream and cancelled at the limit, whatever the host passed on', async () => {
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 65_536;
        controller.enqueue(new Uint8Array(65_536));
      },
      cancel() {
        cancelled = true;
      },
    });
    // Imported once the host has put the settings in place (a function file checks them on load).
    const { handleWebhookPost } = await import('../../functions/whatsappWebhook.js');
    const response = await handleWebhookPost({ headers: new Headers(), body: endless }, rootOf(t.services).webhook, 1_048_576);
    expect(response.status).toBe(413);
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(1_048_576 + 2 * 65_536);

    const small = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new TextEncoder().encode('{"a":1}')), c.close()) });
    expect(await readBodyWithin({ headers: new Headers(), body: small }, 7)).toEqual({ ok: true, bytes: Buffer.from('{"a":1}') });
    expect(await readBodyWithin({ headers: new Headers({ 'content-length': '8' }), body: null }, 7)).toEqual({ ok: false, maxBytes: 7 });
  });
});
