import { z } from 'zod';
import { parseBound } from '../../shared/metrics/period';
import { EXIT, usageError } from '../api';
import { integer, parse, requiredText, text, when, type Command, type Context } from '../context';

const auditSchema = z.object({
  events: z.array(
    z.object({
      id: z.string(),
      at: z.string(),
      type: z.string(),
      actor: z.string().optional(),
      subjectHash: z.string().optional(),
      requestId: z.string().optional(),
      details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    }),
  ),
});

const countsSchema = z.object({ queues: z.record(z.string(), z.number()), unavailable: z.array(z.string()), total: z.number() });
const showSchema = z.object({
  queue: z.string(),
  count: z.number(),
  messages: z.array(
    z.object({
      messageId: z.string(),
      reason: z.string(),
      description: z.string(),
      deliveryCount: z.number(),
      enqueuedAt: z.string(),
      deadLetteredAt: z.string(),
      body: z.unknown(),
    }),
  ),
});
const replaySchema = z.object({
  queue: z.string(),
  dryRun: z.boolean(),
  requested: z.number(),
  replayed: z.number(),
  redriven: z.number(),
  stale: z.number(),
  kept: z.number(),
  remaining: z.number(),
});
type Replay = z.infer<typeof replaySchema>;

/** The route's largest `max`. */
const REPLAY_BATCH = 1000;
const QUEUES = ['media-downloads', 'hubspot-sync', 'privacy-requests', 'erasure-tasks'];

export const operationsCommands: Command[] = [
  {
    words: ['audit'],
    args: [],
    options: ['tenant', 'from', 'to', 'type', 'limit'],
    required: ['tenant'],
    summary: "a tenant's audit events (--tenant [--from 2026-01-01] [--to 2026-01-31] [--type privacy.erasure.completed])",
    async run(ctx) {
      const limit = integer(ctx, 'limit', 1, 1000);
      const { body } = await ctx.api.call('GET', 'audit', {
        query: {
          tenantId: requiredText(ctx, 'tenant'),
          from: isoBound(ctx, 'from'),
          to: isoBound(ctx, 'to'),
          type: text(ctx, 'type'),
          ...(limit ? { limit: String(limit) } : {}),
        },
      });
      const { events } = parse(auditSchema, body, 'the audit events');
      if (ctx.out.json) {
        ctx.out.data(body);
        return EXIT.ok;
      }
      if (events.length === 0) {
        ctx.out.line('no audit events in this period');
        return EXIT.ok;
      }
      ctx.out.table(
        ['AT', 'TYPE', 'ACTOR', 'REQUEST', 'SUBJECT', 'DETAILS'],
        events.map((e) => [
          when(e.at),
          e.type,
          e.actor ?? '',
          e.requestId ?? '',
          e.subjectHash ? `${e.subjectHash.slice(0, 12)}…` : '',
          Object.entries(e.details ?? {})
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')
            .slice(0, 120),
        ]),
      );
      return EXIT.ok;
    },
  },
  {
    words: ['dead-letters', 'count'],
    args: [],
    options: [],
    summary: 'dead-lettered messages per queue',
    async run(ctx) {
      const { body } = await ctx.api.call('GET', 'dead-letters');
      const counts = parse(countsSchema, body, 'the dead-letter counts');
      if (ctx.out.json) {
        ctx.out.data(counts);
        return EXIT.ok;
      }
      ctx.out.table(
        ['QUEUE', 'DEAD LETTERS'],
        [...Object.entries(counts.queues).map(([q, n]) => [q, String(n)]), ...counts.unavailable.map((q) => [q, 'unavailable'])],
      );
      ctx.out.line(`total: ${counts.total}`);
      return EXIT.ok;
    },
  },
  {
    words: ['dead-letters', 'show'],
    args: ['queue'],
    options: ['max'],
    summary: 'why messages were dead-lettered: reason, description, ids (bodies hold ids only) [--max 100]',
    async run(ctx) {
      const queue = queueArg(ctx);
      const max = integer(ctx, 'max', 1, 1000);
      const { body } = await ctx.api.call('GET', `dead-letters/${queue}`, { query: max ? { max: String(max) } : {} });
      const shown = parse(showSchema, body, 'the dead letters');
      if (ctx.out.json) {
        ctx.out.data(shown);
        return EXIT.ok;
      }
      ctx.out.line(`${shown.queue}: ${shown.count} dead-lettered message(s)${shown.messages.length < shown.count ? `, the oldest ${shown.messages.length} shown` : ''}`);
      for (const m of shown.messages) {
        ctx.out.line();
        ctx.out.line(`message ${m.messageId} (${m.deliveryCount} deliveries, dead-lettered ${when(m.deadLetteredAt)})`);
        ctx.out.line(`  reason:      ${m.reason}`);
        if (m.description) ctx.out.line(`  description: ${m.description}`);
        ctx.out.line(`  body:        ${JSON.stringify(m.body)}`);
      }
      return EXIT.ok;
    },
  },
  {
    words: ['dead-letters', 'replay'],
    args: [],
    options: ['queue', 'dry-run', 'max'],
    summary: 'empty dead-letter queues: resend, re-drive failed requests, complete stale ones; originals completed (admins; audited) [--queue q] [--dry-run] [--max n]',
    async run(ctx) {
      const only = text(ctx, 'queue');
      if (only !== undefined && !QUEUES.includes(only)) throw usageError(`--queue must be one of ${QUEUES.join(', ')}`, 'queue');
      const dryRun = ctx.values['dry-run'] === true;
      const max = integer(ctx, 'max', 1, 100_000) ?? 100_000;
      const counts = parse(countsSchema, (await ctx.api.call('GET', 'dead-letters')).body, 'the dead-letter counts');
      const results: Replay[] = [];
      for (const queue of only ? [only] : QUEUES) {
        const waiting = counts.queues[queue] ?? 0;
        if (waiting === 0 && only === undefined) continue;
        // Never more than what was waiting when it started: a message that fails again comes back to the
        // dead-letter queue and must not be replayed in a loop.
        const target = Math.min(max, waiting);
        const indicator = ctx.out.progress(`${dryRun ? 'checking' : 'replaying'} ${queue}: 0 of ${target}`);
        const total: Replay = { queue, dryRun, requested: 0, replayed: 0, redriven: 0, stale: 0, kept: 0, remaining: waiting };
        try {
          let done = 0;
          do {
            const query = { max: String(Math.max(1, Math.min(REPLAY_BATCH, target - done))), ...(dryRun ? { dryRun: 'true' } : {}) };
            const batch = parse(replaySchema, (await ctx.api.call('POST', `dead-letters/${queue}/replay`, { query })).body, 'the replay');
            for (const key of ['requested', 'replayed', 'redriven', 'stale', 'kept'] as const) total[key] += batch[key];
            total.remaining = batch.remaining;
            const moved = batch.replayed + batch.redriven + batch.stale;
            done += moved + batch.kept;
            indicator.update(`${dryRun ? 'checking' : 'replaying'} ${queue}: ${done} of ${target}`);
            // A dry run sees the same messages again; kept ones stay at the front: one pass then.
            if (dryRun || moved === 0 || batch.kept > 0) break;
          } while (done < target);
        } finally {
          indicator.done();
        }
        results.push(total);
      }
      if (ctx.out.json) {
        ctx.out.data({ dryRun, queues: results });
        return EXIT.ok;
      }
      if (results.length === 0) ctx.out.line('no dead letters');
      for (const r of results) {
        ctx.out.line(
          dryRun
            ? `${r.queue} (dry run, nothing changed): would replay ${r.replayed}, re-drive ${r.redriven}, complete ${r.stale} stale, keep ${r.kept}`
            : `${r.queue}: ${r.replayed} replayed, ${r.redriven} re-driven, ${r.stale} stale, ${r.kept} kept; ${r.remaining} dead-lettered now`,
        );
      }
      return EXIT.ok;
    },
  },
];

function queueArg(ctx: Context): string {
  const queue = ctx.args[0]!;
  if (!QUEUES.includes(queue)) throw usageError(`queue must be one of ${QUEUES.join(', ')}`, 'queue');
  return queue;
}

/** The audit API takes ISO date-times: a date typed as 2026-01-31 becomes the start (from) or end (to) of that day. */
function isoBound(ctx: Context, name: 'from' | 'to'): string | undefined {
  const value = text(ctx, name);
  if (value === undefined) return undefined;
  const at = parseBound(value, name);
  if (!at) throw usageError(`--${name} must be a date (2026-01-31) or an ISO 8601 date-time`, name);
  return at.toISOString();
}
