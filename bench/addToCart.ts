import { randomUUID } from 'node:crypto';
import { holdExpiryStateQuery, holdExpiryWorkflowId, type HoldExpiryState } from '../src/commerce/contract';
import { holdShardSql } from '../src/commerce/holdShards';
import { hotHoldKey, hotStockKey } from '../src/commerce/hotStock';
import { ratioTo, runBaseline, type BaselineResult } from './baseline';
import {
  allPass,
  benchEnvironment,
  benchLog,
  bulkUsers,
  createBenchStore,
  httpRequest,
  loadAverage,
  percentile,
  positiveInt,
  postJson,
  quietTemporalRuntime,
  report,
  round,
  runBench,
  runConcurrently,
  startBenchWorkers,
  Tally,
  type BenchEnvironment,
} from './harness';

/**
 * Add-to-cart reservations per second on ONE variant, over HTTP, with more carts than units: every attempt is a
 * different guest cart adding 1 unit (the cart document, for `hot` the Redis pre-filter, one Postgres statement,
 * the document again; no Temporal call: the hold-expiry sweepers are the holds' timers).
 * Two runs on fresh variants of one store:
 *   - `postgres`: a normal variant, decided by the conditional `UPDATE inventory ... WHERE available >= n`;
 *   - `hot`: a flash-sale variant, pre-filtered by the Redis Lua check-and-reserve, Postgres still the gate.
 * Afterwards: no oversell (reserved + sold <= total_stock), every accepted attempt is exactly one held unit,
 * the stock sold out exactly, for the hot variant the Redis counter agrees with Postgres and Redis keeps exactly
 * one hold key per accepted attempt, and holds = timers: every held row's shard has a running sweeper that reads
 * its holds again by the row's expiry (its query, allowing the sweeper's gathering window).
 *
 *   npm run bench:add-to-cart
 *   BENCH_CART_STOCK=2000         units of each variant
 *   BENCH_CART_ATTEMPTS=3000      carts (attempts) per run
 *   BENCH_CART_CONCURRENCY=48     requests in flight
 *   BENCH_CART_RUNS=postgres,hot  which runs, in order
 *   BENCH_CART_WARMUP=200         untimed adds first, on a variant of their own (JIT, pools, the sweepers' start)
 *   BENCH_LOG_LEVEL=error         the API's log level (warn logs every expected 409)
 *
 * First, in the same process, each run's bare baseline (bench/baseline.ts) with the same client, concurrency and
 * request count: `hot` ↔ one Redis Lua check-and-decrement, `postgres` ↔ one conditional UPDATE of a hot row.
 * Each run reports it beside its own figures, with `ratio_to_baseline` = accepted/s ÷ baseline requests/s.
 */

const log = benchLog('add-to-cart');

type RunKind = 'postgres' | 'hot';

async function createVariant(baseUrl: string, auth: string, storeId: string, hot: boolean, stock: number): Promise<string> {
  const product = await postJson<{ variants: Array<{ id: string }> }>(
    `${baseUrl}/v1/stores/${storeId}/products`,
    {
      name: hot ? 'Flash-sale sneaker' : 'Everyday sneaker',
      base_price_cents: 9_900,
      variants: [{ sku: `BENCH-${hot ? 'HOT' : 'PG'}-${randomUUID().slice(0, 8)}`, attributes: { size: '42' }, inventory_count: stock, hot }],
    },
    { auth },
  );
  return product.variants[0]!.id;
}

async function openCarts(baseUrl: string, storeId: string, count: number): Promise<string[]> {
  const ids: string[] = new Array(count);
  await runConcurrently(count, 32, async (i) => {
    ids[i] = (await postJson<{ id: string }>(`${baseUrl}/v1/carts`, { store_id: storeId })).id;
  });
  return ids;
}

/** One guest cart adding one unit: the timed request. */
function addOne(baseUrl: string, cartId: string, variantId: string): Promise<number> {
  return httpRequest(`${baseUrl}/v1/carts/${cartId}/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ variant_id: variantId, quantity: 1 }),
  });
}

const BASELINE_FOR: Record<RunKind, 'redis' | 'postgres'> = { hot: 'redis', postgres: 'postgres' };

/** Keys matching a pattern (SCAN, not KEYS: the server stays responsive). */
async function countKeys(redis: BenchEnvironment['services']['redis'], pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/**
 * Holds = timers: for every shard holding held rows, its sweeper runs and its next read is no later than the
 * earliest held expiry of the shard (plus the window in which it gathers expiries). Returns the failures.
 */
async function holdsWithoutTimer(env: BenchEnvironment): Promise<string[]> {
  const { db, temporal } = env.services;
  const { TASK_QUEUE, HOLD_EXPIRY_SHARDS } = env.config;
  const result = await db.raw(
    `SELECT shard::int, min(expires_at) AS earliest, count(*)::int AS held
       FROM (SELECT ${holdShardSql('variant_id')} AS shard, expires_at FROM reservations WHERE status = 'held') h
      GROUP BY shard`,
    [HOLD_EXPIRY_SHARDS],
  );
  const shards = result.rows as Array<{ shard: number; earliest: Date; held: number }>;
  const client = await temporal.client();
  const failures: string[] = [];
  for (const { shard, earliest, held } of shards) {
    const handle = client.workflow.getHandle(holdExpiryWorkflowId(TASK_QUEUE, shard));
    if ((await handle.describe()).status.name !== 'RUNNING') {
      failures.push(`shard ${shard}: ${held} held, sweeper not running`);
      continue;
    }
    // A sweeper in the middle of a pass has no next read yet: ask again once it sleeps.
    let state: HoldExpiryState | undefined;
    for (let i = 0; i < 100 && !state?.nextWakeAt; i++) {
      state = await handle.query(holdExpiryStateQuery);
      if (!state.nextWakeAt) await new Promise((r) => setTimeout(r, 50));
    }
    if (!state?.nextWakeAt || Date.parse(state.nextWakeAt) > earliest.getTime() + state.gatherMs) {
      failures.push(`shard ${shard}: ${held} held from ${earliest.toISOString()}, next read ${state?.nextWakeAt ?? 'unknown'}`);
    }
  }
  return failures;
}

async function run(env: BenchEnvironment, kind: RunKind, storeId: string, merchantAuth: string, stock: number, attempts: number, concurrency: number, baseline: BaselineResult) {
  const { services, baseUrl } = env;
  const { db, redis } = services;
  const variantId = await createVariant(baseUrl, merchantAuth, storeId, kind === 'hot', stock);
  const carts = await openCarts(baseUrl, storeId, attempts);
  log(`${kind}: ${attempts} carts open, variant ${variantId} with ${stock} units; adding with ${concurrency} in flight`);

  const statuses = new Tally();
  const acceptedLatencies: number[] = [];
  const rejectedLatencies: number[] = [];
  let lastAcceptAt = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const latencies = await runConcurrently(attempts, concurrency, async (i) => {
    const t = performance.now();
    const status = await addOne(baseUrl, carts[i]!, variantId);
    const now = performance.now();
    statuses.add(status);
    if (status === 200) {
      acceptedLatencies.push(now - t);
      lastAcceptAt = Math.max(lastAcceptAt, now);
    } else if (status === 409) rejectedLatencies.push(now - t);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sellOutSeconds = Math.max(0.001, (lastAcceptAt - started) / 1000);
  const accepted = statuses.get(200);
  const acceptedPerSecond = Math.round(accepted / sellOutSeconds);

  // ---- Checks, straight from Postgres (and Redis for the hot counter) ----
  const inventory = (await db('inventory').where({ variant_id: variantId }).first('total_stock', 'reserved', 'sold')) as { total_stock: number; reserved: number; sold: number };
  const held = (await db('reservations')
    .where({ variant_id: variantId, status: 'held' })
    .select(db.raw('count(*)::int AS rows'), db.raw('coalesce(sum(quantity), 0)::int AS units'), db.raw('count(DISTINCT cart_id)::int AS carts'))
    .first()) as { rows: number; units: number; carts: number };
  const counter = await redis.get(hotStockKey(variantId));
  // Each accepted hot add left its hold key (15 min TTL); a refused one gave its key back.
  const holdKeys = kind === 'hot' ? await countKeys(redis, hotHoldKey(variantId, '*')) : undefined;
  const postgresAvailable = inventory.total_stock - inventory.reserved - inventory.sold;
  const untimed = await holdsWithoutTimer(env);
  const checks: Record<string, boolean> = {
    no_oversell: inventory.reserved + inventory.sold <= inventory.total_stock,
    accepted_equals_reserved: accepted === inventory.reserved && held.units === accepted && held.rows === accepted && held.carts === accepted,
    sold_out_exactly: accepted === Math.min(stock, attempts),
    only_200_or_409: accepted + statuses.get(409) === attempts,
    holds_equal_timers: untimed.length === 0,
  };
  // The counter's TTL (60 s) may have run out after a long run: then the next take rebuilds it from Postgres.
  if (kind === 'hot') {
    checks.hot_counter_agrees = counter === null || Number(counter) === postgresAvailable;
    checks.one_redis_hold_per_accepted = holdKeys === accepted;
  }

  return {
    kind,
    attempts,
    concurrency,
    stock,
    accepted,
    statuses: statuses.toJSON(),
    seconds: round(seconds, 2),
    attempts_per_second: Math.round(attempts / seconds),
    accepted_per_second: acceptedPerSecond,
    baseline: { kind: baseline.kind, requests: baseline.requests, concurrency: baseline.concurrency, per_second: baseline.per_second, p50_ms: baseline.p50_ms, p99_ms: baseline.p99_ms },
    ratio_to_baseline: ratioTo(baseline, acceptedPerSecond),
    sell_out_seconds: round(sellOutSeconds, 2),
    latency_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    // The whole process (API, workers and load generator): steadier than rates on a shared machine.
    cpu_ms_per_attempt: round((cpu.user + cpu.system) / 1000 / attempts, 3),
    accepted_latency_ms: { p50: round(percentile(acceptedLatencies, 50)), p99: round(percentile(acceptedLatencies, 99)) },
    rejected_latency_ms: { p50: round(percentile(rejectedLatencies, 50)), p99: round(percentile(rejectedLatencies, 99)) },
    inventory,
    held_reservations: held,
    ...(untimed.length ? { holds_without_timer: untimed } : {}),
    ...(kind === 'hot' ? { hot_counter: counter === null ? null : Number(counter), postgres_available: postgresAvailable, redis_hold_keys: holdKeys } : {}),
    load_average_after: loadAverage(),
    checks,
    ok: allPass(checks),
  };
}

async function main(): Promise<void> {
  quietTemporalRuntime();
  const stock = positiveInt('BENCH_CART_STOCK', 2_000);
  const attempts = positiveInt('BENCH_CART_ATTEMPTS', 3_000);
  const concurrency = positiveInt('BENCH_CART_CONCURRENCY', 48);
  const warmup = positiveInt('BENCH_CART_WARMUP', 200);
  const kinds = (process.env.BENCH_CART_RUNS || 'postgres,hot').split(',').map((k) => k.trim()) as RunKind[];
  for (const k of kinds) if (k !== 'postgres' && k !== 'hot') throw new Error(`BENCH_CART_RUNS: unknown run '${k}' (postgres, hot)`);

  // The bare baselines first, before the environment (and its dev server) exists: same client, same concurrency,
  // as many requests as the run has attempts. Each closes its connections and drops its scratch table.
  const baselines = new Map<RunKind, BaselineResult>();
  for (const kind of kinds) baselines.set(kind, await runBaseline(BASELINE_FOR[kind], { requests: attempts, concurrency }));

  // Every refused add is an expected 409, which the API logs at warn: off unless asked for.
  const env = await benchEnvironment({ temporal: true, settings: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error' } });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const { services, baseUrl } = env;
    // Real workers run the hold-expiry sweepers, as a deployment's would (on the same cores here).
    workers = await startBenchWorkers(services, { outboxDispatcher: false });
    const [merchant] = await bulkUsers(services, 1, 'merchant');
    const storeId = await createBenchStore(baseUrl, merchant!.auth, 'Bench sneakers');

    // Untimed warm-up on a variant of its own, so the first run does not pay for JIT, pools and the sweepers' start.
    const warmVariant = await createVariant(baseUrl, merchant!.auth, storeId, false, warmup);
    const warmCarts = await openCarts(baseUrl, storeId, warmup);
    await runConcurrently(warmup, concurrency, async (i) => void (await addOne(baseUrl, warmCarts[i]!, warmVariant)));
    const loadBefore = loadAverage();

    const runs = [];
    for (const kind of kinds) runs.push(await run(env, kind, storeId, merchant!.auth, stock, attempts, concurrency, baselines.get(kind)!));
    report('add-to-cart', { load_average_before: loadBefore, warmup_adds: warmup, runs, ok: runs.every((r) => r.ok) });
  } finally {
    await workers?.stop();
    await env.close();
  }
}

runBench(main);
