import { parseArgs } from 'node:util';

/**
 * The one command-line parser of the CLI and the scripts: Node's `util.parseArgs` (no dependency),
 * wrapped once with the project's conventions. A mistake is a UsageError whose message names the flag
 * (`Unknown option '--colour'`, `--tenant needs a value`), and whose exit code is 2; a script prints it
 * with its usage line (`scriptArguments`), the CLI with its own help hint.
 */
export type OptionSpecs = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export type OptionValues<O extends OptionSpecs> = { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean };

/** The exit code of every usage mistake (docs/cli.md: 2 usage). */
export const USAGE_EXIT_CODE = 2;

export class UsageError extends Error {
  readonly exitCode = USAGE_EXIT_CODE;
  constructor(
    message: string,
    /** The option the mistake is about, without dashes, when it is about one. */
    readonly flag?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedCommandLine<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: string[];
}

/** Parses `argv` against `options`; throws a UsageError that names the flag for anything it does not accept. */
export function parseCommandLine<O extends OptionSpecs>(argv: readonly string[], options: O, config: { positionals?: boolean } = {}): ParsedCommandLine<O> {
  // A first, lenient pass gives Node's own tokens, so that each mistake is reported with its flag
  // (strict mode's errors say it in prose only).
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option') {
      const spec = options[token.name];
      if (!spec) throw new UsageError(`Unknown option '${token.rawName}'`, token.name);
      if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
        throw new UsageError(`${token.rawName} needs a value`, token.name);
      }
      if (spec.type === 'boolean' && token.inlineValue) throw new UsageError(`${token.rawName} takes no value`, token.name);
    } else if (token.kind === 'positional' && !config.positionals) {
      throw new UsageError(`unexpected argument "${token.value}"`);
    }
  }
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: config.positionals ?? false, strict: true });
    return { values: parsed.values as OptionValues<O>, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0]!.replace(/\. To specify .*$/, '') : 'bad arguments');
  }
}

export interface ScriptIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * The scripts' convention around parseCommandLine: `--help` (or `-h`) prints the usage and exits 0; a
 * mistake prints itself and the usage on stderr and exits 2. Returns the values, or the exit code to
 * return at once.
 */
export function scriptArguments<O extends OptionSpecs>(argv: readonly string[], options: O, usage: string, io: ScriptIo): { values: OptionValues<O> } | { exitCode: number } {
  let parsed: ParsedCommandLine<O & { help: { type: 'boolean'; short: 'h' } }>;
  try {
    parsed = parseCommandLine(argv, { ...options, help: { type: 'boolean', short: 'h' } });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\n${usage}`);
    return { exitCode: error.exitCode };
  }
  if (parsed.values.help) {
    io.out(usage);
    return { exitCode: 0 };
  }
  const { help: _help, ...values } = parsed.values;
  return { values: values as OptionValues<O> };
}
