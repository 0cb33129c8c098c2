import { readFile, writeFile } from 'node:fs/promises';
import { ApiClient, CliError, EXIT, isLoopback, usageError, type Auth } from './api';
import { parseCommandLine, UsageError, type OptionSpecs } from './args';
import { drillCommands } from './commands/drills';
import { metricsCommands } from './commands/metrics';
import { operationsCommands } from './commands/operations';
import { requestCommands } from './commands/requests';
import { tenantCommands } from './commands/tenants';
import { identityCommands } from './commands/identity';
import { tombstoneCommands } from './commands/tombstones';
import type { CliIo, Command, Values } from './context';
import { Output } from './output';

export { EXIT } from './api';
export type { CliIo } from './context';

export const DEFAULT_URL = 'http://127.0.0.1:7071';

export const COMMANDS: Command[] = [...tenantCommands, ...requestCommands, ...identityCommands, ...operationsCommands, ...drillCommands, ...tombstoneCommands, ...metricsCommands];

const GLOBAL_OPTIONS = ['url', 'client-id', 'auth', 'json', 'help'];

const OPTIONS = {
  url: { type: 'string' },
  'client-id': { type: 'string' },
  auth: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  tenant: { type: 'string' },
  type: { type: 'string' },
  'wa-id': { type: 'string' },
  'user-id': { type: 'string' },
  'dry-run': { type: 'boolean' },
  scope: { type: 'string' },
  'profile-name': { type: 'string' },
  status: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  out: { type: 'string' },
  file: { type: 'string' },
  limit: { type: 'string' },
  max: { type: 'string' },
  queue: { type: 'string' },
  yes: { type: 'boolean' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
} satisfies OptionSpecs;

/**
 * `flowkeeper <command> [options]`: the operator CLI over the admin API. Returns the exit code
 * (docs/cli.md); never throws and never calls process.exit, so tests run it in-process.
 */
export async function main(argv: readonly string[], io: CliIo = nodeIo()): Promise<number> {
  const wantsJson = argv.includes('--json');
  const out = new Output(io, wantsJson);
  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseCommandLine(argv, OPTIONS, { positionals: true });
    } catch (error) {
      if (error instanceof UsageError) throw usageError(error.message, error.flag);
      throw error;
    }
    const { values, positionals } = parsed;
    const command = COMMANDS.find((c) => c.words.every((w, i) => positionals[i] === w));
    if (values.help === true || positionals.length === 0) {
      out.line(command ? commandHelp(command) : usage());
      return positionals.length === 0 && values.help !== true ? EXIT.usage : EXIT.ok;
    }
    if (!command) {
      const group = COMMANDS.filter((c) => c.words[0] === positionals[0]);
      throw usageError(
        group.length > 0
          ? `unknown command "${positionals.join(' ')}": try ${group.map((c) => `"${c.words.join(' ')}"`).join(', ')}`
          : `unknown command "${positionals[0]}" (flowkeeper --help lists the commands)`,
      );
    }
    const args = positionals.slice(command.words.length);
    if (args.length < command.args.length) throw usageError(`${command.words.join(' ')} needs ${command.args.map((a) => `<${a}>`).join(' ')}`, command.args[args.length]);
    if (args.length > command.args.length) throw usageError(`unexpected argument "${args[command.args.length]}" for ${command.words.join(' ')}`);
    for (const name of Object.keys(values)) {
      if (!GLOBAL_OPTIONS.includes(name) && !command.options.includes(name)) throw usageError(`--${name} is not an option of ${command.words.join(' ')}`, name);
    }
    for (const name of command.required ?? []) {
      const value = values[name];
      if (value === undefined || (typeof value === 'string' && value.trim() === '')) throw usageError(`--${name} is required for ${command.words.join(' ')}`, name);
    }

    const api = new ApiClient(baseUrlOf(values, io), authOf(values, io), io.fetch);
    return await command.run({ api, out, io, values, args });
  } catch (error) {
    const cliError = error instanceof CliError ? error : new CliError(`unexpected error (${error instanceof Error ? error.name : 'error'})`, EXIT.api);
    if (wantsJson) {
      out.error(JSON.stringify({ error: { message: cliError.message, ...(cliError.field ? { field: cliError.field } : {}), ...(cliError.status ? { status: cliError.status } : {}), exitCode: cliError.exitCode } }));
    } else {
      out.error(`error: ${cliError.message}${cliError.field && !cliError.message.includes(cliError.field) ? ` (field: ${cliError.field})` : ''}`);
      if (cliError.exitCode === EXIT.usage) out.error('flowkeeper --help lists the commands and options');
    }
    return cliError.exitCode;
  }
}

function baseUrlOf(values: Values, io: CliIo): string {
  const raw = typeof values.url === 'string' ? values.url : (io.env.FLOWKEEPER_URL ?? DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--url must be an http(s) URL such as https://<app>.azurewebsites.net`, 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError('--url must be an http(s) URL', 'url');
  if (url.protocol === 'http:' && !isLoopback(url.toString())) throw usageError('--url must use https for a deployed app (http only on this machine)', 'url');
  return url.origin;
}

/**
 * The local host trusts a dev principal (LOCAL_DEV_AUTH=true); a deployed app wants an Entra ID token
 * for its app registration: `api://<client-id>/.default` from DefaultAzureCredential.
 */
function authOf(values: Values, io: CliIo): Auth {
  const url = typeof values.url === 'string' ? values.url : (io.env.FLOWKEEPER_URL ?? DEFAULT_URL);
  const mode = typeof values.auth === 'string' ? values.auth : isLoopback(url) ? 'dev' : 'entra';
  if (mode === 'dev') return { kind: 'dev', objectId: io.env.FLOWKEEPER_OBJECT_ID ?? 'flowkeeper-cli' };
  if (mode !== 'entra') throw usageError('--auth must be dev or entra', 'auth');
  const clientId = typeof values['client-id'] === 'string' ? values['client-id'] : io.env.FLOWKEEPER_CLIENT_ID;
  if (!clientId) throw usageError('a deployed app needs --client-id <app registration client id> (or FLOWKEEPER_CLIENT_ID)', 'client-id');
  return {
    kind: 'entra',
    scope: `api://${clientId}/.default`,
    credential:
      io.credential ??
      (async () => {
        const { DefaultAzureCredential } = await import('@azure/identity');
        return new DefaultAzureCredential();
      }),
  };
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => signature(c).length));
  return [
    'flowkeeper: the Flowkeeper operator CLI (the admin API, locally or in Azure)',
    '',
    'Usage: flowkeeper <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${signature(c).padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    `  --url <url>         the app (default $FLOWKEEPER_URL or ${DEFAULT_URL}, the local host)`,
    '  --client-id <id>    app registration of a deployed app (or $FLOWKEEPER_CLIENT_ID): token from DefaultAzureCredential',
    '  --auth dev|entra    dev: x-ms-client-principal with Flowkeeper.Admin (needs LOCAL_DEV_AUTH=true); default dev on this machine, entra elsewhere',
    '  --json              machine-readable output (errors as JSON on stderr), no progress indicator',
    '  -h, --help          this help, or a command\'s',
    '',
    'Exit codes: 0 ok, 1 the API refused, 2 usage, 3 not found, 4 authentication, 5 unreachable, 6 not finished (purge blocked or timed out)',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const extra = c.options.length > 0 ? `\nOptions: ${c.options.map((o) => `--${o}`).join(' ')}${c.required?.length ? ` (required: ${c.required.map((o) => `--${o}`).join(' ')})` : ''}` : '';
  return `flowkeeper ${signature(c)}\n\n${c.summary}${extra}\n\nAlso: --url, --client-id, --auth, --json (flowkeeper --help)`;
}

function signature(c: Command): string {
  return [...c.words, ...c.args.map((a) => `<${a}>`)].join(' ');
}

/** The real world: process streams, the environment, global fetch, the file system. */
export function nodeIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
    fetch: globalThis.fetch,
    readFile: (path) => readFile(path, 'utf8'),
    writeFile: (path, content) => writeFile(path, content, 'utf8'),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
  };
}
