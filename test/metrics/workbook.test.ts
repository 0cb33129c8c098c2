import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_NAMES, LISTED_EVENT_NAMES, METRIC_NAMES } from '../../shared/metrics';

const ROOT = path.resolve(__dirname, '../..');
const TEMPLATE = 'infra/workbook/privacy-outcomes.workbook.json';
const raw = readFileSync(path.join(ROOT, TEMPLATE), 'utf8');

interface Item {
  type: number;
  name?: string;
  content: Record<string, unknown>;
}

const workbook = JSON.parse(raw) as { version: string; items: Item[] };
const queries = workbook.items.filter((i) => i.type === 3);
const queryText = (i: Item) => String(i.content.query);
const parameters = workbook.items.filter((i) => i.type === 9).flatMap((i) => (i.content.parameters as { name: string; type: number; query?: string }[]) ?? []);

/** Every telemetry name quoted in a KQL string: 'privacy.metrics.requests', 'privacy.request.failed', ... */
function namesIn(kql: string): string[] {
  return [...kql.matchAll(/'([a-z]+(?:\.[a-z0-9_-]+)+)'/g)].map((m) => m[1]!);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.posix.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.posix.join(dir, e.name)] : [],
  );
}

describe('the privacy outcomes workbook template', () => {
  it('is Workbook JSON: version Notebook/1.0, parameters, and KQL items with charts and tables over App Insights', () => {
    expect(workbook.version).toBe('Notebook/1.0');
    expect(Array.isArray(workbook.items)).toBe(true);
    expect(parameters.map((p) => p.name)).toEqual(['TimeRange', 'Tenant']);
    expect(queries.length).toBeGreaterThanOrEqual(10);
    for (const item of queries) {
      expect(item.content, item.name).toMatchObject({ version: 'KqlItem/1.0', queryType: 0, resourceType: 'microsoft.insights/components' });
      expect(['timechart', 'barchart', 'table'], item.name).toContain(item.content.visualization);
      expect(String(item.content.title).length, item.name).toBeGreaterThan(5);
      const rendered = /\| render (\w+)\s*$/.exec(queryText(item))?.[1];
      expect(rendered ?? 'table', item.name).toBe(item.content.visualization);
      expect(queryText(item), item.name).toContain('{TimeRange}');
    }
    const names = workbook.items.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    expect(queries.filter((i) => i.content.visualization === 'timechart').length).toBeGreaterThanOrEqual(4);
    expect(queries.filter((i) => i.content.visualization === 'barchart').length).toBeGreaterThanOrEqual(3);
  });

  it('reads the JSON trace lines the app writes (customDimensions do not exist for console lines)', () => {
    for (const item of queries) {
      const kql = queryText(item);
      expect(kql, item.name).not.toContain('customDimensions');
      expect(kql, item.name).toMatch(/traces\n\| where timestamp \{TimeRange\}\n\| where message startswith '\{"(metric|event)":'\n\| extend (m|e) = parse_json\(message\)/);
    }
  });

  it('references only metric and event names the code emits, and charts every metric', () => {
    const emitted = new Set<string>([...Object.values(METRIC_NAMES), ...Object.values(EVENT_NAMES), ...Object.values(LISTED_EVENT_NAMES)]);
    const referenced = new Set([...queries.map(queryText), ...parameters.map((p) => p.query ?? '')].flatMap(namesIn));
    expect([...referenced].filter((n) => !emitted.has(n))).toEqual([]);
    expect(Object.values(METRIC_NAMES).filter((n) => !referenced.has(n))).toEqual([]);
    expect(referenced).toContain(EVENT_NAMES.computed);
  });

  it('lists the overdue and the failed requests by id, from events the app emits elsewhere', () => {
    const tables = queries.filter((i) => i.content.visualization === 'table').map(queryText);
    for (const event of Object.values(LISTED_EVENT_NAMES)) {
      expect(tables.some((kql) => kql.includes(`'${event}'`) && kql.includes('requestId')), event).toBe(true);
      const emitters = sourceFiles('shared').filter((file) => readFileSync(path.join(ROOT, file), 'utf8').includes(`telemetry.event('${event}'`));
      expect(emitters, `who emits ${event}`).not.toEqual([]);
    }
  });

  it('is what the Bicep module deploys', () => {
    const bicep = readFileSync(path.join(ROOT, 'infra/modules/workbook.bicep'), 'utf8');
    expect(bicep).toContain("resource workbook 'Microsoft.Insights/workbooks@2023-06-01'");
    expect(bicep).toContain("serializedData: loadTextContent('../workbook/privacy-outcomes.workbook.json')");
    expect(readFileSync(path.join(ROOT, 'infra/main.bicep'), 'utf8')).toMatch(/module workbook 'modules\/workbook\.bicep'[\s\S]*?appInsightsId: monitoring\.outputs\.appInsightsId/);
  });
});
