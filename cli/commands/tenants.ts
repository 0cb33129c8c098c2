import { z } from 'zod';
import { CliError, EXIT, usageError } from '../api';
import { integer, parse, when, type Command } from '../context';

const tenantSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  phoneNumberIds: z.array(z.string()),
  messageStorage: z.string(),
  jurisdiction: z.string().optional(),
  cancelledAt: z.string().optional(),
});

const progressSchema = z.object({
  tenantId: z.string(),
  status: z.enum(['erasing', 'blocked', 'completed']),
  cancelledAt: z.string(),
  completedAt: z.string().optional(),
  subjectsRequested: z.number(),
  subjectsRemaining: z.number(),
  requests: z.record(z.string(), z.number()),
  reason: z.string().optional(),
});
type Progress = z.infer<typeof progressSchema>;

const tenantPath = (id: string) => `tenants/${encodeURIComponent(id)}`;

export const tenantCommands: Command[] = [
  {
    words: ['tenants', 'list'],
    args: [],
    options: [],
    summary: 'the tenants you may see',
    async run(ctx) {
      const { body } = await ctx.api.call('GET', 'tenants');
      const { tenants } = parse(z.object({ tenants: z.array(tenantSchema) }), body, 'tenants');
      if (ctx.out.json) {
        ctx.out.data({ tenants });
        return EXIT.ok;
      }
      if (tenants.length === 0) {
        ctx.out.line('no tenants');
        return EXIT.ok;
      }
      ctx.out.table(
        ['ID', 'NAME', 'STORAGE', 'JURISDICTION', 'NUMBERS', 'STATE'],
        tenants.map((t) => [t.id, t.name, t.messageStorage, t.jurisdiction ?? '', String(t.phoneNumberIds.length), t.cancelledAt ? `cancelling since ${when(t.cancelledAt)}` : 'active']),
      );
      return EXIT.ok;
    },
  },
  {
    words: ['tenants', 'show'],
    args: ['id'],
    options: [],
    summary: "a tenant's configuration",
    async run(ctx) {
      const { body } = await ctx.api.call('GET', tenantPath(ctx.args[0]!));
      const tenant = parse(tenantSchema, body, 'the tenant');
      if (ctx.out.json) {
        ctx.out.data(tenant);
        return EXIT.ok;
      }
      for (const [key, value] of Object.entries(tenant)) ctx.out.line(`${`${key}:`.padEnd(26)}${typeof value === 'string' ? value : JSON.stringify(value)}`);
      return EXIT.ok;
    },
  },
  {
    words: ['tenants', 'set'],
    args: ['id'],
    options: ['file'],
    required: ['file'],
    summary: 'create or replace a tenant from a JSON file (--file tenant.json)',
    async run(ctx) {
      const file = String(ctx.values.file);
      let config: unknown;
      try {
        config = JSON.parse(await ctx.io.readFile(file)) as unknown;
      } catch (error) {
        throw usageError(`--file ${file}: ${error instanceof SyntaxError ? 'not valid JSON' : 'cannot be read'}`, 'file');
      }
      const { status, body } = await ctx.api.call('PUT', tenantPath(ctx.args[0]!), { body: config });
      const tenant = parse(tenantSchema, body, 'the tenant');
      if (ctx.out.json) {
        ctx.out.data(tenant);
        return EXIT.ok;
      }
      ctx.out.line(`tenant ${tenant.id} ${status === 201 ? 'created' : 'updated'}`);
      return EXIT.ok;
    },
  },
  {
    words: ['tenants', 'purge'],
    args: ['id'],
    options: ['yes', 'timeout', 'interval'],
    summary: 'cancel the account: erase every subject, then the configuration (--yes; follows progress)',
    async run(ctx) {
      const id = ctx.args[0]!;
      if (ctx.values.yes !== true) {
        throw usageError(`purging erases every subject of tenant ${id} and then its configuration, and cannot be undone: add --yes`, 'yes');
      }
      const timeoutMs = (integer(ctx, 'timeout', 0, 86_400) ?? 600) * 1000;
      const intervalMs = (integer(ctx, 'interval', 1, 3600) ?? 2) * 1000;
      const started = ctx.io.now().getTime();
      const { body } = await ctx.api.call('POST', `${tenantPath(id)}/cancel`);
      let progress = parse(progressSchema, body, 'the cancellation');
      const indicator = ctx.out.progress(describe(progress));
      try {
        while (progress.status === 'erasing' && ctx.io.now().getTime() - started < timeoutMs) {
          await ctx.io.sleep(intervalMs);
          const next = await ctx.api.call('GET', `${tenantPath(id)}/cancellation`);
          progress = parse(progressSchema, next.body, 'the cancellation');
          indicator.update(describe(progress));
        }
      } finally {
        indicator.done();
      }
      if (ctx.out.json) ctx.out.data(progress);
      else ctx.out.line(`tenant ${id}: ${describe(progress)}`);
      if (progress.status === 'completed') return EXIT.ok;
      if (progress.status === 'blocked') throw new CliError(`the purge of ${id} is blocked: ${progress.reason ?? 'failed erasures'}`, EXIT.incomplete);
      throw new CliError(`the purge of ${id} is still running after ${Math.round(timeoutMs / 1000)} s; it continues in the background (run the command again to follow it)`, EXIT.incomplete);
    },
  },
];

function describe(p: Progress): string {
  const done = p.requests.completed ?? 0;
  const open = (p.requests.received ?? 0) + (p.requests.in_progress ?? 0) + (p.requests.verifying ?? 0);
  const failed = p.requests.failed ?? 0;
  const base = `${p.status}: ${p.subjectsRequested} erasures requested, ${done} completed, ${open} running, ${failed} failed, ${p.subjectsRemaining} subjects left`;
  return p.status === 'completed' ? `${base}; configuration deleted at ${when(p.completedAt)}` : base;
}

