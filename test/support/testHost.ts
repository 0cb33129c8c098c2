import { startLocalHost, type LocalHost } from '../../local/host';
import { useServices, type ServiceOverrides } from '../../shared/runtime';
import type { InProcessQueue } from '../../shared/queue';
import { testServices, type TestServices } from './testServices';

export interface TestHost {
  host: LocalHost;
  services: TestServices;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/**
 * The local host in this test process, on the real emulators, as `npm start` runs it: settings in the
 * environment, the function files loaded through their own `app.*` registrations. Every log line the
 * functions write is captured, so tests can sweep logs for personal data.
 */
export async function startTestHost(
  extra: Record<string, string | undefined> = {},
  overrides: ServiceOverrides & { queue?: InProcessQueue } = {},
): Promise<TestHost> {
  const services = await testServices(extra, overrides);
  Object.assign(process.env, services.env);
  useServices(services);
  const logs: string[] = [];
  const host = await startLocalHost({
    services,
    port: 0,
    runTimers: false,
    log: (line) => logs.push(line),
  });
  return {
    host,
    services,
    url: host.url,
    logs,
    close: async () => {
      await host.close();
      await services.close();
    },
  };
}
