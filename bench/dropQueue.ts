import {
  allPass,
  benchEnvironment,
  benchLog,
  benchShop,
  bulkUsers,
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
} from './harness';
import { ratioTo, runBaseline } from './baseline';

/**
 * A first-come drop's waiting room under a crowd, over HTTP, with the real `drop:<id>` workflow admitting on real
 * workers in this process (dev server):
 *   - joins per second: N signed-in shoppers POST /v1/drops/{id}/queue once the room is open (later arrivals:
 *     first in, first out), C in flight, while the workflow admits at the drop's pace;
 *   - time from admission to a reserved cart: for every admitted shopper, from the admission instant
 *     (drop_queue.admitted_at, the database clock under the admission lock) to the unit held for their cart
 *     (reservations.created_at) and to their "it's your turn" notification (the place then shows cart_id).
 * Optionally the first E shoppers come before opens_at (no position until the opening shuffle), timed apart,
 * and the report has the time from opens_at to the first admission (the opening shuffle included).
 * Nobody checks out, so exactly `quantity` shoppers end up admitted, each holding one unit.
 * Afterwards: every join 201; positions unique 1..N, early arrivals 1..E, later ones in arrival order after them;
 * exactly `quantity` admitted, in position order, never more than the rate in any one-second window, one held
 * unit per admitted cart, and the variant's stock reserved exactly `quantity` (no oversell).
 *
 *   npm run bench:drop-queue
 *   BENCH_QUEUE_JOINS=3000        shoppers joining
 *   BENCH_QUEUE_CONCURRENCY=64    joins in flight
 *   BENCH_QUEUE_QUANTITY=200      units in the drop (admitted shoppers)
 *   BENCH_QUEUE_RATE=20           admission_per_second
 *   BENCH_QUEUE_EARLY=0           of the shoppers, how many join before opens_at
 *   BENCH_QUEUE_OPEN_DELAY_SECONDS   opens_at this long after the drop is created (default 3; with early
 *                                    arrivals max(10, E / 40 + 10), so that they are all in before it)
 */

const log = benchLog('drop-queue');
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function summary(values: number[]) {
  return values.length
    ? { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)), max: round(Math.max(...values)), min: round(Math.min(...values)) }
    : null;
}

async function main(): Promise<void> {
  quietTemporalRuntime();
  const joins = positiveInt('BENCH_QUEUE_JOINS', 3_000);
  const concurrency = positiveInt('BENCH_QUEUE_CONCURRENCY', 64);
  const quantity = positiveInt('BENCH_QUEUE_QUANTITY', 200);
  const rate = positiveInt('BENCH_QUEUE_RATE', 20);
  const early = Number(process.env.BENCH_QUEUE_EARLY || 0);
  if (!Number.isInteger(early) || early < 0 || early > joins) throw new Error('BENCH_QUEUE_EARLY must be a whole number up to BENCH_QUEUE_JOINS');
  const openDelaySeconds = positiveInt('BENCH_QUEUE_OPEN_DELAY_SECONDS', early ? Math.max(10, Math.ceil(early / 40) + 10) : 3);
  if (quantity > joins) throw new Error('BENCH_QUEUE_QUANTITY must not exceed BENCH_QUEUE_JOINS');

  // The bare baseline first, before the environment exists: the same client, concurrency and number of requests
  // as the timed joins. `postgres` (one conditional UPDATE of one hot row per request) is a join's essential
  // work: one durable write that takes the next number from the drop's one hot spot.
  // CPU time per request (this process, all threads) holds up under a loaded machine better than rates do.
  const baselineCpu = process.cpuUsage();
  const baseline = await runBaseline('postgres', { requests: joins - early, concurrency });
  const baselineCpuMs = cpuMs(process.cpuUsage(baselineCpu)) / (joins - early + 1_000); // + its warm-up

  // The crowd comes from one address: the per-address limit would stop it (per-account stays as configured).
  const env = await benchEnvironment({ temporal: true, settings: { DROP_RATE_LIMIT_PER_IP: '100000000' } });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const { services, baseUrl } = env;
    const { db } = services;
    workers = await startBenchWorkers(services, { outboxDispatcher: false });

    // ---- Setup (not timed) ----
    const { merchant, storeId, variantId } = await benchShop(env, { stock: quantity, name: 'Bench drops' });
    const shoppers = await bulkUsers(services, joins);
    const drop = await postJson<{ id: string; opens_at: string }>(
      `${baseUrl}/v1/stores/${storeId}/drops`,
      { variant_id: variantId, quantity, mode: 'fcfs', opens_at: new Date(Date.now() + openDelaySeconds * 1000).toISOString(), admission_per_second: rate },
      { auth: merchant.auth },
    );
    const opensAt = Date.parse(drop.opens_at);

    const statuses = new Tally();
    const positions: number[] = [];
    const join = async (i: number) => {
      const res = await fetch(`${baseUrl}/v1/drops/${drop.id}/queue`, { method: 'POST', headers: { authorization: shoppers[i]!.auth } });
      const body = (await res.json()) as { position?: number | null };
      statuses.add(res.status);
      if (res.status === 201 && typeof body.position === 'number') positions.push(body.position);
      else if (res.status !== 201 && statuses.get(res.status) <= 3) log(`join ${i} answered ${res.status}: ${JSON.stringify(body)}`);
    };

    // ---- Timed apart: early arrivals, before opens_at ----
    let earlyFigures: Record<string, unknown> | undefined;
    if (early) {
      const t = performance.now();
      const earlyLatencies = await runConcurrently(early, concurrency, join);
      const seconds = (performance.now() - t) / 1000;
      if (Date.now() >= opensAt) throw new Error(`the early joins outlasted opens_at: raise BENCH_QUEUE_OPEN_DELAY_SECONDS (was ${openDelaySeconds})`);
      earlyFigures = { joins: early, seconds: round(seconds, 2), joins_per_second: Math.round(early / seconds), latency_ms: summary(earlyLatencies) };
      log(`${early} early joins in ${round(seconds, 2)} s`);
    }
    for (const started = Date.now(); ; await sleep(100)) {
      const d = (await (await fetch(`${baseUrl}/v1/drops/${drop.id}`)).json()) as { status: string };
      if (d.status === 'open') break;
      if (Date.now() - started > 60_000) throw new Error(`drop still ${d.status} a minute after creation`);
    }
    const late = joins - early;
    log(`drop ${drop.id} open: ${quantity} units at ${rate}/s; ${late} shoppers joining, ${concurrency} in flight`);

    // ---- Timed: the crowd joins (after the opening: first come, first served) ----
    const loadBefore = loadAverage();
    const started = performance.now();
    const joinCpu = process.cpuUsage();
    const latencies = await runConcurrently(late, concurrency, (i) => join(early + i));
    const joinCpuMs = cpuMs(process.cpuUsage(joinCpu)) / late;
    const joinSeconds = (performance.now() - started) / 1000;
    log(`${late} joins in ${round(joinSeconds, 2)} s; waiting for ${quantity} admitted shoppers to hold their unit`);

    // ---- Admission runs on at the drop's pace until every unit is held ----
    const deadline = Date.now() + (quantity / rate) * 1000 + 120_000;
    for (;;) {
      const [row] = (await db('drop_queue').where({ drop_id: drop.id, status: 'admitted' }).whereNotNull('admitted_until').count({ n: '*' })) as Array<{ n: string }>;
      if (Number(row!.n) >= quantity) break;
      if (Date.now() > deadline) throw new Error(`only ${row!.n} of ${quantity} admitted shoppers hold a unit`);
      await sleep(200);
    }
    const loadAfter = loadAverage();
    await sleep(1_500); // one more tick: proves nobody beyond the units is let in

    // ---- Figures and checks, from Postgres ----
    const admitted = (
      await db.raw(
        `SELECT q.position, q.cart_id, q.admitted_at,
                (SELECT min(r.created_at) FROM reservations r WHERE r.cart_id = q.cart_id) AS held_at,
                (SELECT count(*)::int FROM reservations r WHERE r.cart_id = q.cart_id AND r.status = 'held') AS held_rows,
                (SELECT coalesce(sum(r.quantity), 0)::int FROM reservations r WHERE r.cart_id = q.cart_id AND r.status = 'held') AS held_units,
                (SELECT min(n.created_at) FROM notifications n WHERE n.dedupe_key = 'drop_admitted:' || q.cart_id) AS told_at
           FROM drop_queue q WHERE q.drop_id = ? AND q.admitted_at IS NOT NULL ORDER BY q.admitted_at, q.position`,
        [drop.id],
      )
    ).rows as Array<{ position: number; cart_id: string; admitted_at: Date; held_at: Date | null; held_rows: number; held_units: number; told_at: Date | null }>;
    const toHold = admitted.filter((a) => a.held_at).map((a) => a.held_at!.getTime() - a.admitted_at.getTime());
    const toTold = admitted.filter((a) => a.told_at).map((a) => a.told_at!.getTime() - a.admitted_at.getTime());
    const times = admitted.map((a) => a.admitted_at.getTime());
    const maxInOneSecond = Math.max(0, ...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    // Admission steps: shoppers let in together share one admitted_at (the clock read under the admission lock).
    const steps = [...new Set(times)].sort((a, b) => a - b);
    const stepGaps = steps.slice(1).map((t, i) => t - steps[i]!);
    const admissionSpanSeconds = times.length > 1 ? (times[times.length - 1]! - times[0]!) / 1000 : 0;
    const inventory = (await db('inventory').where({ variant_id: variantId }).first('total_stock', 'reserved', 'sold')) as { total_stock: number; reserved: number; sold: number };
    const places = (await db('drop_queue').where({ drop_id: drop.id }).orderBy('seq').select('position', 'pre_open')) as Array<{ position: number | null; pre_open: boolean }>;
    const placed = places.map((p) => p.position).filter((p): p is number => p !== null);
    const earlyPositions = places.filter((p) => p.pre_open).map((p) => p.position ?? 0);
    const latePositions = places.filter((p) => !p.pre_open).map((p) => p.position ?? 0);

    const checks = {
      every_join_201: statuses.get(201) === joins,
      positions_unique_1_to_n: placed.length === joins && new Set(placed).size === joins && Math.min(...placed) === 1 && Math.max(...placed) === joins,
      early_arrivals_first: earlyPositions.length === early && earlyPositions.every((p) => p >= 1 && p <= early),
      later_arrivals_in_arrival_order: latePositions.every((p, i) => p > early && (i === 0 || p > latePositions[i - 1]!)) && positions.length === late,
      exactly_quantity_admitted: admitted.length === quantity,
      admitted_in_position_order: [...admitted].sort((a, b) => a.position - b.position).every((a, i) => a.position === i + 1),
      never_above_rate: maxInOneSecond <= rate,
      one_unit_held_per_admitted_cart: admitted.every((a) => a.held_rows === 1 && a.held_units === 1),
      stock_reserved_exactly: inventory.reserved === quantity && inventory.sold === 0 && inventory.reserved + inventory.sold <= inventory.total_stock,
    };
    report('drop-queue', {
      joins,
      concurrency,
      quantity,
      admission_per_second: rate,
      statuses: statuses.toJSON(),
      early_arrivals: earlyFigures ?? null,
      join_seconds: round(joinSeconds, 2),
      joins_per_second: Math.round(late / joinSeconds),
      join_latency_ms: summary(latencies),
      baseline: { kind: baseline.kind, requests: baseline.requests, concurrency: baseline.concurrency, per_second: baseline.per_second, p50_ms: baseline.p50_ms, p99_ms: baseline.p99_ms },
      ratio_to_baseline: ratioTo(baseline, late / joinSeconds),
      // The process's CPU per join (API, workers admitting meanwhile, and the load generator) and per baseline request.
      cpu_ms_per_join: round(joinCpuMs, 3),
      baseline_cpu_ms_per_request: round(baselineCpuMs, 3),
      admitted: admitted.length,
      // The opening: the workflow's timer, the shuffle of early arrivals, the first admission step.
      opens_at_to_first_admission_ms: times.length ? Math.min(...times) - opensAt : null,
      admission_span_seconds: round(admissionSpanSeconds, 2),
      admissions_per_second_observed: admissionSpanSeconds > 0 ? round((admitted.length - 1) / admissionSpanSeconds) : null,
      max_admitted_in_one_second: maxInOneSecond,
      // The pace is batch per tick; steps further apart than the tick mean the step itself (opening the carts) adds up.
      admission_steps: { count: steps.length, shoppers_per_step: round(admitted.length / Math.max(1, steps.length)), gap_ms: summary(stepGaps) },
      admission_to_held_unit_ms: summary(toHold),
      admission_to_shopper_told_ms: summary(toTold),
      inventory,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      checks,
      ok: allPass(checks),
    });
  } finally {
    await workers?.stop();
    await env.close();
  }
}

runBench(main);
