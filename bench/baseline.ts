import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import pg from 'pg';
import { ensureDatabase } from '../src/infra/db';
import {
  benchDatabaseUrl,
  benchLog,
  benchRedisUrl,
  httpRequest,
  loadAverage,
  percentile,
  positiveInt,
  report,
  round,
  runBench,
  runConcurrently,
  Tally,
} from './load';

/**
 * The bare floor a hot-path bench is measured against: a `node:http` server in this process (loopback, random
 * port), no framework, no middleware, loaded by the benches' own client (`httpRequest` under `runConcurrently`),
 * each request doing exactly one thing:
 *   - noop:     nothing (GET); 200 and a small JSON body                       (↔ bench:product-reads, warm)
 *   - redis:    one Lua check-and-decrement of a counter (ioredis, the bench Redis database, its own key)
 *                                                                         (↔ bench:add-to-cart, hot)
 *   - postgres: one `UPDATE ... SET reserved = reserved + 1 WHERE id = $1 AND reserved + 1 <= total RETURNING`
 *               on one hot row of a scratch table in `pledgeflow_bench` (pg Pool of 20, as the API's)
 *                                                                         (↔ bench:add-to-cart, postgres)
 * The counter and the row hold exactly warm-up + requests units, so every timed request succeeds (200) and the
 * last one takes the last unit. The scratch table and the key are removed afterwards and every connection closed,
 * so a benchEnvironment that follows (which drops and recreates `pledgeflow_bench`) is unaffected.
 *
 *   npm run bench:baseline                all three, one JSON report
 *   BENCH_BASELINE_REQUESTS=5000          timed requests per kind
 *   BENCH_BASELINE_CONCURRENCY=48         requests in flight
 *   BENCH_BASELINE_KINDS=noop,redis,postgres
 */

export type BaselineKind = 'noop' | 'redis' | 'postgres';

export interface BaselineResult {
  kind: BaselineKind;
  requests: number;
  concurrency: number;
  seconds: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
  statuses: Record<string, number>;
}

const log = benchLog('baseline');

/** Check-and-decrement: refuses (-1) when fewer than ARGV[1] units are left, else takes them and returns the rest. */
const TAKE_LUA = `
local left = tonumber(redis.call('GET', KEYS[1]) or '-1')
local n = tonumber(ARGV[1])
if left < n then return -1 end
return redis.call('DECRBY', KEYS[1], n)
`;

type Handler = () => Promise<number>;

async function prepare(kind: BaselineKind, units: number): Promise<{ handle: Handler; close(): Promise<void> }> {
  if (kind === 'noop') return { handle: async () => 200, close: async () => undefined };

  if (kind === 'redis') {
    const redis = new Redis(benchRedisUrl(), { maxRetriesPerRequest: 1 });
    const key = `bench:baseline:${process.pid}:stock`;
    redis.defineCommand('baselineTake', { numberOfKeys: 1, lua: TAKE_LUA });
    const take = (redis as unknown as { baselineTake(key: string, n: number): Promise<number> }).baselineTake.bind(redis);
    await redis.set(key, units);
    return {
      handle: async () => ((await take(key, 1)) >= 0 ? 200 : 409),
      close: async () => {
        await redis.del(key);
        await redis.quit();
      },
    };
  }

  // The bench database may not exist yet (a benchEnvironment creates it): create it if missing; a following
  // benchEnvironment drops and recreates it anyway. The scratch table is dropped before the pool closes.
  const databaseUrl = benchDatabaseUrl();
  await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  // pool.end() resolves before its sockets have closed: the DROP DATABASE ... WITH (FORCE) of a benchEnvironment
  // that follows at once can terminate one still closing, which an idle client reports as an error.
  pool.on('error', () => undefined);
  const table = `bench_baseline_${process.pid}`;
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, total int NOT NULL, reserved int NOT NULL DEFAULT 0)`);
  await pool.query(`INSERT INTO ${table} (id, total) VALUES (1, $1)`, [units]);
  const sql = `UPDATE ${table} SET reserved = reserved + 1 WHERE id = $1 AND reserved + 1 <= total RETURNING reserved`;
  return {
    handle: async () => ((await pool.query({ name: 'baseline-take', text: sql, values: [1] })).rowCount === 1 ? 200 : 409),
    close: async () => {
      try {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
      } finally {
        await pool.end();
      }
    },
  };
}

/**
 * Runs one baseline: starts the bare server, an untimed warm-up (JIT, keep-alive sockets, pools), then `requests`
 * timed POSTs with `concurrency` in flight; closes everything. Throws unless every request answered 200 (a
 * baseline that failed measured nothing).
 */
export async function runBaseline(kind: BaselineKind, opts: { requests: number; concurrency: number; warmup?: number }): Promise<BaselineResult> {
  const { requests, concurrency } = opts;
  // A fixed warm-up, not one proportional to `requests`: the baseline usually runs first in a cold process.
  const warmup = opts.warmup ?? 1_000;
  const work = await prepare(kind, warmup + requests);
  const body = Buffer.from(JSON.stringify({ ok: true, kind }));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      work.handle().then(
        (status) => {
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/take`;
  // The same shape of request as the matching bench: a GET for noop (product reads), a small JSON POST otherwise
  // (an add-to-cart).
  const init = kind === 'noop' ? undefined : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quantity: 1 }) };
  try {
    await runConcurrently(warmup, concurrency, async () => void (await httpRequest(url, init)));
    const statuses = new Tally();
    const started = performance.now();
    const latencies = await runConcurrently(requests, concurrency, async () => statuses.add(await httpRequest(url, init)));
    const seconds = (performance.now() - started) / 1000;
    const result: BaselineResult = {
      kind,
      requests,
      concurrency,
      seconds: round(seconds, 2),
      per_second: Math.round(requests / seconds),
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      statuses: statuses.toJSON(),
    };
    if (statuses.get(200) !== requests) throw new Error(`baseline ${kind}: not every request answered 200: ${JSON.stringify(result.statuses)}`);
    log(`${kind}: ${result.per_second} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms (${requests} requests, ${concurrency} in flight)`);
    return result;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await work.close();
  }
}

/** A bench figure over its baseline's requests per second (e.g. 0.42). */
export const ratioTo = (baseline: BaselineResult, perSecond: number): number => round(perSecond / Math.max(1, baseline.per_second), 3);

async function main(): Promise<void> {
  const requests = positiveInt('BENCH_BASELINE_REQUESTS', 5_000);
  const concurrency = positiveInt('BENCH_BASELINE_CONCURRENCY', 48);
  const kinds = (process.env.BENCH_BASELINE_KINDS || 'noop,redis,postgres').split(',').map((k) => k.trim()) as BaselineKind[];
  for (const k of kinds) if (!['noop', 'redis', 'postgres'].includes(k)) throw new Error(`BENCH_BASELINE_KINDS: unknown kind '${k}' (noop, redis, postgres)`);
  const loadBefore = loadAverage();
  const baselines: BaselineResult[] = [];
  for (const kind of kinds) baselines.push(await runBaseline(kind, { requests, concurrency }));
  report('baseline', { requests, concurrency, load_average_before: loadBefore, load_average_after: loadAverage(), baselines, ok: true });
}

if (require.main === module) runBench(main);
