import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The environment as `func start` builds it: `local.settings.json` (its `Values`) when present, else
 * `local.settings.example.json`; real environment variables win over both.
 */
export function localEnvironment(
  projectDir: string,
  env: Record<string, string | undefined> = process.env,
): { values: Record<string, string | undefined>; source: string } {
  const candidates = ['local.settings.json', 'local.settings.example.json'];
  for (const name of candidates) {
    const path = join(projectDir, name);
    if (!existsSync(path)) continue;
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> };
    const fileValues = Object.fromEntries(
      Object.entries(parsed.Values ?? {}).map(([key, value]) => [key, value === null ? undefined : String(value)]),
    );
    return { values: { ...fileValues, ...definedOnly(env) }, source: name };
  }
  return { values: { ...definedOnly(env) }, source: 'environment' };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
