import type { Database } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import { format } from 'node:util';
import { sweepForPii, type PiiHit, type SweepTargets } from '../../support/piiSweep';

/**
 * The PII sweep of test/support/piiSweep.ts, extended with what the proof needs:
 * - needles hidden in base64: a WhatsApp message id (`wamid.` + base64) carries the sender's number, and
 *   a base64 blob of JSON carries whatever the JSON held. Each needle is also searched in its three
 *   base64 alignments, so a wamid or an encoded body that leaked into a queue, an audit event or a log
 *   line is found without knowing where the base64 starts;
 * - everything the process wrote to the console (`captureConsole`), beside the host's captured log lines;
 * - blobs of this test's tenants only (Azurite is shared between test files running at once);
 * - an `allow` rule: where a scenario's subjects may legitimately be (their own partition of `subjects`,
 *   their media prefix, the tenant's HubSpot) is stated by the test, every other hit fails it.
 */
export interface ProofHit extends PiiHit {
  /** The needle as given (a base64 form is reported as `<needle> (base64)`). */
  original: string;
}

/** The base64 text that encodes `needle` wherever it sits in a byte stream (three alignments, edges cut). */
export function base64Forms(needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  const forms: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const start = pad === 0 ? 0 : pad === 1 ? 2 : 3;
    const end = Math.floor((pad + bytes.length) / 3) * 4;
    const form = encoded.slice(start, end);
    if (form.length >= 8) forms.push(form);
  }
  return forms;
}

/** The tenants of a test database: every blob of the app is under a tenant's prefix (`<tenantId>/...`). */
export async function tenantsOf(database: Database): Promise<string[]> {
  const { resources } = await database.container('tenants').items.query<string>('SELECT VALUE c.id FROM c WHERE NOT IS_DEFINED(c.kind)').fetchAll(); // tenants, not their phone number claims
  return resources;
}

/**
 * A blob container seen through the given prefixes only. Azurite is shared by every test file running
 * at the same time (each has its own Cosmos database, not its own storage account): without this a sweep
 * or a count would see other tests' blobs.
 */
export function scopedContainer(container: ContainerClient, prefixes: readonly string[]): ContainerClient {
  const listBlobsFlat = (options: Parameters<ContainerClient['listBlobsFlat']>[0] = {}) =>
    (async function* () {
      for (const prefix of prefixes) yield* container.listBlobsFlat({ ...options, prefix });
    })();
  return new Proxy(container, {
    get: (target, property, receiver) => (property === 'listBlobsFlat' ? listBlobsFlat : Reflect.get(target, property, receiver)),
  });
}

export async function sweep(needles: readonly string[], targets: SweepTargets & { console?: readonly string[] }, allow: (hit: PiiHit) => boolean = () => false): Promise<ProofHit[]> {
  // Blobs: only those of this test's tenants (the storage emulator is shared between test files).
  if (targets.blobs && targets.cosmos) {
    const prefixes = (await tenantsOf(targets.cosmos)).map((t) => `${t}/`);
    targets = { ...targets, blobs: targets.blobs.map((c) => scopedContainer(c, prefixes)) };
  }
  const origin = new Map<string, string>();
  for (const needle of needles) {
    origin.set(needle.toLowerCase(), needle);
    for (const form of base64Forms(needle)) if (!origin.has(form.toLowerCase())) origin.set(form.toLowerCase(), `${needle} (base64)`);
  }
  const logs = [...(targets.logs ?? []), ...(targets.console ?? []).map((line) => `[console] ${line}`)];
  const hits = await sweepForPii([...origin.keys()], { ...targets, logs });
  const seen = new Set<string>();
  const result: ProofHit[] = [];
  for (const hit of hits) {
    if (allow(hit)) continue;
    const original = origin.get(hit.needle) ?? hit.needle;
    const key = `${hit.location}\u0000${original}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ ...hit, original });
  }
  return result;
}

export interface ConsoleCapture {
  lines: string[];
  stop(): void;
}

/** Records everything written through console.* and process.stdout/stderr while it runs (still printed). */
export function captureConsole(): ConsoleCapture {
  const lines: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originals = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      lines.push(format(...args));
      originals[i]!.apply(console, args);
    };
  });
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  streams.forEach((stream, i) => {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      lines.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return (writes[i] as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  });
  return {
    lines,
    stop: () => {
      methods.forEach((m, i) => (console[m] = originals[i]!));
      streams.forEach((stream, i) => (stream.write = writes[i]!));
    },
  };
}
