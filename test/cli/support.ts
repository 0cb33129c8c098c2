import { readFile, writeFile } from 'node:fs/promises';
import { main, type CliIo } from '../../cli/main';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything every CLI run printed in this test file: swept for personal data at the end. */
export const printed: string[] = [];

/**
 * Runs the CLI's `main` in-process against a host, capturing stdout, stderr and the exit code, as a
 * shell would see them (no TTY unless asked: no progress indicator).
 */
export async function cli(url: string, args: string[], io: Partial<CliIo> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args.includes('--url') ? args : [...args, '--url', url], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stderrIsTTY: false,
    env: {},
    fetch: globalThis.fetch,
    readFile: (path) => readFile(path, 'utf8'),
    writeFile: (path, content) => writeFile(path, content, 'utf8'),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
    ...io,
  });
  printed.push(stdout, stderr);
  return { code, stdout, stderr };
}
