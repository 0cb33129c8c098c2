import { duration, percent, ratio } from '../../shared/metrics/format';
import { privacyMetricsSchema, type PrivacyMetrics } from '../../shared/metrics/privacyMetrics';
import { renderReportHtml } from '../reportHtml';
import { EXIT } from '../api';
import { parse, requiredText, text, when, type Command, type Context } from '../context';

export const metricsCommands: Command[] = [
  {
    words: ['metrics'],
    args: [],
    options: ['tenant', 'from', 'to'],
    required: ['tenant'],
    summary: "a tenant's privacy figures as a table (--tenant [--from 2026-01-01] [--to 2026-01-31]; default the last 30 days)",
    async run(ctx) {
      const metrics = await fetchMetrics(ctx);
      if (ctx.out.json) {
        ctx.out.data(metrics);
        return EXIT.ok;
      }
      printMetrics(ctx, metrics);
      return EXIT.ok;
    },
  },
  {
    words: ['report'],
    args: [],
    options: ['tenant', 'from', 'to', 'out'],
    required: ['tenant'],
    summary: 'the figures with charts as one self-contained HTML file for a DPO (--tenant --from --to --out report.html)',
    async run(ctx) {
      const metrics = await fetchMetrics(ctx);
      const out = text(ctx, 'out') ?? `privacy-report-${metrics.tenantId}-${metrics.from.slice(0, 10)}.html`;
      const html = renderReportHtml(metrics, { generatedAt: ctx.io.now() });
      await ctx.io.writeFile(out, html);
      if (ctx.out.json) ctx.out.data({ out, bytes: Buffer.byteLength(html), tenantId: metrics.tenantId, from: metrics.from, to: metrics.to });
      else ctx.out.line(`wrote ${out} (${Buffer.byteLength(html)} bytes): ${metrics.tenantId}, ${metrics.from.slice(0, 10)} to ${when(metrics.to)}`);
      return EXIT.ok;
    },
  },
];

async function fetchMetrics(ctx: Context): Promise<PrivacyMetrics> {
  const { body } = await ctx.api.call('GET', 'privacy-metrics', {
    query: { tenantId: requiredText(ctx, 'tenant'), from: text(ctx, 'from'), to: text(ctx, 'to') },
  });
  return parse(privacyMetricsSchema, body, 'the metrics');
}

function printMetrics(ctx: Context, m: PrivacyMetrics): void {
  const f = m.figures;
  const met = (v: boolean | null) => (v === null ? 'no data' : v ? 'met' : 'MISSED');
  ctx.out.line(`Privacy outcomes of ${m.tenantId}: requests received ${when(m.from)} to ${when(m.to)} (UTC), statuses as of ${when(m.asOf)}`);
  ctx.out.line();
  ctx.out.table(
    ['FIGURE', 'VALUE', 'TARGET', 'STATUS'],
    [
      ['Completion rate', `${percent(f.completionRate.value)} (${f.completionRate.completed} of ${f.completionRate.outOf})`, `>= ${percent(f.completionRate.target.threshold)}`, met(f.completionRate.target.met)],
      ['Deletion latency p50', duration(f.deletionLatency.value.p50Ms), '', ''],
      ['Deletion latency p95', duration(f.deletionLatency.value.p95Ms), `< ${duration(f.deletionLatency.target.threshold)}`, met(f.deletionLatency.target.met)],
      ['Deletion latency p99', duration(f.deletionLatency.value.p99Ms), '', ''],
      ['Latency p50/p95/p99 (all)', `${duration(f.latency.value.p50Ms)} / ${duration(f.latency.value.p95Ms)} / ${duration(f.latency.value.p99Ms)}`, '', ''],
      ['Re-engagement after deletion', `${percent(f.reengagementRate.value)} (${f.reengagementRate.reengaged} of ${f.reengagementRate.erased})`, `< ${percent(f.reengagementRate.target.threshold)}`, met(f.reengagementRate.target.met)],
      ['Trust coefficient', `${ratio(f.trustCoefficient.value, f.trustCoefficient.flowCompletions)} (${f.trustCoefficient.flowCompletions} flows : ${f.trustCoefficient.deletionRequests} deletions)`, `> ${f.trustCoefficient.target.threshold}:1`, met(f.trustCoefficient.target.met)],
      ['Requests received', String(f.requestsByType.total), '', ''],
      ['Overdue', String(f.overdue.value), '0', f.overdue.value === 0 ? 'met' : 'MISSED'],
      ['Failed', String(f.failed.value), '0', f.failed.value === 0 ? 'met' : 'MISSED'],
      ['Completed late', String(f.completedLate.value), '0', f.completedLate.value === 0 ? 'met' : 'MISSED'],
    ],
  );
  ctx.out.line();
  ctx.out.line(`By type:    ${listOf(f.requestsByType.value)}`);
  ctx.out.line(`By channel: ${listOf(f.requestsByChannel.value)}`);
  ctx.out.line(`Deletion requests by preceding screen: ${listOf(f.deletionsByScreen.value) || 'none'}`);
  if (f.failed.value > 0) ctx.out.line(`Failed by store: ${listOf(f.failed.byStore)}`);
  if (m.records.unreadable > 0) ctx.out.error(`warning: ${m.records.unreadable} record(s) could not be read and are not counted`);
  ctx.out.line();
  ctx.out.line('Definitions: flowkeeper metrics --json, or docs/metrics.md.');
}

function listOf(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
