import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { startWorker, stopWorker } from './soakWorkers';
import {
  allPass,
  benchEnvironment,
  benchLog,
  bulkUsers,
  createBenchStore,
  loadAverage,
  percentile,
  positiveInt,
  postJson,
  quietTemporalRuntime,
  report,
  round,
  runBench,
  runConcurrently,
  settingsFromEnv,
  startBenchWorkers,
  Tally,
} from './harness';

/**
 * Checkout latency and throughput through Temporal: many signed-in customers, each with a cart already holding
 * stock, check out with POST /v1/checkout (one Idempotency-Key each). Every request runs the real
 * `checkout:<key>` saga on real workers in this process (dev server): prices and holds confirmed, authorize
 * (payments queue), order placed with its stock sold and the cart emptied (local activities), then the answer;
 * the capture (payments queue) follows the answer. Two timed runs: latency at BENCH_CHECKOUT_CONCURRENCY, then
 * throughput at BENCH_CHECKOUT_THROUGHPUT_CONCURRENCY, each with its own carts. The bench then waits for every
 * saga to finish and checks, from Postgres and the simulated gateway's own table: one confirmed order per
 * checkout, exactly one succeeded capture per order for its total, stock sold equal to the units bought and
 * nothing left held.
 *
 *   npm run bench:checkout
 *   BENCH_CHECKOUTS=300                       checkouts timed in the latency run (one customer and cart each)
 *   BENCH_CHECKOUT_CONCURRENCY=8              checkouts in flight in the latency run
 *   BENCH_CHECKOUTS_THROUGHPUT=300            checkouts timed in the throughput run (0: skip it)
 *   BENCH_CHECKOUT_THROUGHPUT_CONCURRENCY=16  checkouts in flight in the throughput run
 *   BENCH_CHECKOUT_VARIANTS=10                variants the carts share (stock is sized to cover every cart)
 *   BENCH_CHECKOUT_WARMUP=10                  untimed checkouts first (workflow cache, JIT); checked like the rest
 *   BENCH_SETUP_CONCURRENCY=16                requests in flight while filling the carts (not timed)
 *   PAYMENTS_ACTIVITIES_PER_SECOND=1000       the payments queue's limit, raised by the bench (the platform's is 20)
 *   STRIPE_CALLS_PER_SECOND, RESERVATION_TTL  platform settings
 */

const log = benchLog('checkout');

const ADDRESS = { line1: '1 Bench Street', city: 'Lisbon', postal_code: '1000-001', country: 'PT' };

/** A local activity's type, from the data of its marker (core's LocalActivityMarkerData, as JSON). */
function localActivityName(marker: temporal.api.history.v1.IMarkerRecordedEventAttributes): string | undefined {
  const payload = marker.details?.data?.payloads?.[0]?.data;
  if (marker.markerName !== 'core_local_activity' || !payload) return undefined;
  const data = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  return String(data.activity_type ?? data.activityType ?? '?');
}

/**
 * Where one checkout's time goes, from its workflow history: per activity, the wait to be picked up (scheduled →
 * started: task dispatch, and the payments queue's rate limit) and the run (started → completed); per workflow
 * task, its wait and its run (started → completed), named after the local activities it ran (their markers follow
 * its completion: a local activity runs inside its workflow task); when the shopper was answered (the `answer`
 * Update completed); the whole workflow; and what is left, the server's own work between the events.
 */
function historyBreakdown(history: temporal.api.history.v1.IHistory): Record<string, number> {
  const events = history.events ?? [];
  const at = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const scheduled = new Map<string, { name: string; at: number; started?: number }>();
  const out: Record<string, number> = {};
  const add = (k: string, ms: number) => void (out[k] = (out[k] ?? 0) + ms);
  let answeredAt: number | undefined;
  let task: { scheduled: number; started?: number } | undefined;
  events.forEach((e, n) => {
    if (e.workflowTaskScheduledEventAttributes) task = { scheduled: at(e) };
    if (e.workflowTaskStartedEventAttributes && task) {
      task.started = at(e);
      add('workflow_task.wait', task.started - task.scheduled);
    }
    if (e.workflowTaskCompletedEventAttributes && task?.started !== undefined) {
      const local: string[] = [];
      // Its commands' events follow it until the next workflow task is scheduled.
      for (let m = n + 1; m < events.length && !events[m]!.workflowTaskScheduledEventAttributes; m++) {
        const marker = events[m]!.markerRecordedEventAttributes;
        if (marker) local.push(localActivityName(marker) ?? 'marker');
      }
      add(`workflow_task.run[${local.join('+') || 'no local activity'}]`, at(e) - task.started);
      task = undefined;
    }
    if (e.workflowExecutionUpdateCompletedEventAttributes && answeredAt === undefined) answeredAt = at(e);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: at(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) scheduled.get(String(started.scheduledEventId))!.started = at(e);
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId))!;
      add(`${s.name}.wait`, s.started! - s.at);
      add(`${s.name}.run`, at(e) - s.started!);
    }
  });
  out.workflow_total = at(events[events.length - 1]!) - at(events[0]!);
  // The rest is the server: each step's result goes back through it to a workflow worker and back.
  out.server_and_between = out.workflow_total - Object.entries(out).reduce((sum, [k, v]) => (k === 'workflow_total' ? sum : sum + v), 0);
  if (answeredAt !== undefined) out.answered_after = answeredAt - at(events[0]!);
  return out;
}

/** The median of each figure over several checkouts' breakdowns. */
function medians(rows: Array<Record<string, number>>): Record<string, number> {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, round(percentile(rows.map((r) => r[k] ?? 0), 50))]));
}

interface Cart {
  id: string;
  auth: string;
  lines: Array<{ variantId: string; quantity: number }>;
}

async function main(): Promise<void> {
  quietTemporalRuntime();
  const timed = positiveInt('BENCH_CHECKOUTS', 300);
  const concurrency = positiveInt('BENCH_CHECKOUT_CONCURRENCY', 8);
  const throughputTimed = Number(process.env.BENCH_CHECKOUTS_THROUGHPUT ?? 300);
  const throughputConcurrency = positiveInt('BENCH_CHECKOUT_THROUGHPUT_CONCURRENCY', 16);
  if (!Number.isInteger(throughputTimed) || throughputTimed < 0) throw new Error('BENCH_CHECKOUTS_THROUGHPUT must be a whole number');
  const variantCount = positiveInt('BENCH_CHECKOUT_VARIANTS', 10);
  const warmup = Number(process.env.BENCH_CHECKOUT_WARMUP ?? 10);
  const setupConcurrency = positiveInt('BENCH_SETUP_CONCURRENCY', 16);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error('BENCH_CHECKOUT_WARMUP must be a whole number');
  const total = timed + warmup + throughputTimed;

  // The layout: everything in this process (default), or as production runs it (`npm run api` with
  // WEB_CONCURRENCY = BENCH_API_PROCESSES, and with BENCH_WORKER_PROCESS=1 the workers in a process of their own).
  const apiProcesses = Number(process.env.BENCH_API_PROCESSES ?? 0);
  if (!Number.isInteger(apiProcesses) || apiProcesses < 0) throw new Error('BENCH_API_PROCESSES must be 0 (in this process) or a number of processes');
  const workerProcess = process.env.BENCH_WORKER_PROCESS === '1';
  // Two payment activities per checkout: the platform's 20/s would cap the runs at 10 checkouts/s.
  const platformSettings = {
    PAYMENTS_ACTIVITIES_PER_SECOND: '1000',
    ...settingsFromEnv(['PAYMENTS_ACTIVITIES_PER_SECOND', 'STRIPE_CALLS_PER_SECOND', 'RESERVATION_TTL']),
  };
  const env = await benchEnvironment({
    temporal: true,
    apiProcesses: apiProcesses || undefined,
    settings: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...platformSettings },
  });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const { services, baseUrl, config } = env;
    const { db } = services;
    if (workerProcess) {
      // Its readiness line is logged at info, so LOG_LEVEL stays the process default.
      const worker = startWorker(config, platformSettings);
      workers = { stop: () => stopWorker(worker) };
      await worker.ready;
    } else {
      workers = await startBenchWorkers(services);
    }

    // ---- Setup (not timed): a store, its variants, and one held cart per customer, all through the API ----
    const setupStarted = performance.now();
    const [merchant] = await bulkUsers(services, 1, 'merchant');
    const storeId = await createBenchStore(baseUrl, merchant!.auth, 'Bench checkout store');
    // Cart i holds 1–2 units of variant i % V, and every third cart also 1 unit of the next variant.
    const lines = (i: number) => [
      { variant: i % variantCount, quantity: 1 + (i % 2) },
      ...(i % 3 === 0 && variantCount > 1 ? [{ variant: (i + 1) % variantCount, quantity: 1 }] : []),
    ];
    const stockPerVariant = 3 * Math.ceil(total / variantCount) + 10;
    const product = await postJson<{ variants: Array<{ id: string; sku: string }> }>(
      `${baseUrl}/v1/stores/${storeId}/products`,
      {
        name: 'Bench hoodie',
        base_price_cents: 4_900,
        variants: Array.from({ length: variantCount }, (_, v) => ({ sku: `HOOD-${v}`, attributes: { size: `${v}` }, price_modifier_cents: v * 100, inventory_count: stockPerVariant })),
      },
      { auth: merchant!.auth },
    );
    const variantIds = Array.from({ length: variantCount }, (_, v) => product.variants.find((x) => x.sku === `HOOD-${v}`)!.id);
    const customers = await bulkUsers(services, total);
    const carts: Cart[] = new Array(total);
    await runConcurrently(total, setupConcurrency, async (i) => {
      const auth = customers[i]!.auth;
      const cart = await postJson<{ id: string }>(`${baseUrl}/v1/carts`, { store_id: storeId }, { auth });
      const held = lines(i).map((l) => ({ variantId: variantIds[l.variant]!, quantity: l.quantity }));
      for (const l of held) await postJson(`${baseUrl}/v1/carts/${cart.id}/items`, { variant_id: l.variantId, quantity: l.quantity }, { auth, expect: 200 });
      carts[i] = { id: cart.id, auth, lines: held };
    });
    const unitsBought = carts.reduce((s, c) => s + c.lines.reduce((t, l) => t + l.quantity, 0), 0);
    const setupSeconds = round((performance.now() - setupStarted) / 1000, 2);
    log(
      `setup: ${total} carts holding ${unitsBought} units of ${variantCount} variants in ${setupSeconds} s; ${warmup} warm-up checkouts, then ${timed} timed at ${concurrency} in flight and ${throughputTimed} at ${throughputConcurrency}`,
    );

    // ---- Checkouts: warm-up (untimed), then the timed run ----
    const statuses = new Tally();
    const orderIds = new Set<string>();
    const checkout = async (i: number) => {
      const c = carts[i]!;
      const res = await fetch(`${baseUrl}/v1/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: c.auth, 'idempotency-key': `bench-checkout-${i}` },
        body: JSON.stringify({ cart_id: c.id, shipping_address: ADDRESS, payment_method: 'pm_card_visa' }),
      });
      const body = (await res.json()) as { id?: string; status?: string };
      statuses.add(res.status);
      if (res.status === 201 && body.id && body.status === 'confirmed') orderIds.add(body.id);
      else if (statuses.get(res.status) <= 3) log(`checkout ${i} answered ${res.status}: ${JSON.stringify(body)}`);
    };
    await runConcurrently(warmup, concurrency, checkout);
    const loadBefore = loadAverage();
    /** One timed run over carts [first, first + n): its answers' latency and checkouts per second. */
    const timedRun = async (name: string, first: number, n: number, inFlight: number) => {
      const started = performance.now();
      const latencies = await runConcurrently(n, inFlight, (i) => checkout(first + i));
      const seconds = (performance.now() - started) / 1000;
      log(`${name}: ${n} checkouts, ${inFlight} in flight, in ${round(seconds, 2)} s: ${round(n / seconds)}/s, p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms`);
      return {
        checkouts: n,
        concurrency: inFlight,
        seconds: round(seconds, 2),
        checkouts_per_second: round(n / seconds),
        latency_ms: {
          p50: round(percentile(latencies, 50)),
          p90: round(percentile(latencies, 90)),
          p99: round(percentile(latencies, 99)),
          max: round(Math.max(...latencies)),
          mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
        },
      };
    };
    const latencyRun = await timedRun('latency', warmup, timed, concurrency);
    const throughputRun = throughputTimed > 0 ? await timedRun('throughput', warmup + timed, throughputTimed, throughputConcurrency) : null;
    const loadAfter = loadAverage();

    // The captures follow the answers: every saga must have finished before the checks read what they did.
    const client = await services.temporal.client();
    const keys = (await db('orders').where({ store_id: storeId }).pluck('checkout_key')) as string[];
    const waitStarted = performance.now();
    const finished = new Tally();
    await runConcurrently(keys.length, 32, async (i) => {
      const result = (await client.workflow.getHandle(`checkout:${keys[i]}`).result()) as { status: string };
      finished.add(result.status === 'confirmed' ? 200 : 500);
    });
    log(`${keys.length} sagas finished ${round(performance.now() - waitStarted)} ms after the last answer`);

    // ---- Checks: orders, the gateway's own records, stock ----
    const orders = (await db('orders')
      .where({ store_id: storeId })
      .select(
        db.raw('count(*)::int AS total'),
        db.raw("count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed"),
        db.raw('count(DISTINCT cart_id)::int AS carts'),
        db.raw('count(DISTINCT checkout_key)::int AS keys'),
        db.raw('coalesce(sum(total_cents), 0)::bigint AS total_cents'),
      )
      .first()) as { total: number; confirmed: number; carts: number; keys: number; total_cents: string };
    const itemUnits = (await db('order_items as i').join('orders as o', 'o.id', 'i.order_id').where('o.store_id', storeId).sum({ n: 'i.quantity' })) as Array<{ n: string | null }>;
    // Per order, the intents the simulated gateway holds under its payment key, and what they took.
    const gateway = (
      (await db.raw(
        `WITH ours AS (SELECT payment_key, total_cents FROM orders WHERE store_id = ?),
              taken AS (
                SELECT metadata->>'business_key' AS payment_key,
                       count(*)::int AS intents,
                       count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                       coalesce(sum(captured_cents), 0)::bigint AS captured
                  FROM sim_payment_intents WHERE metadata->>'business_key' LIKE 'checkout:%' GROUP BY 1)
         SELECT count(*) FILTER (WHERE t.intents = 1 AND t.succeeded = 1 AND t.captured = o.total_cents)::int AS exactly_one,
                count(*) FILTER (WHERE coalesce(t.succeeded, 0) = 0)::int AS none,
                count(*) FILTER (WHERE t.intents > 1 OR t.succeeded > 1)::int AS more_than_one,
                coalesce(sum(t.captured), 0)::bigint AS captured_cents,
                (SELECT count(*)::int FROM taken) AS checkout_payment_keys
           FROM ours o LEFT JOIN taken t ON t.payment_key = o.payment_key`,
        [storeId],
      )) as { rows: Array<{ exactly_one: number; none: number; more_than_one: number; captured_cents: string; checkout_payment_keys: number }> }
    ).rows[0]!;
    // Where the time goes: the median breakdown over the last 20 checkouts of the latency run.
    const sampleCarts = carts.slice(warmup + Math.max(0, timed - 20), warmup + timed).map((c) => c.id);
    const sampleKeys = (await db('orders').where({ store_id: storeId }).whereIn('cart_id', sampleCarts).pluck('checkout_key')) as string[];
    const breakdowns = await Promise.all(sampleKeys.map(async (k) => historyBreakdown(await client.workflow.getHandle(`checkout:${k}`).fetchHistory())));
    const inventory = (await db('inventory').where({ store_id: storeId }).select('variant_id', 'total_stock', 'reserved', 'sold')) as Array<{ variant_id: string; total_stock: number; reserved: number; sold: number }>;
    const expectedSold = new Map<string, number>();
    for (const c of carts) for (const l of c.lines) expectedSold.set(l.variantId, (expectedSold.get(l.variantId) ?? 0) + l.quantity);
    const held = (await db('reservations').where({ store_id: storeId, status: 'held' }).count({ n: '*' })) as Array<{ n: string }>;

    const checks = {
      every_checkout_201: statuses.get(201) === total,
      every_saga_confirmed: finished.get(200) === total,
      one_order_per_checkout: orders.total === total && orders.confirmed === total && orders.carts === total && orders.keys === total && orderIds.size === total,
      one_capture_per_order: gateway.exactly_one === total && gateway.none === 0 && gateway.more_than_one === 0 && gateway.checkout_payment_keys === total,
      captured_equals_order_totals: Number(gateway.captured_cents) === Number(orders.total_cents),
      stock_sold_equals_units: inventory.every((r) => r.sold === (expectedSold.get(r.variant_id) ?? 0)) && Number(itemUnits[0]?.n ?? 0) === unitsBought,
      nothing_left_held: inventory.every((r) => r.reserved === 0) && Number(held[0]?.n) === 0,
      no_oversell: inventory.every((r) => r.reserved + r.sold <= r.total_stock),
    };
    report('checkout', {
      layout: { api_processes: apiProcesses === 0 ? 'in the bench process' : apiProcesses, workers: workerProcess ? 'a process of their own' : 'in the bench process' },
      warmup_checkouts: warmup,
      variants: variantCount,
      units_bought: unitsBought,
      payments_activities_per_second: config.PAYMENTS_ACTIVITIES_PER_SECOND,
      stripe_calls_per_second: config.STRIPE_CALLS_PER_SECOND,
      statuses: statuses.toJSON(),
      latency_run: latencyRun,
      throughput_run: throughputRun,
      workflow_breakdown_ms: { sample: breakdowns.length, median: medians(breakdowns) },
      setup_seconds: setupSeconds,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      orders,
      gateway,
      checks,
      ok: allPass(checks),
    });
  } finally {
    await workers?.stop();
    await env.close();
  }
}

runBench(main);
