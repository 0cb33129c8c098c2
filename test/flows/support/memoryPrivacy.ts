import { randomUUID } from 'node:crypto';
import type { SubjectIdentifier, TenantId } from '../../../shared/domain';
import type { HeldDataView, PrivacyCentrePort, RequestView, TenantView } from '../../../shared/flows';

/** An in-memory Privacy Centre port: what the flow handler sees of the privacy use cases. */
export class MemoryPrivacy implements PrivacyCentrePort {
  readonly tenants = new Map<string, TenantView>();
  readonly held = new Map<string, HeldDataView>();
  readonly created: (Parameters<PrivacyCentrePort['createRequest']>[0] & { id: string })[] = [];
  private readonly byKey = new Map<string, RequestView[]>();
  failWith: Error | undefined;

  constructor(private readonly now: () => Date = () => new Date('2026-01-05T10:00:00Z')) {}

  addTenant(tenantId: string, view: Partial<TenantView> = {}): void {
    this.tenants.set(tenantId, {
      name: 'Acme Lettings',
      retention: { contactDays: 365, flowResponseDays: 90, messageDays: 30, mediaDays: 30 },
      usesHubspot: false,
      ...view,
    });
  }

  async tenant(tenantId: TenantId): Promise<TenantView | undefined> {
    this.fail();
    return this.tenants.get(tenantId);
  }

  async heldData(tenantId: TenantId, subject: SubjectIdentifier): Promise<HeldDataView> {
    this.fail();
    return (
      this.held.get(`${tenantId}|${subject.value}`) ?? {
        contact: { firstSeenAt: '2026-01-03T09:00:00Z', lastSeenAt: '2026-01-05T09:00:00Z', hasProfileName: true },
        flowResponses: 2,
        messages: 0,
        media: 1,
        marketing: 'opted_in',
        restricted: false,
      }
    );
  }

  async requests(tenantId: TenantId, subject: SubjectIdentifier): Promise<RequestView[]> {
    this.fail();
    return [...(this.byKey.get(`${tenantId}|${subject.value}`) ?? [])];
  }

  async createRequest(input: Parameters<PrivacyCentrePort['createRequest']>[0]): Promise<RequestView> {
    this.fail();
    const id = randomUUID();
    this.created.push({ ...input, id });
    const view: RequestView = {
      id,
      type: input.type,
      scope: input.scope,
      status: 'received',
      receivedAt: this.now().toISOString(),
      dueAt: new Date(this.now().getTime() + 30 * 86_400_000).toISOString(),
    };
    const key = `${input.tenantId}|${input.subject.value}`;
    this.byKey.set(key, [view, ...(this.byKey.get(key) ?? [])]);
    return view;
  }

  complete(id: string): void {
    for (const list of this.byKey.values()) for (const r of list) if (r.id === id) Object.assign(r, { status: 'completed', completedAt: this.now().toISOString() });
  }

  private fail(): void {
    if (this.failWith) throw this.failWith;
  }
}
