import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
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
 * Checkout latency through Temporal: many signed-in customers, each with a cart already holding stock, check out
 * at once with POST /v1/checkout (one Idempotency-Key each). Every request runs the real `checkout:<key>` saga on
 * real workers in this process (dev server): prices, confirm holds, authorize (payments queue), order, commit
 * stock to sold, capture (payments queue), empty and close the cart; the HTTP answer waits for the result.
 * Afterwards, from Postgres and the simulated gateway's own table: one confirmed order per checkout, exactly one
 * succeeded capture per order for its total, stock sold equal to the units bought and nothing left held.
 *
 *   npm run bench:checkout
 *   BENCH_CHECKOUTS=300              checkouts timed (one customer and cart each)
 *   BENCH_CHECKOUT_CONCURRENCY=8     checkouts in flight
 *   BENCH_CHECKOUT_VARIANTS=10       variants the carts share (stock is sized to cover every cart)
 *   BENCH_CHECKOUT_WARMUP=10         untimed checkouts first (workflow cache, JIT); checked like the rest
 *   BENCH_SETUP_CONCURRENCY=16       requests in flight while filling the carts (not timed)
 *   PAYMENTS_ACTIVITIES_PER_SECOND, STRIPE_CALLS_PER_SECOND, RESERVATION_TTL   platform settings
 */

const log = benchLog('checkout');

const ADDRESS = { line1: '1 Bench Street', city: 'Lisbon', postal_code: '1000-001', country: 'PT' };

/**
 * Where one checkout's time goes, from its workflow history: per activity, the wait to be picked up (scheduled →
 * started: task dispatch, and the payments queue's rate limit) and the run (started → completed); the whole
 * workflow; and what is left, the workflow tasks between the steps.
 */
function historyBreakdown(history: temporal.api.history.v1.IHistory): Record<string, number> {
  const events = history.events ?? [];
  const at = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const scheduled = new Map<string, { name: string; at: number; started?: number }>();
  const out: Record<string, number> = {};
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: at(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) scheduled.get(String(started.scheduledEventId))!.started = at(e);
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId))!;
      out[`${s.name}.wait`] = (out[`${s.name}.wait`] ?? 0) + (s.started! - s.at);
      out[`${s.name}.run`] = (out[`${s.name}.run`] ?? 0) + (at(e) - s.started!);
    }
  }
  out.workflow_total = at(events[events.length - 1]!) - at(events[0]!);
  // The rest is workflow tasks: each step's result goes back through the server to a workflow worker and back.
  out.workflow_tasks_and_server = out.workflow_total - Object.entries(out).reduce((sum, [k, v]) => (k === 'workflow_total' ? sum : sum + v), 0);
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
  const variantCount = positiveInt('BENCH_CHECKOUT_VARIANTS', 10);
  const warmup = Number(process.env.BENCH_CHECKOUT_WARMUP ?? 10);
  const setupConcurrency = positiveInt('BENCH_SETUP_CONCURRENCY', 16);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error('BENCH_CHECKOUT_WARMUP must be a whole number');
  const total = timed + warmup;

  const env = await benchEnvironment({
    temporal: true,
    settings: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...settingsFromEnv(['PAYMENTS_ACTIVITIES_PER_SECOND', 'STRIPE_CALLS_PER_SECOND', 'RESERVATION_TTL']) },
  });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const { services, baseUrl, config } = env;
    const { db } = services;
    workers = await startBenchWorkers(services);

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
    log(`setup: ${total} carts holding ${unitsBought} units of ${variantCount} variants in ${setupSeconds} s; ${warmup} warm-up checkouts, then ${timed} timed, ${concurrency} in flight`);

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
    const started = performance.now();
    const latencies = await runConcurrently(timed, concurrency, (i) => checkout(warmup + i));
    const seconds = (performance.now() - started) / 1000;
    const loadAfter = loadAverage();
    log(`${timed} checkouts in ${round(seconds, 2)} s: p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms`);

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
    // Where the time goes: the median breakdown over a sample of the timed checkouts' workflow histories.
    const client = await services.temporal.client();
    const sampleKeys = (await db('orders').where({ store_id: storeId }).orderBy('created_at', 'desc').limit(Math.min(20, timed)).pluck('checkout_key')) as string[];
    const breakdowns = await Promise.all(sampleKeys.map(async (k) => historyBreakdown(await client.workflow.getHandle(`checkout:${k}`).fetchHistory())));
    const inventory = (await db('inventory').where({ store_id: storeId }).select('variant_id', 'total_stock', 'reserved', 'sold')) as Array<{ variant_id: string; total_stock: number; reserved: number; sold: number }>;
    const expectedSold = new Map<string, number>();
    for (const c of carts) for (const l of c.lines) expectedSold.set(l.variantId, (expectedSold.get(l.variantId) ?? 0) + l.quantity);
    const held = (await db('reservations').where({ store_id: storeId, status: 'held' }).count({ n: '*' })) as Array<{ n: string }>;

    const checks = {
      every_checkout_201: statuses.get(201) === total,
      one_order_per_checkout: orders.total === total && orders.confirmed === total && orders.carts === total && orders.keys === total && orderIds.size === total,
      one_capture_per_order: gateway.exactly_one === total && gateway.none === 0 && gateway.more_than_one === 0 && gateway.checkout_payment_keys === total,
      captured_equals_order_totals: Number(gateway.captured_cents) === Number(orders.total_cents),
      stock_sold_equals_units: inventory.every((r) => r.sold === (expectedSold.get(r.variant_id) ?? 0)) && Number(itemUnits[0]?.n ?? 0) === unitsBought,
      nothing_left_held: inventory.every((r) => r.reserved === 0) && Number(held[0]?.n) === 0,
      no_oversell: inventory.every((r) => r.reserved + r.sold <= r.total_stock),
    };
    report('checkout', {
      checkouts: timed,
      warmup_checkouts: warmup,
      concurrency,
      variants: variantCount,
      units_bought: unitsBought,
      payments_activities_per_second: config.PAYMENTS_ACTIVITIES_PER_SECOND,
      stripe_calls_per_second: config.STRIPE_CALLS_PER_SECOND,
      statuses: statuses.toJSON(),
      seconds: round(seconds, 2),
      checkouts_per_second: round(timed / seconds),
      latency_ms: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
        mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      },
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
