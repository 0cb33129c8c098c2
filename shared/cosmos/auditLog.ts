import type { Container } from '@azure/cosmos';
import { isConflict } from './cosmosStore';
import type { AuditEvent, AuditEventInput, AuditLog } from '../audit/auditLog';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';

/** Audit events in Cosmos (`audit`, partition `/tenantId`), created with `ttl: -1`. */
export class CosmosAuditLog implements AuditLog {
  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
  ) {}

  async record(input: AuditEventInput): Promise<AuditEvent> {
    const { idempotencyKey, ...fields } = input;
    const event: AuditEvent = { id: idempotencyKey ?? randomUUID(), at: this.clock.now().toISOString(), actor: input.actor ?? 'system', ...fields };
    try {
      // Audit events are kept (CCPA: request records at least 24 months); ttl -1 keeps them until policy says otherwise.
      await this.container.items.create({ ...event, ttl: -1 });
    } catch (error) {
      if (!(idempotencyKey && isConflict(error))) throw error;
    }
    return event;
  }

  /** Events of one tenant in [from, to), oldest first. */
  async query(tenantId: TenantId, from: Date, to: Date, options: { type?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const parameters = [
      { name: '@tenantId', value: tenantId },
      { name: '@from', value: from.toISOString() },
      { name: '@to', value: to.toISOString() },
      ...(options.type ? [{ name: '@type', value: options.type }] : []),
    ];
    const { resources } = await this.container.items
      .query<AuditEvent & { _rid?: string }>(
        {
          query: `SELECT * FROM c WHERE c.tenantId = @tenantId AND c.at >= @from AND c.at < @to${options.type ? ' AND c.type = @type' : ''} ORDER BY c.at ASC`,
          parameters,
        },
        { partitionKey: tenantId },
      )
      .fetchAll();
    return resources.slice(0, options.limit ?? 1000).map(({ id, at, tenantId: t, type, subjectHash, requestId, actor, details }) => ({
      id,
      at,
      tenantId: t,
      type,
      ...(subjectHash ? { subjectHash } : {}),
      ...(requestId ? { requestId } : {}),
      ...(actor ? { actor } : {}),
      ...(details ? { details } : {}),
    }));
  }
}
