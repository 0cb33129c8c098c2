import { z } from 'zod';
import { EXIT } from '../api';
import { parse, requiredText, type Command } from '../context';

const resultSchema = z.looseObject({
  tenantId: z.string(),
  dryRun: z.boolean(),
  documents: z.number(),
  partitions: z.number(),
  moved: z.number(),
  alreadyThere: z.number(),
  merged: z.number(),
  skipped: z.number(),
});

export const identityCommands: Command[] = [
  {
    words: ['identity', 'migrate'],
    args: [],
    options: ['tenant', 'dry-run'],
    required: ['tenant'],
    summary: "move a tenant's subject documents from phone-number partition keys to identifier hashes (--tenant [--dry-run]); safe to run again",
    async run(ctx) {
      const tenant = requiredText(ctx, 'tenant');
      const dryRun = ctx.values['dry-run'] === true;
      const { body } = await ctx.api.call('POST', `tenants/${encodeURIComponent(tenant)}/identity/migrate${dryRun ? '?dryRun=true' : ''}`);
      const result = parse(resultSchema, body, 'the migration result');
      if (ctx.out.json) {
        ctx.out.data(result);
        return EXIT.ok;
      }
      if (result.dryRun) {
        ctx.out.line(`dry run: ${result.documents} document(s) in ${result.partitions} phone-number partition(s) would move; nothing was changed`);
      } else {
        ctx.out.line(`moved ${result.moved} document(s) from ${result.partitions} phone-number partition(s); ${result.alreadyThere} already copied by an earlier run, ${result.merged} contact(s) merged`);
      }
      if (result.skipped > 0) ctx.out.line(`${result.skipped} document(s) under a key that is no phone number were left alone`);
      return EXIT.ok;
    },
  },
];
