#!/usr/bin/env node
/**
 * The `flowkeeper` command (package.json `bin`): `npx flowkeeper <command>` after `npm run build`.
 * Everything is in ./main.ts; this file only runs it and sets the exit code (docs/cli.md).
 */
import { main, nodeIo } from './main';

void main(process.argv.slice(2), nodeIo()).then((code) => {
  process.exitCode = code;
});
