/** How the figures read in the CLI table and the HTML report: one formatting for both. */

/** 0.75 → "75%", 0.999 → "99.9%", 1/3 → "33.3%"; null → "–". */
export function percent(value: number | null): string {
  if (value === null) return '–';
  const p = value * 100;
  return `${parseFloat(p.toFixed(p >= 99 && p < 100 ? 2 : 1))}%`;
}

/** Milliseconds as a person reads them: "850 ms", "2.5 s", "1.5 min", "3.2 h", "33 days". */
export function duration(ms: number | null): string {
  if (ms === null) return '–';
  const fixed = (v: number, digits: number) => parseFloat(v.toFixed(digits)).toString();
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${fixed(ms / 1000, 2)} s`;
  if (ms < 3_600_000) return `${fixed(ms / 60_000, 1)} min`;
  if (ms < 86_400_000) return `${fixed(ms / 3_600_000, 1)} h`;
  return `${fixed(ms / 86_400_000, 1)} days`;
}

/** The trust coefficient as "20:1"; without deletion requests it is unbounded. */
export function ratio(value: number | null, flows: number): string {
  if (value === null) return flows > 0 ? '∞:1 (no deletions)' : '–';
  return `${parseFloat(value.toFixed(1))}:1`;
}
