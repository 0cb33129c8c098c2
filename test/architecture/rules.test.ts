import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The architecture rules (.dependency-cruiser.cjs, the picture of functions → use cases → ports ←
 * adapters) hold for the code, and fail on a wrong import: each fixture below is written into the real
 * tree for the length of one cruise (the rules are about paths, and an SDK must resolve from
 * node_modules as the code's own imports do), then removed.
 */
const ROOT = join(__dirname, '..', '..');
const SOURCES = ['functions', 'shared', 'local', 'cli', 'bench', 'scripts'];

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function cruiseWithRules(paths: string[]): Promise<Violation[]> {
  const [{ cruise }, { default: extractDepcruiseOptions }, { default: extractTSConfig }] = await Promise.all([
    import('dependency-cruiser'),
    import('dependency-cruiser/config-utl/extract-depcruise-options'),
    import('dependency-cruiser/config-utl/extract-ts-config'),
  ]);
  const cwd = process.cwd();
  process.chdir(ROOT); // the rules' paths are relative to the repository
  try {
    const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
    const tsConfig = extractTSConfig(join(ROOT, 'tsconfig.json'));
    const result = await cruise(paths, { ...options, validate: true }, undefined, { tsConfig });
    if (typeof result.output === 'string') throw new Error('dependency-cruiser returned text, not a result');
    return result.output.summary.violations.map((v) => ({ rule: { name: v.rule.name }, from: v.from, to: v.to }));
  } finally {
    process.chdir(cwd);
  }
}

/** Writes `source` at `path` (relative to the repository), cruises just that file, and removes it. */
async function violationsOf(path: string, source: string): Promise<Violation[]> {
  const file = join(ROOT, path);
  writeFileSync(file, source);
  try {
    return await cruiseWithRules([path]);
  } finally {
    rmSync(file, { force: true });
  }
}

const fixtureName = () => `arch-fixture-${randomUUID().slice(0, 8)}.ts`;

describe('the architecture rules', () => {
  it('hold for the code as it is', async () => {
    expect(await cruiseWithRules(SOURCES)).toEqual([]);
  });

  it('fail on a privacy use case that imports the Cosmos SDK, naming the rules', async () => {
    const path = `shared/privacy/${fixtureName()}`;
    const violations = await violationsOf(path, "import { CosmosClient } from '@azure/cosmos';\nexport const client = CosmosClient;\n");
    expect(violations.map((v) => v.rule.name).sort()).toEqual(['privacy-core-no-azure-sdk', 'sdks-only-in-adapters']);
    expect(violations.every((v) => v.from === path && v.to.startsWith('node_modules/@azure/cosmos/'))).toBe(true);
  });

  it('fail on a function that builds an adapter itself', async () => {
    const path = `functions/${fixtureName()}`;
    const violations = await violationsOf(path, "import { CosmosAuditLog } from '../shared/cosmos/auditLog';\nexport const audit = CosmosAuditLog;\n");
    expect(violations).toEqual([{ rule: { name: 'functions-translate-only' }, from: path, to: 'shared/cosmos/auditLog.ts' }]);
  });

  it('fail on a use case that reaches for an adapter or the composition root instead of a port', async () => {
    const path = `shared/whatsapp/${fixtureName()}`;
    const violations = await violationsOf(
      path,
      "import { CosmosMarkerStore } from '../cosmos/markerStore';\nimport { compositionRoot } from '../runtime/compositionRoot';\nexport const parts = [CosmosMarkerStore, compositionRoot];\n",
    );
    expect(violations.map((v) => `${v.rule.name} ${v.to}`).sort()).toEqual([
      'core-owns-its-ports shared/cosmos/markerStore.ts',
      'only-entry-points-know-the-root shared/runtime/compositionRoot.ts',
    ]);
  });

  it('fail on shared code that imports a test double', async () => {
    const path = `shared/markers/${fixtureName()}`;
    const violations = await violationsOf(path, "import { InMemoryMarkers } from '../../test/doubles/stores';\nexport const markers = InMemoryMarkers;\n");
    expect(violations.map((v) => v.rule.name)).toEqual(['shared-is-the-application']);
  });
});
