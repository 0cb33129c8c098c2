import type { z } from 'zod';
import { CliError, EXIT, usageError, type ApiClient } from './api';
import type { Output } from './output';

/** What the CLI needs from the outside world: injected, so tests run `main` in-process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  /** DefaultAzureCredential by default; tests pass their own. */
  credential?: () => Promise<{ getToken(scope: string): Promise<{ token: string } | null> }>;
  readFile: (path: string) => Promise<string>;
  writeFile: (path: string, content: string) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
}

export type Values = Record<string, string | boolean | undefined>;

export interface Context {
  api: ApiClient;
  out: Output;
  io: CliIo;
  values: Values;
  args: string[];
}

export interface Command {
  /** The words that name it: ['tenants', 'list']. */
  words: string[];
  /** Positional arguments after the words, by name: ['id']. */
  args: string[];
  /** Options besides the global ones. */
  options: string[];
  /** Options without which it cannot run. */
  required?: string[];
  summary: string;
  run(ctx: Context): Promise<number>;
}

/** An option's string value (undefined when absent). */
export function text(ctx: Context, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredText(ctx: Context, name: string): string {
  const value = text(ctx, name);
  if (value === undefined || value.trim() === '') throw usageError(`--${name} is required`, name);
  return value.trim();
}

/** A whole number option within bounds. */
export function integer(ctx: Context, name: string, min: number, max: number): number | undefined {
  const value = text(ctx, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) throw usageError(`--${name} must be a whole number from ${min} to ${max}`, name);
  return Number(value);
}

/** The API's answer, parsed: an answer of another shape is an API error, not a crash. */
export function parse<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`unexpected answer from the API for ${what} (${issue ? `${issue.path.join('.')} ${issue.message}` : 'invalid'}): is the CLI the same version as the app?`, EXIT.api);
  }
  return parsed.data;
}

/** 2026-01-31T10:00:00.000Z → 2026-01-31 10:00:00 */
export function when(iso: string | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
}
