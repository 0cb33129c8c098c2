import { describe, expect, it } from 'vitest';
import { parseCommandLine, scriptArguments, UsageError, USAGE_EXIT_CODE } from '../../cli/args';

const options = { tenant: { type: 'string' }, json: { type: 'boolean' }, limit: { type: 'string' } } as const;

function mistake(argv: string[], config: { positionals?: boolean } = {}): UsageError {
  try {
    parseCommandLine(argv, options, config);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('the one argument parser', () => {
  it('reads options in every form util.parseArgs knows, and positionals when the command takes them', () => {
    expect(parseCommandLine(['tenants', 'show', 'acme', '--json', '--tenant=acme', '--limit', '5'], options, { positionals: true })).toEqual({
      values: { json: true, tenant: 'acme', limit: '5' },
      positionals: ['tenants', 'show', 'acme'],
    });
    expect(parseCommandLine(['--tenant', 'a b'], options).values).toEqual({ tenant: 'a b' });
  });

  it('every mistake is a usage error (exit code 2) whose message names the flag', () => {
    expect(mistake(['--colour'])).toMatchObject({ message: "Unknown option '--colour'", flag: 'colour', exitCode: USAGE_EXIT_CODE });
    expect(mistake(['-x'])).toMatchObject({ message: "Unknown option '-x'", flag: 'x' });
    expect(mistake(['--tenant'])).toMatchObject({ message: '--tenant needs a value', flag: 'tenant' });
    expect(mistake(['--tenant', '--json'])).toMatchObject({ message: '--tenant needs a value', flag: 'tenant' });
    expect(mistake(['--json=yes'])).toMatchObject({ message: '--json takes no value', flag: 'json' });
    expect(mistake(['acme'])).toMatchObject({ message: 'unexpected argument "acme"' });
    expect(USAGE_EXIT_CODE).toBe(2);
  });

  it('a value that starts with a dash can still be given inline', () => {
    expect(parseCommandLine(['--limit=-5'], options).values).toEqual({ limit: '-5' });
  });
});

describe("the scripts' convention", () => {
  const USAGE = 'usage: npm run something -- [--tenant <id>]';
  function run(argv: string[]) {
    const io = { out: [] as string[], err: [] as string[] };
    const result = scriptArguments(argv, { tenant: { type: 'string' } }, USAGE, { out: (l) => io.out.push(l), err: (l) => io.err.push(l) });
    return { result, ...io };
  }

  it('--help (or -h) prints the usage on stdout and exits 0', () => {
    expect(run(['--help'])).toEqual({ result: { exitCode: 0 }, out: [USAGE], err: [] });
    expect(run(['-h']).result).toEqual({ exitCode: 0 });
  });

  it('a mistake prints itself and the usage on stderr and exits 2', () => {
    expect(run(['--tenant'])).toEqual({ result: { exitCode: 2 }, out: [], err: [`--tenant needs a value\n${USAGE}`] });
  });

  it('otherwise gives the values, without help', () => {
    expect(run(['--tenant', 'acme'])).toEqual({ result: { values: { tenant: 'acme' } }, out: [], err: [] });
  });
});
