import { z } from 'zod';
import { EXIT, usageError } from '../api';
import { integer, parse, requiredText, text, when, type Command, type Context } from '../context';

const taskSchema = z.looseObject({
  store: z.string(),
  status: z.string(),
  attempts: z.number(),
  counts: z.object({ found: z.number(), deleted: z.number() }),
  lastError: z.string().optional(),
  note: z.string().optional(),
  durationMs: z.number().optional(),
});

const requestSchema = z.looseObject({
  id: z.string(),
  tenantId: z.string(),
  type: z.string(),
  scope: z.string(),
  channel: z.string(),
  screen: z.string().optional(),
  status: z.string(),
  receivedAt: z.string(),
  dueAt: z.string(),
  completedAt: z.string().optional(),
  failedAt: z.string().optional(),
  failure: z.object({ store: z.string(), reason: z.string() }).optional(),
  tasks: z.array(taskSchema),
  existing: z.boolean().optional(),
});
type RequestView = z.infer<typeof requestSchema>;

const listSchema = z.object({ asOf: z.string(), count: z.number(), unreadable: z.number().optional(), requests: z.array(requestSchema) });

const requestPath = (id: string) => `privacy-requests/${encodeURIComponent(id)}`;
const DAY_MS = 86_400_000;

export const requestCommands: Command[] = [
  {
    words: ['requests', 'create'],
    args: [],
    options: ['tenant', 'type', 'wa-id', 'user-id', 'scope', 'profile-name'],
    required: ['tenant', 'type'],
    summary: 'make a privacy request for a subject (--tenant --type erasure|access|... --wa-id +44... or --user-id US.1349... [--scope])',
    async run(ctx) {
      const waId = text(ctx, 'wa-id');
      const userId = text(ctx, 'user-id');
      if (waId === undefined && userId === undefined) throw usageError('--wa-id is required (a phone number), or --user-id (a business-scoped user id)', 'wa-id');
      if (waId !== undefined && userId !== undefined) throw usageError('give one of --wa-id or --user-id, not both', 'user-id');
      // The identifier is input, never output: not echoed, and masked should the API ever repeat it.
      ctx.out.redact((waId ?? userId)!);
      const profileName = text(ctx, 'profile-name');
      if (profileName) ctx.out.redact(profileName);
      const scope = text(ctx, 'scope');
      const { body } = await ctx.api.call('POST', 'privacy-requests', {
        body: {
          tenantId: requiredText(ctx, 'tenant'),
          type: requiredText(ctx, 'type'),
          subject: waId !== undefined ? { waId } : { userId },
          ...(scope ? { scope } : {}),
          ...(profileName ? { rectification: { profileName } } : {}),
        },
      });
      const request = parse(requestSchema, body, 'the new request');
      if (ctx.out.json) {
        ctx.out.data(request);
        return EXIT.ok;
      }
      ctx.out.line(`${request.existing ? 'an identical request is already open' : 'request created'}: ${request.id}`);
      ctx.out.line(`${request.type} (${request.scope}) for tenant ${request.tenantId}, status ${request.status}, due ${when(request.dueAt)}`);
      return EXIT.ok;
    },
  },
  {
    words: ['requests', 'status'],
    args: ['id'],
    options: [],
    summary: 'status of a request with its per-store tasks',
    async run(ctx) {
      const { body } = await ctx.api.call('GET', requestPath(ctx.args[0]!));
      const request = parse(requestSchema, body, 'the request');
      if (ctx.out.json) {
        ctx.out.data(request);
        return EXIT.ok;
      }
      printRequest(ctx, request);
      return EXIT.ok;
    },
  },
  {
    words: ['requests', 'retry'],
    args: ['id'],
    options: [],
    summary: 're-drive a failed request from the step that failed',
    async run(ctx) {
      const { body } = await ctx.api.call('POST', `${requestPath(ctx.args[0]!)}/retry`);
      const request = parse(requestSchema, body, 'the retried request');
      if (ctx.out.json) {
        ctx.out.data(request);
        return EXIT.ok;
      }
      ctx.out.line(`request ${request.id} retried: status ${request.status}`);
      const pending = request.tasks.filter((t) => t.status === 'pending').map((t) => t.store);
      if (pending.length > 0) ctx.out.line(`stores to redo: ${pending.join(', ')}`);
      return EXIT.ok;
    },
  },
  {
    words: ['requests', 'overdue'],
    args: [],
    options: ['tenant', 'limit'],
    summary: 'requests past their legal due date and not completed [--tenant]',
    run: (ctx) => list(ctx, { overdue: 'true' }),
  },
  {
    words: ['requests', 'list'],
    args: [],
    options: ['tenant', 'status', 'limit'],
    summary: 'requests, newest first [--tenant] [--status received|in_progress|verifying|completed|failed]',
    run: (ctx) => list(ctx, { ...(text(ctx, 'status') ? { status: text(ctx, 'status') } : {}) }),
  },
];

async function list(ctx: Context, filter: Record<string, string | undefined>): Promise<number> {
  const limit = integer(ctx, 'limit', 1, 500);
  const { body } = await ctx.api.call('GET', 'privacy-requests', {
    query: { tenantId: text(ctx, 'tenant'), ...filter, ...(limit ? { limit: String(limit) } : {}) },
  });
  const result = parse(listSchema, body, 'the request list');
  if (ctx.out.json) {
    ctx.out.data(result);
    return EXIT.ok;
  }
  if (result.requests.length === 0) {
    ctx.out.line(filter.overdue ? 'no overdue requests' : 'no requests');
    return EXIT.ok;
  }
  const asOf = Date.parse(result.asOf);
  ctx.out.table(
    ['ID', 'TENANT', 'TYPE', 'CHANNEL', 'STATUS', 'RECEIVED', 'DUE', filter.overdue ? 'OVERDUE' : 'FAILURE'],
    result.requests.map((r) => [
      r.id,
      r.tenantId,
      r.type,
      r.channel,
      r.status,
      when(r.receivedAt),
      when(r.dueAt),
      filter.overdue ? `${Math.floor((asOf - Date.parse(r.dueAt)) / DAY_MS)} days` : r.failure ? `${r.failure.store}: ${r.failure.reason}` : '',
    ]),
  );
  if (result.unreadable) ctx.out.error(`warning: ${result.unreadable} request document(s) could not be read and are not listed`);
  return EXIT.ok;
}

function printRequest(ctx: Context, r: RequestView): void {
  const rows: [string, string | undefined][] = [
    ['id', r.id],
    ['tenant', r.tenantId],
    ['type', `${r.type} (${r.scope})`],
    ['channel', r.screen ? `${r.channel}, screen ${r.screen}` : r.channel],
    ['status', r.status],
    ['received', when(r.receivedAt)],
    ['due', when(r.dueAt)],
    ['completed', when(r.completedAt)],
    ['failed', r.failure ? `${when(r.failedAt)} in ${r.failure.store}: ${r.failure.reason}` : undefined],
  ];
  for (const [k, v] of rows) if (v) ctx.out.line(`${`${k}:`.padEnd(11)}${v}`);
  if (r.tasks.length === 0) return;
  ctx.out.line();
  ctx.out.table(
    ['STORE', 'STATUS', 'ATTEMPTS', 'FOUND', 'DELETED', 'TIME', 'NOTE'],
    r.tasks.map((t) => [t.store, t.status, String(t.attempts), String(t.counts.found), String(t.counts.deleted), t.durationMs === undefined ? '' : `${t.durationMs} ms`, t.lastError ?? t.note ?? '']),
  );
}
