import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** The well-known keys of the local emulators (public, documented; never used outside loopback). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const COSMOS_EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface RunningEmulator {
  name: string;
  port: number;
  connectionString: string;
  stop(): Promise<void>;
}

export async function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const chosen = (server.address() as { port: number }).port;
        server.close(() => resolve(chosen));
      });
    });
  if (preferred !== undefined) {
    const port = await tryPort(preferred);
    if (port !== undefined) return port;
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

function packageBin(pkg: string, bin: string): string {
  const packageJson = require.resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as { bin: Record<string, string> };
  const relative = manifest.bin[bin];
  if (!relative) throw new Error(`${pkg} has no bin ${bin}`);
  return join(dirname(packageJson), relative);
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
}

/** Azurite's blob service on loopback; data under `location` unless in memory. Telemetry off: no traffic out. */
export async function startAzurite(options: { port?: number; location?: string; inMemory?: boolean } = {}): Promise<RunningEmulator> {
  const port = await freePort(options.port);
  const args = [packageBin('azurite', 'azurite-blob'), '--blobHost', '127.0.0.1', '--blobPort', String(port), '--loose', '--skipApiVersionCheck', '--disableTelemetry', '--silent'];
  if (options.inMemory ?? !options.location) args.push('--inMemoryPersistence');
  else {
    mkdirSync(options.location!, { recursive: true });
    args.push('--location', options.location!);
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port, child, 'Azurite');
  return {
    name: 'azurite',
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`,
    stop: stopper(child),
  };
}

/**
 * What Cosmos DB's gateway answers to a query-plan request for a plain query (no ORDER BY across
 * partitions, aggregates or DISTINCT that the client would have to merge): the whole key range.
 */
const PLAIN_QUERY_PLAN = {
  partitionedQueryExecutionInfoVersion: 2,
  queryInfo: { distinctType: 'None', top: null, offset: null, limit: null, orderBy: [], orderByExpressions: [], groupByExpressions: [], groupByAliases: [], aggregates: [], groupByAliasToAggregateType: {}, rewrittenQuery: '', hasSelectValue: false, dCountInfo: null, hasNonStreamingOrderBy: false },
  queryRanges: [{ min: '', max: 'FF', isMinInclusive: true, isMaxInclusive: false }],
};

/**
 * Runs inside the emulator's process (see startCosmosServer): keeps, per container, the document ids of
 * each partition (string partition keys), and runs a query that names one partition over that
 * partition's documents only. Everything else (cross-partition queries, reads, writes) is untouched.
 */
const PARTITION_SCOPED_QUERIES = `
const queryPartition = new AsyncLocalStorage();
function onePartition(header) {
  try {
    const value = JSON.parse(String(header));
    return Array.isArray(value) && value.length === 1 && typeof value[0] === 'string' ? value[0] : undefined;
  } catch { return undefined; }
}
function scopeQueriesToPartitions(Items, scope) {
  const ridsOf = (items, key) => {
    if (!items.ridsByPartition) items.ridsByPartition = new Map();
    let rids = items.ridsByPartition.get(key);
    if (!rids) items.ridsByPartition.set(key, (rids = new Set()));
    return rids;
  };
  const set = Items.prototype._set;
  Items.prototype._set = function (data) {
    const stored = set.call(this, data);
    const key = this._getPartition(data);
    if (typeof key === 'string') ridsOf(this, key).add(data._rid);
    return stored;
  };
  const remove = Items.prototype.delete;
  Items.prototype.delete = function (idOrRid, partition) {
    const existing = this._item('/id', idOrRid, partition).read();
    const result = remove.call(this, idOrRid, partition);
    const key = existing && this._getPartition(existing);
    if (typeof key === 'string') ridsOf(this, key).delete(existing._rid);
    return result;
  };
  const query = Items.prototype.query;
  Items.prototype.query = function (params, options) {
    const key = scope.getStore();
    if (typeof key !== 'string' || !this._parent.read()) return query.call(this, params, options);
    const data = [];
    for (const rid of ridsOf(this, key)) {
      const item = this._data.get(rid);
      if (item) data.push(item.read());
    }
    const parent = this._parent.read();
    const compositeIndexes = (parent.indexingPolicy ? parent.indexingPolicy.compositeIndexes : null) || [];
    try {
      return this._getQuery(params.query).exec(data, { parameters: params.parameters, udf: this._userDefinedFunctions(), maxItemCount: options.maxItemCount, continuation: options.continuation, compositeIndexes });
    } catch (err) {
      err.badRequest = true;
      throw err;
    }
  };
}`;

/**
 * `@vercel/cosmosdb-server` over plain HTTP on loopback. It keeps data in memory only, ignores TTL, and
 * its transactional batches are not atomic (see README): tests assert the `ttl` written, not expiry.
 *
 * Three differences from its defaults, all towards what Cosmos DB does: connections are kept alive;
 * the query-plan request that @azure/cosmos 4 sends beside every query (`x-ms-cosmos-is-query-plan-request`)
 * is answered with a plan instead of running the query a second time over every document of the
 * container (the emulator has no index, so each query reads the whole container; the SDK only consults
 * the plan when the server rejects a query as needing one, which this emulator never does); and a query
 * sent with a partition key (`x-ms-documentdb-partitionkey`) reads that partition only, as Cosmos DB
 * routes it to the one partition ("Query an Azure Cosmos DB container", in-partition queries), where the
 * emulator ran it over every document of the container. The last one kept an erasure's cost growing
 * with every other subject's documents, which Cosmos DB does not do (its bench and test figures
 * measured the emulator's scan, not our code).
 */
export async function startCosmosServer(options: { port?: number } = {}): Promise<RunningEmulator> {
  const port = await freePort(options.port);
  const serverModule = require.resolve('@vercel/cosmosdb-server');
  const itemsModule = join(dirname(serverModule), 'account', 'items.js');
  const script = `const { createHttpServer } = require(${JSON.stringify(serverModule)});
const { AsyncLocalStorage } = require('node:async_hooks');
${PARTITION_SCOPED_QUERIES}
const Items = require(${JSON.stringify(itemsModule)}).default;
scopeQueriesToPartitions(Items, queryPartition);
const server = createHttpServer({ keepAlive: true });
const [serve] = server.listeners('request');
const plan = ${JSON.stringify(JSON.stringify(PLAIN_QUERY_PLAN))};
server.removeAllListeners('request');
server.on('request', (req, res) => {
  if (String(req.headers['x-ms-cosmos-is-query-plan-request']).toLowerCase() !== 'true') {
    const partition = String(req.headers['x-ms-documentdb-isquery']).toLowerCase() === 'true' ? onePartition(req.headers['x-ms-documentdb-partitionkey']) : undefined;
    return partition === undefined ? serve(req, res) : queryPartition.run(partition, () => serve(req, res));
  }
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'x-ms-request-charge': '0' }).end(plan));
});
server.listen(${port}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port, child, 'cosmosdb-server');
  return {
    name: 'cosmosdb-server',
    port,
    connectionString: `AccountEndpoint=http://127.0.0.1:${port}/;AccountKey=${COSMOS_EMULATOR_KEY};`,
    stop: stopper(child),
  };
}
