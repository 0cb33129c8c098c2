import { z } from 'zod';
import { EXIT, usageError } from '../api';
import { parse, requiredText, text, type Command } from '../context';

const exportSchema = z.object({
  format: z.string(),
  tenantId: z.string(),
  exportedAt: z.string(),
  tombstones: z.array(z.object({ subjectHash: z.string(), erasedAt: z.string(), scope: z.string().optional() })),
});
const reapplySchema = z.object({
  tenantId: z.string(),
  tombstones: z.number(),
  restored: z.number(),
  erasures: z.array(z.object({ requestId: z.string(), subjectHash: z.string(), reused: z.boolean() })),
  subjectsScanned: z.number(),
});

/** Tombstones per call: an admin body is at most 1 MiB, a tombstone about 130 bytes as JSON. */
const REAPPLY_BATCH = 5000;

export const tombstoneCommands: Command[] = [
  {
    words: ['tombstones', 'export'],
    args: [],
    options: ['tenant', 'out'],
    required: ['tenant'],
    summary: "a tenant's erasure tombstones as JSON (keyed hashes and dates only), for re-applying after a restore (--tenant [--out file]; default stdout)",
    async run(ctx) {
      const tenant = requiredText(ctx, 'tenant');
      const { body } = await ctx.api.call('GET', `tenants/${encodeURIComponent(tenant)}/tombstones`);
      const exported = parse(exportSchema, body, 'the tombstones');
      const json = `${JSON.stringify(exported, null, 2)}\n`;
      const out = text(ctx, 'out');
      if (out) {
        await ctx.io.writeFile(out, json);
        ctx.io.stderr(`${exported.tombstones.length} tombstone(s) of ${exported.tenantId} written to ${out}\n`);
      } else ctx.io.stdout(json);
      return EXIT.ok;
    },
  },
  {
    words: ['tombstones', 'reapply'],
    args: ['file'],
    options: ['tenant'],
    required: ['tenant'],
    summary: 'after a restore from backup: write the tombstones of an export again and erase again every tombstoned subject that has data (--tenant; idempotent)',
    async run(ctx) {
      const tenant = requiredText(ctx, 'tenant');
      let file: z.infer<typeof exportSchema>;
      try {
        file = exportSchema.parse(JSON.parse(await ctx.io.readFile(ctx.args[0]!)));
      } catch (error) {
        throw usageError(`${ctx.args[0]} is not a tombstone export (${error instanceof SyntaxError ? 'not valid JSON' : 'unexpected shape'}): make one with flowkeeper tombstones export`, 'file');
      }
      const total = { tenantId: tenant, tombstones: 0, restored: 0, erasures: [] as z.infer<typeof reapplySchema>['erasures'], subjectsScanned: 0 };
      // In batches (a body is at most 1 MiB); each batch scans the subjects for its own tombstones.
      for (let i = 0; i === 0 || i < file.tombstones.length; i += REAPPLY_BATCH) {
        const batch = { ...file, tombstones: file.tombstones.slice(i, i + REAPPLY_BATCH) };
        const { body } = await ctx.api.call('POST', `tenants/${encodeURIComponent(tenant)}/tombstones/reapply`, { body: batch });
        const result = parse(reapplySchema, body, 'the reapply');
        total.tombstones += result.tombstones;
        total.restored += result.restored;
        total.erasures.push(...result.erasures);
        total.subjectsScanned = result.subjectsScanned;
      }
      if (ctx.out.json) {
        ctx.out.data(total);
        return EXIT.ok;
      }
      ctx.out.line(`${total.tenantId}: ${total.tombstones} tombstone(s), ${total.restored} written again; ${total.subjectsScanned} subject(s) with data scanned, ${total.erasures.length} erased again`);
      for (const e of total.erasures) ctx.out.line(`  request ${e.requestId} (subject ${e.subjectHash.slice(0, 12)}…)${e.reused ? ' already running' : ''}`);
      return EXIT.ok;
    },
  },
];
