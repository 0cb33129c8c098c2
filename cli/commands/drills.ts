import { z } from 'zod';
import { EXIT } from '../api';
import { parse, requiredText, type Command } from '../context';

const drillSchema = z.object({
  tenantId: z.string(),
  drillId: z.string(),
  outcome: z.enum(['passed', 'failed', 'slow']),
  latencyMs: z.number(),
  targetMs: z.number(),
  stores: z.array(z.string()),
  requestId: z.string().optional(),
  reason: z.string().optional(),
  leftovers: z.record(z.string(), z.number()),
});

export const drillCommands: Command[] = [
  {
    words: ['drills', 'run'],
    args: [],
    options: ['tenant'],
    required: ['tenant'],
    summary: 'run an erasure drill now: a synthetic subject written to every store, erased and verified (--tenant); exit 1 if it failed',
    async run(ctx) {
      const tenant = requiredText(ctx, 'tenant');
      const indicator = ctx.out.progress(`erasure drill for ${tenant}: running`);
      let body: unknown;
      try {
        ({ body } = await ctx.api.call('POST', `tenants/${encodeURIComponent(tenant)}/drills`));
      } finally {
        indicator.done();
      }
      const result = parse(drillSchema, body, 'the drill');
      if (ctx.out.json) ctx.out.data(result);
      else {
        ctx.out.line(`erasure drill ${result.outcome} for ${result.tenantId} in ${(result.latencyMs / 1000).toFixed(1)} s (target ${result.targetMs / 1000} s)`);
        ctx.out.line(`stores: ${result.stores.join(', ')}; left afterwards: ${Object.entries(result.leftovers).map(([s, n]) => `${s} ${n}`).join(', ') || 'nothing'}`);
        if (result.requestId) ctx.out.line(`request: ${result.requestId}`);
        if (result.reason) ctx.out.line(`reason: ${result.reason}`);
      }
      return result.outcome === 'failed' ? EXIT.api : EXIT.ok;
    },
  },
];
