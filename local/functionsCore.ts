import Module from 'node:module';

/**
 * The local host's stand-in for `@azure/functions-core`, the module the Functions worker supplies.
 * `@azure/functions` v4 registers every `app.http` / `app.serviceBusQueue` / `app.timer` call through it
 * (library source: src/app.ts, src/utils/tryGetCoreApiLazy.ts), so the function files stay the single
 * source of routes, queues and schedules for both hosts.
 */
export interface BindingMetadata {
  type: string;
  direction?: string;
  name?: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  queueName?: string;
  connection?: string;
  schedule?: string;
  [key: string]: unknown;
}

export interface Registration {
  name: string;
  trigger: BindingMetadata;
  handler: (...args: unknown[]) => unknown;
}

interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
}

const CORE_MODULE = '@azure/functions-core';
const registrations: Registration[] = [];
let installed = false;

export function installFunctionsCore(): Registration[] {
  if (installed) return registrations;
  installed = true;
  const core = {
    setProgrammingModel(): void {},
    getProgrammingModel(): undefined {
      return undefined;
    },
    registerFunction(metadata: CoreFunctionMetadata, handler: (...args: unknown[]) => unknown) {
      const trigger = Object.values(metadata.bindings).find((b) => /trigger$/i.test(b.type));
      if (!trigger) throw new Error(`Function ${metadata.name} has no trigger binding`);
      registrations.push({ name: metadata.name, trigger, handler });
      return { dispose: () => registrations.splice(registrations.findIndex((r) => r.name === metadata.name), 1) };
    },
    registerHook() {
      return { dispose(): void {} };
    },
    log(): void {},
  };
  // Resolve the name to a cache key of our own, and put the stand-in in the require cache under it.
  const moduleWithInternals = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const resolve = moduleWithInternals._resolveFilename;
  moduleWithInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
    if (request === CORE_MODULE) return CORE_MODULE;
    return resolve.call(this, request, ...rest);
  };
  const fake = new Module(CORE_MODULE);
  fake.exports = core;
  fake.loaded = true;
  moduleWithInternals._cache[CORE_MODULE] = fake;
  return registrations;
}
