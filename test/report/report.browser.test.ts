import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import serverlessChromium from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../cli/reportHtml';
import { computePrivacyMetrics } from '../../shared/metrics';
import { AS_OF, PERIOD, PLANTED, recordsOf, scriptedHistory } from '../metrics/support/history';

/** Screenshots and the rendered files land here (git-ignored), for a person to look at. */
const OUTPUT = path.resolve(__dirname, '../../.local/test-output');

/**
 * The Chromium that ships inside the `@sparticuz/chromium` npm package (brotli-compressed, inflated to the
 * temp folder on first use), so `npm test` needs no system browser and no download at install time. The
 * background-networking flags keep it from calling Google's hosts, which a closed network refuses.
 */
async function launchChromium(): Promise<Browser> {
  serverlessChromium.setGraphicsMode = false; // no WebGL needed: skips inflating SwiftShader
  return chromium.launch({
    executablePath: await serverlessChromium.executablePath(),
    // Our own flags, not the package's Lambda set (which turns off web security and runs one process).
    args: ['--headless', '--no-sandbox', '--no-zygote', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    headless: true,
  });
}

let browser: Browser;
beforeAll(async () => {
  await mkdir(OUTPUT, { recursive: true });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function render(name: string, html: string) {
  const file = path.join(OUTPUT, `${name}.html`);
  await writeFile(file, html, 'utf8');
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).toString(), { waitUntil: 'load' });
  return { page, file, requests, errors };
}

/** Drawn shapes of a chart: elements of the selector with a non-empty box on the page. */
async function drawn(page: Awaited<ReturnType<typeof render>>['page'], selector: string): Promise<{ count: number; visible: number }> {
  return page.$$eval(selector, (elements) => ({
    count: elements.length,
    visible: elements.filter((e) => {
      const box = (e as unknown as { getBoundingClientRect(): { width: number; height: number } }).getBoundingClientRect();
      return box.width > 0 && box.height > 0;
    }).length,
  }));
}

describe('the DPO report in headless Chromium', () => {
  it('draws the latency distribution, completion over time and requests by screen, with no external request', async () => {
    const history = scriptedHistory();
    const metrics = computePrivacyMetrics({ tenantId: history.tenantId, ...PERIOD, asOf: AS_OF }, recordsOf(history));
    const { page, file, requests, errors } = await render('privacy-report', renderReportHtml(metrics, { generatedAt: AS_OF }));

    expect(await page.title()).toBe(`Privacy outcomes – ${history.tenantId} – 2026-01-01 – 2026-01-31`);
    // Latency: one bar per bucket, the non-empty ones visible (≤2 s, ≤5 s, ≤10 s, ≤1 min, >1 day).
    expect(await drawn(page, 'svg[data-chart="latency"] rect.bar')).toEqual({ count: 10, visible: 5 });
    // Completion over time: a point per day of January on the completed line, received bars on the 9 days with receipts.
    expect((await drawn(page, 'svg[data-chart="completion"] circle.point:not(.failed)')).visible).toBe(31);
    expect((await drawn(page, 'svg[data-chart="completion"] rect.bar.received')).visible).toBe(9);
    expect((await drawn(page, 'svg[data-chart="completion"] circle.point.failed')).visible).toBe(1);
    expect((await drawn(page, 'svg[data-chart="completion"] polyline.line')).visible).toBe(1);
    // Requests by screen: five screens, five bars, labelled.
    expect(await drawn(page, 'svg[data-chart="screens"] rect.bar')).toEqual({ count: 5, visible: 5 });
    const screenLabels = await page.$$eval('svg[data-chart="screens"] text', (t) => t.map((e) => e.textContent));
    expect(screenLabels).toEqual(expect.arrayContaining(['PRICING', 'DELIVERY_SLOTS', 'CHECKOUT', '(none)', '(other)']));

    const figures = await page.$$eval('#figures tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent?.trim())));
    expect(figures).toContainEqual(['Completion rate', '75% (6 of 8)', '≥ 99.9%', 'missed']);
    expect(figures).toContainEqual(['Trust coefficient', '20:1 (100 flows, 5 deletions)', '> 50:1', 'missed']);
    expect(figures).toContainEqual(['Post-deletion re-engagement', '50% (2 of 4 erased)', '< 5%', 'missed']);

    expect(requests).toEqual([pathToFileURL(file).toString()]);
    expect(errors).toEqual([]);
    const text = await page.content();
    for (const phone of PLANTED.phones) expect(text).not.toContain(phone);
    expect(text).not.toContain(PLANTED.name);

    await page.screenshot({ path: path.join(OUTPUT, 'privacy-report.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('renders a period without any request: empty charts say so instead of breaking', async () => {
    const metrics = computePrivacyMetrics({ tenantId: 'quiet-tenant', ...PERIOD, asOf: AS_OF }, { requests: [], audit: [], tombstones: [] });
    const { page, errors, requests, file } = await render('privacy-report-empty', renderReportHtml(metrics, { generatedAt: AS_OF }));
    expect(await drawn(page, 'svg[data-chart="latency"] rect.bar')).toEqual({ count: 10, visible: 0 });
    expect(await page.textContent('svg[data-chart="latency"]')).toContain('no request was completed in this period');
    expect(await page.textContent('svg[data-chart="screens"]')).toContain('no deletion request in this period');
    expect((await drawn(page, 'svg[data-chart="completion"] circle.point')).visible).toBe(31);
    const status = await page.$$eval('#figures tbody tr td:nth-child(4)', (cells) => cells.map((c) => c.textContent?.trim()));
    expect(status.slice(0, 2)).toEqual(['no data', 'no data']);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).toString()]);
    await page.screenshot({ path: path.join(OUTPUT, 'privacy-report-empty.png'), fullPage: true });
    await page.close();
  }, 60_000);
});
