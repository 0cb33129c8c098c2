import fc from 'fast-check';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { signBody } from '../../../shared/whatsapp';

/**
 * Hostile input for the HTTP endpoints: raw requests (node:http, so bytes, headers and paths go out
 * exactly as generated, without the client fixing them up), and fast-check arbitraries that start from
 * real payloads and break them the way the internet does.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

export interface RawRequest {
  method: string;
  /** Sent as is: may hold malformed percent escapes. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  body: string;
}

export async function rawRequest(baseUrl: string, input: RawRequest): Promise<RawResponse> {
  try {
    return await sendOnce(baseUrl, input);
  } catch (error) {
    // Node's documented keep-alive race (http.ClientRequest `reusedSocket`): the server closed an idle
    // socket (after a 413 it stops reading the body) just as the agent reused it. Retried once, as the
    // Node docs advise, on a new connection; a reset there still fails the test.
    if (error instanceof ReusedSocketReset) return sendOnce(baseUrl, input, false);
    throw error;
  }
}

class ReusedSocketReset extends Error {}

function sendOnce(baseUrl: string, input: RawRequest, through: Agent | false = agent): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: input.method,
        path: input.path,
        agent: through,
        headers: { ...(input.body ? { 'content-length': String(input.body.length) } : {}), ...input.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => reject(req.reusedSocket && error.code === 'ECONNRESET' ? new ReusedSocketReset('ECONNRESET on a reused keep-alive socket', { cause: error }) : error));
    req.end(input.body);
  });
}

export function closeFuzzAgent(): void {
  agent.destroy();
}

// ---------------------------------------------------------------- mutations of real payloads

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'wrong-type'; at: number }
  | { kind: 'huge-string'; at: number; length: number }
  | { kind: 'deep'; at: number; depth: number; brackets: 'array' | 'object' }
  | { kind: 'weird-string'; at: number; value: string }
  | { kind: 'many'; at: number; copies: number };

/** Strings that break naive code: lone surrogates, NUL, RTL, combining marks, JSON and SQL lookalikes, prototype keys. */
export const WEIRD_STRINGS = [
  '\uD800',
  '\uDFFF\uD800',
  '\u0000',
  '\u202Eevil',
  'e\u0301\u0301\u0301',
  '__proto__',
  'constructor',
  '{"$gt": ""}',
  "' OR 1=1 --",
  '../../etc/passwd',
  '%00%E0%A4%A',
  '\r\nX-Injected: 1',
  '9'.repeat(400),
  '-0',
  '1e309',
  ' ',
  '',
];

/** Every path in the value, breadth first, at most `max` of them (deeply nested values have thousands). */
function paths(value: unknown, max = 2000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const queue: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (queue.length > 0 && out.length < max) {
    const { value: current, path } = queue.shift()!;
    out.push(path);
    if (Array.isArray(current)) current.forEach((v, i) => queue.push({ value: v, path: [...path, i] }));
    else if (current !== null && typeof current === 'object') for (const [k, v] of Object.entries(current)) queue.push({ value: v, path: [...path, k] });
  }
  return out;
}

function deep(depth: number, brackets: 'array' | 'object'): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = brackets === 'array' ? [value] : { n: value };
  return value;
}

function wrongType(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 0 ? 12345 : null;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return 'true';
  if (Array.isArray(value)) return { 0: value[0] ?? null };
  if (value === null) return {};
  return [value];
}

/** Applies mutations to a deep copy; `at` picks a path among all paths of the value (0: the root). */
export function mutate(original: unknown, mutations: Mutation[]): unknown {
  let root = structuredClone(original);
  for (const mutation of mutations) {
    const all = paths(root);
    const path = all[mutation.at % all.length]!;
    const current = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
    let next: unknown;
    let remove = false;
    switch (mutation.kind) {
      case 'replace':
        next = mutation.value;
        break;
      case 'delete':
        remove = true;
        break;
      case 'wrong-type':
        next = wrongType(current);
        break;
      case 'huge-string':
        next = 'x'.repeat(mutation.length);
        break;
      case 'deep':
        next = deep(mutation.depth, mutation.brackets);
        break;
      case 'weird-string':
        next = mutation.value;
        break;
      case 'many':
        next = Array.from({ length: mutation.copies }, () => current);
        break;
    }
    if (path.length === 0) {
      root = remove ? undefined : next;
      continue;
    }
    const parent = path.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root) as Record<string | number, unknown> | unknown[];
    const key = path[path.length - 1]!;
    if (remove) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete (parent as Record<string | number, unknown>)[key];
    } else {
      (parent as Record<string | number, unknown>)[key] = next;
    }
  }
  return root;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('wrong-type' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('huge-string' as const), at: fc.nat(), length: fc.integer({ min: 10_000, max: 300_000 }) }),
  fc.record({ kind: fc.constant('deep' as const), at: fc.nat(), depth: fc.integer({ min: 50, max: 1_500 }), brackets: fc.constantFrom('array' as const, 'object' as const) }),
  fc.record({ kind: fc.constant('weird-string' as const), at: fc.nat(), value: fc.constantFrom(...WEIRD_STRINGS) }),
  fc.record({ kind: fc.constant('many' as const), at: fc.nat(), copies: fc.integer({ min: 2, max: 40 }) }),
);

// ---------------------------------------------------------------- encodings and headers

export type Encoding = 'utf8' | 'bom' | 'invalid-utf8' | 'utf16le' | 'gzip-truthful' | 'gzip-lie' | 'gzip-unannounced' | 'trailing-garbage';

export const encodingArb: fc.Arbitrary<Encoding> = fc.constantFrom('utf8', 'utf8', 'utf8', 'bom', 'invalid-utf8', 'utf16le', 'gzip-truthful', 'gzip-lie', 'gzip-unannounced', 'trailing-garbage');

/** The bytes of `text` in an encoding, and the headers that go with it (some of them lies). */
export function encode(text: string, encoding: Encoding): { bytes: Buffer; headers: Record<string, string> } {
  switch (encoding) {
    case 'utf8':
      return { bytes: Buffer.from(text, 'utf8'), headers: {} };
    case 'bom':
      return { bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), headers: {} };
    case 'invalid-utf8': {
      const bytes = Buffer.from(text, 'utf8');
      // Overlong and truncated sequences where a string's letters were.
      const at = Math.max(0, bytes.indexOf(0x61)); // an 'a'
      return { bytes: Buffer.concat([bytes.subarray(0, at), Buffer.from([0xc0, 0xaf, 0xff, 0xe2, 0x82]), bytes.subarray(at + 1)]), headers: {} };
    }
    case 'utf16le':
      return { bytes: Buffer.from(text, 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16' } };
    case 'gzip-truthful':
      return { bytes: gzipSync(Buffer.from(text, 'utf8')), headers: { 'content-encoding': 'gzip' } };
    case 'gzip-lie':
      return { bytes: Buffer.from(text, 'utf8'), headers: { 'content-encoding': 'gzip' } };
    case 'gzip-unannounced':
      return { bytes: gzipSync(Buffer.from(text, 'utf8')), headers: {} };
    case 'trailing-garbage':
      return { bytes: Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0x00, 0x7b, 0x5d])]), headers: {} };
  }
}

export type SignatureMode = 'valid' | 'valid-uppercase' | 'absent' | 'empty' | 'wrong-secret' | 'garbage' | 'sha1' | 'truncated' | 'huge';

/** Mostly correct signatures (so the parsers behind the check are what gets fuzzed), the rest every kind of wrong. */
export const signatureArb: fc.Arbitrary<SignatureMode> = fc.oneof(
  { weight: 7, arbitrary: fc.constant<SignatureMode>('valid') },
  { weight: 1, arbitrary: fc.constant<SignatureMode>('valid-uppercase') },
  { weight: 4, arbitrary: fc.constantFrom<SignatureMode>('absent', 'empty', 'wrong-secret', 'garbage', 'sha1', 'truncated', 'huge') },
);

/** The X-Hub-Signature-256 header for `bytes` in a mode; undefined: no header at all. */
export function signatureFor(secret: string, bytes: Buffer, mode: SignatureMode, garbage = 'sha256=zz'): string | undefined {
  const good = signBody(secret, bytes);
  switch (mode) {
    case 'valid':
      return good;
    case 'valid-uppercase':
      return `sha256=${good.slice(7).toUpperCase()}`;
    case 'absent':
      return undefined;
    case 'empty':
      return '';
    case 'wrong-secret':
      return signBody(`${secret}-not`, bytes);
    case 'garbage':
      return garbage;
    case 'sha1':
      return `sha1=${good.slice(7, 47)}`;
    case 'truncated':
      return good.slice(0, 40);
    case 'huge':
      return `sha256=${'a'.repeat(8000)}`;
  }
}

/** Printable ASCII, as a header value can carry. */
export const headerTextArb = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 200 });

export const contentTypeArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '');

/** JSON text that is not JSON: truncated, doubled, with comments, NaN, and raw JSON values of every type. */
export const almostJsonArb: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.json({ maxDepth: 2 }).map((t) => t.slice(0, Math.max(0, t.length - 1))),
  fc.json({ maxDepth: 2 }).map((t) => `${t}${t}`),
  fc.constantFrom('{"a": NaN}', '{"a": 1,}', '// c\n{}', '{"a": 01}', '[1, 2', '"\\uD800"', '{"__proto__": {"polluted": true}}', 'null', 'true', '0', '"text"', '[]', '{}'),
  fc.integer({ min: 10, max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 10, max: 50_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
);

export type { Json };

/** Percent-encodes the UTF-8 bytes of any string (lone surrogates included, as U+FFFD), like a client that does not check. */
export function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
