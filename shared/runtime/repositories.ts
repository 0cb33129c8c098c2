import { AuditLog } from '../audit/auditLog';
import { MarkerStore } from '../markers/markerStore';
import { TenantRepository } from '../tenants/tenantRepository';
import type { Services } from './services';

/** The repositories over the Cosmos containers, built once per Services (they hold small caches). */
export interface Repositories {
  tenants: TenantRepository;
  audit: AuditLog;
  markers: MarkerStore;
}

const built = new WeakMap<Services, Repositories>();

export function repositoriesOf(services: Services): Repositories {
  let repositories = built.get(services);
  if (!repositories) {
    repositories = {
      tenants: new TenantRepository(services.cosmos.tenants, services.clock),
      audit: new AuditLog(services.cosmos.audit, services.clock),
      markers: new MarkerStore(services.cosmos.markers, services.clock),
    };
    built.set(services, repositories);
  }
  return repositories;
}
