import { duration, percent, ratio, type PrivacyMetrics } from '../shared/metrics';

/**
 * The DPO's report: one self-contained HTML file (inline CSS, charts as server-drawn inline SVG, no
 * script, no external URL) with the period's figures, their targets and definitions, and three charts:
 * latency distribution, completion over time, deletion requests by preceding flow screen. It renders
 * what GET /api/privacy-metrics returned, so it holds no more than that: no personal data.
 */
export function renderReportHtml(metrics: PrivacyMetrics, options: { generatedAt: Date }): string {
  const f = metrics.figures;
  const period = `${day(metrics.from)} – ${day(lastInstant(metrics.to))}`;
  const rows: [string, string, string, boolean | null][] = [
    ['Completion rate', percent(f.completionRate.value) + ` (${f.completionRate.completed} of ${f.completionRate.outOf})`, `≥ ${percent(f.completionRate.target.threshold)}`, f.completionRate.target.met],
    ['Deletion latency p50 / p95 / p99', `${duration(f.deletionLatency.value.p50Ms)} / ${duration(f.deletionLatency.value.p95Ms)} / ${duration(f.deletionLatency.value.p99Ms)}`, `p95 < ${duration(f.deletionLatency.target.threshold)}`, f.deletionLatency.target.met],
    ['Latency p50 / p95 / p99 (all types)', `${duration(f.latency.value.p50Ms)} / ${duration(f.latency.value.p95Ms)} / ${duration(f.latency.value.p99Ms)}`, '', null],
    ['Post-deletion re-engagement', percent(f.reengagementRate.value) + ` (${f.reengagementRate.reengaged} of ${f.reengagementRate.erased} erased)`, `< ${percent(f.reengagementRate.target.threshold)}`, f.reengagementRate.target.met],
    ['Trust coefficient', ratio(f.trustCoefficient.value, f.trustCoefficient.flowCompletions) + ` (${f.trustCoefficient.flowCompletions} flows, ${f.trustCoefficient.deletionRequests} deletions)`, `> ${f.trustCoefficient.target.threshold}:1`, f.trustCoefficient.target.met],
    ['Requests received', String(f.requestsByType.total), '', null],
    ['Overdue', String(f.overdue.value), '0', f.overdue.value === 0],
    ['Failed', String(f.failed.value), '0', f.failed.value === 0],
    ['Completed after the due date', String(f.completedLate.value), '0', f.completedLate.value === 0],
  ];
  const definitions: [string, string][] = [
    ['Completion rate', f.completionRate.definition],
    ['Latency', f.latency.definition],
    ['Deletion latency', f.deletionLatency.definition],
    ['Requests by type', f.requestsByType.definition],
    ['Requests by channel', f.requestsByChannel.definition],
    ['Overdue', f.overdue.definition],
    ['Failed', f.failed.definition],
    ['Completed late', f.completedLate.definition],
    ['Post-deletion re-engagement', f.reengagementRate.definition],
    ['Trust coefficient', f.trustCoefficient.definition],
    ['Deletion requests by screen', f.deletionsByScreen.definition],
    ['Completion over time', f.daily.definition],
  ];

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy outcomes – ${esc(metrics.tenantId)} – ${esc(period)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; margin: 2rem auto; max-width: 980px; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d9e2ec; padding-bottom: .3rem; }
  .meta { color: #52606d; margin-top: 0; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  th { background: #f5f7fa; font-weight: 600; } td.num { font-variant-numeric: tabular-nums; }
  .met { color: #0b7a3e; font-weight: 600; } .missed { color: #b42318; font-weight: 600; } .na { color: #7b8794; }
  .charts { display: grid; grid-template-columns: 1fr; gap: 1.5rem; }
  figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .4rem; }
  svg { width: 100%; height: auto; background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; }
  svg text { font: 11px system-ui, sans-serif; fill: #3e4c59; } svg .axis { stroke: #9aa5b1; stroke-width: 1; } svg .grid { stroke: #eef1f4; }
  svg .bar { fill: #2f80ed; } svg .bar.received { fill: #b8d4f8; } svg .bar.screen { fill: #7b61ff; } svg .line { fill: none; stroke: #0b7a3e; stroke-width: 2; }
  svg .point { fill: #0b7a3e; } svg .point.failed { fill: #b42318; } svg .marker { stroke: #b42318; stroke-dasharray: 4 3; }
  dl dt { font-weight: 600; margin-top: .6rem; } dl dd { margin-left: 0; color: #3e4c59; }
  .legend span { display: inline-block; margin-right: 1rem; } .swatch { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle; margin-right: .3rem; border-radius: 2px; }
  footer { margin-top: 2.5rem; color: #7b8794; font-size: 12px; }
</style>
</head>
<body>
<h1>Privacy outcomes</h1>
<p class="meta">Tenant <strong>${esc(metrics.tenantId)}</strong> · requests received ${esc(period)} (UTC) · statuses as of ${esc(stamp(metrics.asOf))} · generated ${esc(stamp(options.generatedAt.toISOString()))}</p>

<h2>Figures</h2>
<table id="figures">
<thead><tr><th>Figure</th><th>Value</th><th>Target</th><th>Status</th></tr></thead>
<tbody>
${rows.map(([name, value, target, met]) => `<tr><td>${esc(name)}</td><td class="num">${esc(value)}</td><td>${esc(target)}</td><td>${status(met, target)}</td></tr>`).join('\n')}
</tbody>
</table>

<h2>Charts</h2>
<div class="charts">
<figure>
<figcaption>Latency distribution: receipt to verified completion (${f.latency.value.count} completed requests)</figcaption>
${latencyChart(metrics)}
</figure>
<figure>
<figcaption>Completion over time, per UTC day</figcaption>
<div class="legend"><span><i class="swatch" style="background:#b8d4f8"></i>received</span><span><i class="swatch" style="background:#0b7a3e"></i>completed</span><span><i class="swatch" style="background:#b42318"></i>failed</span></div>
${completionChart(metrics)}
</figure>
<figure>
<figcaption>Deletion requests by preceding flow screen (${f.trustCoefficient.deletionRequests} deletion requests)</figcaption>
${screenChart(metrics)}
</figure>
</div>

<h2>Requests by type and channel</h2>
<table id="breakdown">
<thead><tr><th>Type</th><th>Requests</th><th>Channel</th><th>Requests</th></tr></thead>
<tbody>
${breakdownRows(metrics)}
</tbody>
</table>

<h2>Definitions</h2>
<dl>
${definitions.map(([name, text]) => `<dt>${esc(name)}</dt><dd>${esc(text)}</dd>`).join('\n')}
</dl>

<footer>Computed by Flowkeeper from its own records (privacy requests, audit events, erasure tombstones). The report holds counts, rates, durations and flow screen ids only: no phone number, name, message or answer. Records read: ${metrics.records.requests} requests, ${metrics.records.auditEvents} audit events, ${metrics.records.tombstones} tombstones${metrics.records.unreadable > 0 ? `, ${metrics.records.unreadable} unreadable (not counted)` : ''}.</footer>
</body>
</html>
`;
}

// ------------------------------------------------------------------------------------------- charts

const W = 720;
const H = 260;
const M = { top: 16, right: 16, bottom: 44, left: 48 };

function latencyChart(metrics: PrivacyMetrics): string {
  const buckets = metrics.figures.latency.value.histogram;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slot = plotW / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const h = (b.count / max) * plotH;
      const x = M.left + i * slot + slot * 0.15;
      const y = M.top + plotH - h;
      return (
        `<rect class="bar" x="${fx(x)}" y="${fx(y)}" width="${fx(slot * 0.7)}" height="${fx(h)}"><title>${esc(b.label)}: ${b.count}</title></rect>` +
        (b.count > 0 ? `<text x="${fx(x + slot * 0.35)}" y="${fx(y - 4)}" text-anchor="middle">${b.count}</text>` : '') +
        `<text x="${fx(M.left + i * slot + slot / 2)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(b.label)}</text>`
      );
    })
    .join('');
  const l = metrics.figures.latency.value;
  const caption = l.count === 0 ? 'no request was completed in this period' : `p50 ${duration(l.p50Ms)} · p95 ${duration(l.p95Ms)} · p99 ${duration(l.p99Ms)} · max ${duration(l.maxMs)}`;
  return svg('latency', `${yAxis(max, plotH)}${bars}<text x="${W - M.right}" y="${H - 8}" text-anchor="end">${esc(caption)}</text>`);
}

function completionChart(metrics: PrivacyMetrics): string {
  const days = metrics.figures.daily.value;
  const max = Math.max(1, ...days.map((d) => Math.max(d.received, d.completed, d.failed)));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slot = plotW / Math.max(1, days.length);
  const yOf = (v: number) => M.top + plotH - (v / max) * plotH;
  const xOf = (i: number) => M.left + i * slot + slot / 2;
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const received = days
    .map((d, i) => {
      const h = (d.received / max) * plotH;
      return `<rect class="bar received" x="${fx(M.left + i * slot + slot * 0.2)}" y="${fx(M.top + plotH - h)}" width="${fx(Math.max(1, slot * 0.6))}" height="${fx(h)}"><title>${d.date}: ${d.received} received</title></rect>`;
    })
    .join('');
  const line = `<polyline class="line" points="${days.map((d, i) => `${fx(xOf(i))},${fx(yOf(d.completed))}`).join(' ')}"/>`;
  const points = days.map((d, i) => `<circle class="point" cx="${fx(xOf(i))}" cy="${fx(yOf(d.completed))}" r="3.5"><title>${d.date}: ${d.completed} completed</title></circle>`).join('');
  const failed = days
    .filter((d) => d.failed > 0)
    .map((d) => `<circle class="point failed" cx="${fx(xOf(days.indexOf(d)))}" cy="${fx(yOf(d.failed))}" r="4.5"><title>${d.date}: ${d.failed} failed</title></circle>`)
    .join('');
  const labels = days
    .map((d, i) => (i % labelEvery === 0 ? `<text x="${fx(xOf(i))}" y="${H - M.bottom + 16}" text-anchor="middle">${d.date.slice(5)}</text>` : ''))
    .join('');
  return svg('completion', `${yAxis(max, plotH)}${received}${line}${points}${failed}${labels}`);
}

function screenChart(metrics: PrivacyMetrics): string {
  const entries = Object.entries(metrics.figures.deletionsByScreen.value).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return svg('screens', `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no deletion request in this period</text>`, 80);
  const rowH = 28;
  const height = M.top + entries.length * rowH + 24;
  const labelW = 170;
  const plotW = W - labelW - M.right - 40;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const bars = entries
    .map(([screen, n], i) => {
      const y = M.top + i * rowH;
      const w = (n / max) * plotW;
      return (
        `<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(screen)}</text>` +
        `<rect class="bar screen" x="${labelW}" y="${y + 4}" width="${fx(Math.max(1, w))}" height="${rowH - 8}"><title>${esc(screen)}: ${n}</title></rect>` +
        `<text x="${fx(labelW + w + 6)}" y="${y + rowH / 2 + 4}">${n}</text>`
      );
    })
    .join('');
  return svg('screens', `<line class="axis" x1="${labelW}" y1="${M.top}" x2="${labelW}" y2="${height - 20}"/>${bars}`, height);
}

function yAxis(max: number, plotH: number): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => Math.round(t * max)).filter((v, i, all) => all.indexOf(v) === i);
  return (
    ticks
      .map((v) => {
        const y = M.top + plotH - (v / max) * plotH;
        return `<line class="grid" x1="${M.left}" y1="${fx(y)}" x2="${W - M.right}" y2="${fx(y)}"/><text x="${M.left - 6}" y="${fx(y + 4)}" text-anchor="end">${v}</text>`;
      })
      .join('') +
    `<line class="axis" x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + plotH}"/>` +
    `<line class="axis" x1="${M.left}" y1="${M.top + plotH}" x2="${W - M.right}" y2="${M.top + plotH}"/>`
  );
}

function svg(name: string, content: string, height = H): string {
  return `<svg data-chart="${name}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${name} chart">${content}</svg>`;
}

function breakdownRows(metrics: PrivacyMetrics): string {
  const types = Object.entries(metrics.figures.requestsByType.value);
  const channels = Object.entries(metrics.figures.requestsByChannel.value);
  const rows: string[] = [];
  for (let i = 0; i < Math.max(types.length, channels.length); i++) {
    const t = types[i];
    const c = channels[i];
    rows.push(`<tr><td>${t ? esc(t[0]) : ''}</td><td class="num">${t ? t[1] : ''}</td><td>${c ? esc(c[0]) : ''}</td><td class="num">${c ? c[1] : ''}</td></tr>`);
  }
  return rows.join('\n');
}

// ------------------------------------------------------------------------------------------- formatting

function status(met: boolean | null, target: string): string {
  if (target === '') return '<span class="na">–</span>';
  if (met === null) return '<span class="na">no data</span>';
  return met ? '<span class="met">met</span>' : '<span class="missed">missed</span>';
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** The period's `to` is exclusive: the last day shown is the day of the instant before it. */
function lastInstant(iso: string): string {
  return new Date(Date.parse(iso) - 1).toISOString();
}

function stamp(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC').replace(/Z$/, ' UTC');
}

function fx(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
