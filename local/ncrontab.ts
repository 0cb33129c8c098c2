/**
 * Next occurrence of a six-field NCRONTAB schedule (`sec min hour day month day-of-week`), in UTC as the
 * Functions host on Linux runs them. Supports `*`, numbers, ranges, lists and steps.
 */
const RANGES: [number, number][] = [
  [0, 59],
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

function parseField(field: string, [min, max]: [number, number]): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [rangePart, stepPart] = part.split('/');
    const step = stepPart === undefined ? 1 : Number(stepPart);
    let from = min;
    let to = max;
    if (rangePart !== '*' && rangePart !== undefined) {
      const [a, b] = rangePart.split('-');
      from = Number(a);
      to = b === undefined ? (stepPart === undefined ? from : max) : Number(b);
    }
    if (![from, to, step].every(Number.isInteger) || from < min || to > max || step < 1) {
      throw new Error(`invalid NCRONTAB field "${field}"`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

export function parseSchedule(expression: string): (after: Date) => Date {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`"${expression}" is not a six-field NCRONTAB expression`);
  const [sec, min, hour, day, month, dow] = fields.map((f, i) => parseField(f, RANGES[i]!)) as Set<number>[];
  return (after: Date) => {
    const t = new Date(after.getTime() - (after.getTime() % 1000) + 1000);
    for (let guard = 0; guard < 366 * 24 * 60 * 60; guard++) {
      if (!month!.has(t.getUTCMonth() + 1) || !day!.has(t.getUTCDate()) || !dow!.has(t.getUTCDay())) {
        t.setUTCHours(0, 0, 0, 0);
        t.setUTCDate(t.getUTCDate() + 1);
        continue;
      }
      if (!hour!.has(t.getUTCHours())) {
        t.setUTCMinutes(0, 0, 0);
        t.setUTCHours(t.getUTCHours() + 1);
        continue;
      }
      if (!min!.has(t.getUTCMinutes())) {
        t.setUTCSeconds(0, 0);
        t.setUTCMinutes(t.getUTCMinutes() + 1);
        continue;
      }
      if (!sec!.has(t.getUTCSeconds())) {
        t.setUTCSeconds(t.getUTCSeconds() + 1);
        continue;
      }
      return t;
    }
    throw new Error(`"${expression}" never fires`);
  };
}

/** `%NAME%` in a binding is an app-setting reference, as in function.json and the v4 model. */
export function resolveSettingReference(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') throw new Error(`app setting ${name} is referenced but not set`);
    return resolved;
  });
}
