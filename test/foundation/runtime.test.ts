import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Azure Functions runs Flowkeeper on Node.js 22 (Node 20 left support on 30 April 2026: "Supported
 * languages in Azure Functions", learn.microsoft.com/azure/azure-functions/supported-languages, updated
 * 2026-05). The tests run on the same major, whatever the machine's own Node is: package.json's optional
 * `node-<platform>` dependency puts a Node 22 binary first on the npm scripts' PATH.
 */
describe('the runtime', () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
    engines: { node: string };
    optionalDependencies: Record<string, string>;
  };

  it('the tests run on Node.js 22, the major the function app is deployed on', () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
    expect(manifest.engines.node).toBe('22.x');
  });

  it('every pinned Node binary package is the same 22.x release', () => {
    const versions = new Set(Object.entries(manifest.optionalDependencies).filter(([name]) => name.startsWith('node-')).map(([, v]) => v));
    expect(versions.size).toBe(1);
    expect([...versions][0]).toMatch(/^22\.\d+\.\d+$/);
  });
});
