import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CONTAINERS, cosmosClientFor, ensureCosmos } from '../../shared/cosmos';
import { blobServiceFor, ensureBlobContainers } from '../../shared/storage';

describe('Cosmos adapter on cosmosdb-server', () => {
  const client = cosmosClientFor({ connectionString: inject('cosmosConnection') });
  const databaseId = `adapters-${randomUUID().slice(0, 8)}`;
  afterAll(() => client.dispose());

  it('creates the database and every container with its partition key and TTL on (defaultTtl -1)', async () => {
    await ensureCosmos(client, databaseId);
    const { resources } = await client.database(databaseId).containers.readAll().fetchAll();
    const byId = Object.fromEntries(resources.map((c) => [c.id, c]));
    for (const def of Object.values(CONTAINERS)) {
      expect(byId[def.id]?.partitionKey?.paths).toEqual([def.partitionKey]);
      expect(byId[def.id]?.defaultTtl).toBe(-1);
    }
  });

  it('is idempotent: a second start finds what the first created, documents intact', async () => {
    const first = await ensureCosmos(client, databaseId);
    await first.containers.subjects.items.create({ id: 'contact', pk: 't|447700900123', ttl: 3600 });
    const second = await ensureCosmos(client, databaseId);
    const { resource } = await second.containers.subjects.item('contact', 't|447700900123').read();
    expect(resource).toMatchObject({ id: 'contact', ttl: 3600 });
  });

  it('a transactional batch on the emulator works when every operation names its partition key', async () => {
    const { containers } = await ensureCosmos(client, databaseId);
    const pk = `t|${randomUUID()}`;
    await Promise.all([1, 2, 3].map((n) => containers.subjects.items.create({ id: `d${n}`, pk, ttl: 60 })));
    const response = await containers.subjects.items.batch(
      [1, 2, 3].map((n) => ({ operationType: 'Delete' as const, id: `d${n}`, partitionKey: pk })),
      pk,
    );
    expect(response.result?.map((r) => r.statusCode)).toEqual([204, 204, 204]);
    // cosmosdb-server ignores the partitionKey option of a query: the WHERE clause must name the partition too.
    const { resources } = await containers.subjects.items.query({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk }).fetchAll();
    expect(resources).toEqual([]);
  });

  it("the emulator answers the SDK's query-plan request with a plan as Cosmos DB's gateway does, and queries still return their documents", async () => {
    const { containers } = await ensureCosmos(client, databaseId);
    const endpoint = /AccountEndpoint=([^;]+);/.exec(inject('cosmosConnection'))![1]!.replace(/\/$/, '');
    // The request @azure/cosmos sends beside every query; unsigned here: the plan is answered before any auth or document is read.
    const plan = await fetch(`${endpoint}/dbs/${databaseId}/colls/subjects/docs`, {
      method: 'POST',
      headers: { 'x-ms-cosmos-is-query-plan-request': 'True', 'content-type': 'application/query+json' },
      body: JSON.stringify({ query: 'SELECT c.id FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: 'x' }] }),
    });
    expect(plan.status).toBe(200);
    const body = (await plan.json()) as { queryInfo?: { orderBy?: unknown[] }; queryRanges?: unknown[]; Documents?: unknown };
    expect(body.queryInfo?.orderBy).toEqual([]);
    expect(body.queryRanges).toHaveLength(1);
    expect(body.Documents).toBeUndefined(); // not the query's result: the query itself did not run

    const pk = `t|${randomUUID()}`;
    await Promise.all([1, 2].map((n) => containers.subjects.items.create({ id: `q${n}`, pk, type: 'message', ttl: 60 })));
    const { resources } = await containers.subjects.items.query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.pk = @pk ORDER BY c.id DESC', parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk }).fetchAll();
    expect(resources.map((r) => r.id)).toEqual(['q2', 'q1']);
    const { resources: count } = await containers.subjects.items.query<number>({ query: 'SELECT VALUE COUNT(1) FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }).fetchAll();
    expect(count).toEqual([2]);
  });

  it('a query sent with a partition key sees that partition only, as Cosmos DB routes it; writes, deletes and replaces keep it current, and a cross-partition query still sees all', async () => {
    const { containers } = await ensureCosmos(client, databaseId);
    const [mine, other] = [`t|${randomUUID()}`, `t|${randomUUID()}`];
    await Promise.all([
      ...[1, 2, 3].map((n) => containers.subjects.items.create({ id: `p${n}`, pk: mine, type: 'message', ttl: 60 })),
      containers.subjects.items.create({ id: 'p1', pk: other, type: 'message', ttl: 60 }),
    ]);
    await containers.subjects.item('p2', mine).delete();
    await containers.subjects.item('p3', mine).replace({ id: 'p3', pk: mine, type: 'contact', ttl: 60 });
    await containers.subjects.items.upsert({ id: 'p4', pk: mine, type: 'message', ttl: 60 });
    // No filter on the partition in the query itself: the partition key of the request alone scopes it.
    const inPartition = async (pk: string) =>
      (await containers.subjects.items.query<{ id: string; type: string }>({ query: `SELECT c.id, c.type FROM c WHERE STARTSWITH(c.id, 'p')` }, { partitionKey: pk }).fetchAll()).resources.map((r) => `${r.id}:${r.type}`).sort();
    expect(await inPartition(mine)).toEqual(['p1:message', 'p3:contact', 'p4:message']);
    expect(await inPartition(other)).toEqual(['p1:message']);
    expect(await inPartition(`t|${randomUUID()}`)).toEqual([]);
    const { resources: across } = await containers.subjects.items
      .query<{ pk: string }>({ query: 'SELECT c.pk FROM c WHERE c.pk = @a OR c.pk = @b', parameters: [{ name: '@a', value: mine }, { name: '@b', value: other }] })
      .fetchAll();
    expect(across).toHaveLength(4);
  });
});

describe('Blob adapter on Azurite', () => {
  it('creates the media and exports containers, private, and a second start is harmless', async () => {
    const service = blobServiceFor({ connectionString: inject('blobConnection') });
    await ensureBlobContainers(service);
    const containers = await ensureBlobContainers(service);
    for (const c of Object.values(containers)) {
      const properties = await c.getProperties();
      expect(properties.blobPublicAccess).toBeUndefined();
    }
    const names: string[] = [];
    for await (const c of service.listContainers()) names.push(c.name);
    expect(names).toEqual(expect.arrayContaining(['media', 'exports']));
  });
});
