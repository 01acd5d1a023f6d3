import { allPass, benchEnvironment, benchLog, loadAverage, positiveInt, quietTemporalRuntime, report, round, runBench } from './harness';
import { SoakClient } from './soakClient';
import { ledgerCheck, orderChecks, pledgeChecks, stockCheck, workflowCheck, type Check } from './soakChecks';
import { buildWorld, fcfsLoad, lotteryLoad, orderStatusLoad, pledgeLoad, storeLoad } from './soakLoad';
import { chaosLoop, startWorker, stopWorker, type Chaos } from './soakWorkers';

/**
 * The chaos soak (issue 11, item 3): a mixed load over HTTP against the real API (in this process) for
 * BENCH_SOAK_MINUTES while the workers run in a separate OS process that is SIGKILLed every 30–60 s and started
 * again, and the bench's Redis database is flushed once half-way. 503s (with Retry-After) are expected while no
 * worker runs and are retried with the same Idempotency-Key. Afterwards, once the system has settled (a bounded
 * wait), everything must reconcile against the simulated gateway's own tables: pledges charged at most once and
 * collected exactly once when their campaign succeeded (nothing taken, holds voided when it failed), orders
 * captured once for their total (or refunded/voided once when cancelled), stock = sold + held + free per
 * variant, the ledger = the gateway, and no workflow running past its deadline. Exits 1 when a check fails.
 *
 *   npm run bench:soak
 *   BENCH_SOAK_MINUTES=5            how long the load runs (1–2 for a quick check)
 *   BENCH_SOAK_KILL_MIN_SECONDS=30  a worker lives this long at least...
 *   BENCH_SOAK_KILL_MAX_SECONDS=60  ...and at most, before its SIGKILL
 *   BENCH_SOAK_SETTLE_SECONDS=240   the longest wait for sweeps, settlements and sagas after the load
 */

const log = benchLog('soak');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Platform settings of both the API (here) and every worker process: short holds, no payments throttle. */
const SETTINGS: Record<string, string> = {
  RESERVATION_TTL: '20s',
  PAYMENTS_ACTIVITIES_PER_SECOND: '1000',
  DROP_RATE_LIMIT_PER_IP: '100000000',
  DROP_RATE_LIMIT_PER_ACCOUNT: '1000',
  // A killed worker's activities are retried once their heartbeat/start-to-close lapses: keep that short.
  WORKER_SHUTDOWN_GRACE_SECONDS: '5',
};

async function main(): Promise<void> {
  quietTemporalRuntime();
  const minutes = Number(process.env.BENCH_SOAK_MINUTES || 5);
  if (!(minutes > 0 && minutes <= 120)) throw new Error('BENCH_SOAK_MINUTES must be a number of minutes between 0 and 120');
  const killMin = positiveInt('BENCH_SOAK_KILL_MIN_SECONDS', 30);
  const killMax = Math.max(killMin, positiveInt('BENCH_SOAK_KILL_MAX_SECONDS', 60));
  const settleSeconds = positiveInt('BENCH_SOAK_SETTLE_SECONDS', 240);
  const loadMs = minutes * 60_000;

  const env = await benchEnvironment({ temporal: true, settings: SETTINGS });
  const { services, config, baseUrl } = env;
  const { db } = services;
  let worker = startWorker(config, SETTINGS);
  let chaos: Chaos | undefined;
  // An unexpected error exits through runBench's process.exit: no worker process may outlive the bench.
  process.once('exit', () => (chaos?.current() ?? worker).child.kill('SIGKILL'));
  try {
    await worker.ready;
    const world = await buildWorld(env, loadMs);
    log(`world ready: ${world.campaigns.length} campaigns, a store with ${world.cartVariants.length} cart variants; load for ${minutes} min`);

    // ---- The load, the kills and the flush ----
    const api = new SoakClient(baseUrl);
    const t0 = performance.now();
    const loadEnd = Date.now() + loadMs;
    const loadBefore = loadAverage();
    chaos = chaosLoop(worker, () => startWorker(config, SETTINGS), { minSeconds: killMin, maxSeconds: killMax, t0, log });
    const flushes: Array<{ at_seconds: number }> = [];
    const flush = (async () => {
      await sleep(loadMs / 2);
      await services.redis.flushdb();
      flushes.push({ at_seconds: round((performance.now() - t0) / 1000) });
      log(`Redis db flushed at ${flushes[0]!.at_seconds} s`);
    })();
    const orders: string[] = [];
    const drops: string[] = [];
    const refundFailed: Array<{ order_id: string; at: string }> = [];
    const progress = setInterval(() => log(`${round((performance.now() - t0) / 1000, 0)} s: ${JSON.stringify(SoakClient.toJSON(api.outcomes))}`), 30_000);
    await Promise.all([
      pledgeLoad(api, world, loadEnd),
      storeLoad(api, world, loadEnd, orders),
      orderStatusLoad(api, world, loadEnd, orders, refundFailed),
      lotteryLoad(api, world, loadEnd, drops),
      fcfsLoad(api, world, loadEnd, drops, orders),
      flush,
    ]);
    clearInterval(progress);
    worker = await chaos.stop();
    const kills = chaos.kills;
    chaos = undefined;
    const loadAfter = loadAverage();
    const loadSeconds = round((performance.now() - t0) / 1000);
    log(`load done in ${loadSeconds} s after ${kills.length} kills; waiting up to ${settleSeconds} s for the system to settle`);

    // ---- Settle: campaigns settled, drops over, no saga running, no order pending, no hold past its expiry ----
    const client = await services.temporal.client();
    const campaignIds = world.campaigns.map((c) => c.id);
    const settleStarted = performance.now();
    let waiting: Record<string, number> = {};
    for (const giveUp = Date.now() + settleSeconds * 1000; Date.now() < giveUp; await sleep(2_000)) {
      const count = async (q: Promise<unknown>) => Number(((await q) as Array<{ n: string }>)[0]!.n);
      let checkouts = 0;
      for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Running"' })) if (wf.workflowId.startsWith('checkout:')) checkouts++;
      waiting = {
        campaigns_not_settled: await count(db('campaigns').whereIn('id', campaignIds).whereNot({ status: 'settled' }).count({ n: '*' })),
        drops_not_over: await count(db('drops').whereIn('id', drops).whereNotIn('status', ['sold_out', 'closed']).count({ n: '*' })),
        orders_pending: await count(db('orders').where({ store_id: world.storeId, status: 'pending' }).count({ n: '*' })),
        holds_expired_not_released: await count(db('reservations').where({ store_id: world.storeId, status: 'held' }).where('expires_at', '<', db.raw("now() - interval '5 seconds'")).count({ n: '*' })),
        checkout_sagas_running: checkouts,
      };
      if (Object.values(waiting).every((n) => n === 0)) break;
    }
    const settledSeconds = round((performance.now() - settleStarted) / 1000);
    log(`settle wait ${settledSeconds} s; still waiting on ${JSON.stringify(waiting)}`);

    // ---- Checks ----
    const checks: Record<string, Check> = {
      ...(await pledgeChecks(db, campaignIds)),
      ledger_equals_gateway: await ledgerCheck(db, campaignIds),
      ...(await orderChecks(db, world.storeId)),
      stock_equals_sold_plus_held_plus_free: await stockCheck(db, world.storeId),
      no_workflow_stuck: await workflowCheck(client, db, { checkoutMaxMs: 180_000, settleAllowanceMs: 120_000 }),
      // A 500 is a bug; a 503 must say when to come back (API.md).
      no_500s: { ok: [...api.answers.values()].every((t) => t.get(500) === 0), counts: Object.fromEntries([...api.answers].filter(([, t]) => t.get(500) > 0).map(([op, t]) => [op, t.get(500)])) },
      every_503_has_retry_after: { ok: Object.keys(api.bare503.toJSON()).length === 0, counts: api.bare503.toJSON() },
    };
    const passed = Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, c.ok]));
    const drawn = (await db('drops').whereIn('id', drops).groupBy('mode', 'status').select('mode', 'status').count({ n: '*' })) as Array<{ mode: string; status: string; n: string }>;
    // Cancels answered 502 refund_failed: what the order and its payment went through, to tell a race from a failure.
    const refundFailures = [];
    for (const f of refundFailed.slice(0, 5)) {
      const order = (await db('orders').where({ id: f.order_id }).first('status', 'payment_key', 'created_at')) as { status: string; payment_key: string; created_at: Date };
      const events = await db('payment_events as e')
        .join('payments as p', 'p.id', 'e.payment_id')
        .where('p.business_key', order.payment_key)
        .orderBy('e.id')
        .select('e.type', 'e.from_status', 'e.to_status', 'e.created_at');
      refundFailures.push({ ...f, order_created_at: order.created_at, order_status_now: order.status, payment_events: events });
    }
    report('soak', {
      minutes,
      load_seconds: loadSeconds,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      kills,
      // How long no worker ran, in all: each kill until its successor logged "worker running".
      worker_down_seconds: round(kills.reduce((s, k) => s + (k.restart_ready_seconds ?? 0), 0)),
      flushes,
      retries: api.retries,
      outcomes: SoakClient.toJSON(api.outcomes),
      answers: SoakClient.toJSON(api.answers),
      error_examples: Object.fromEntries(api.examples),
      observations: api.observations.toJSON(),
      cancels_refund_failed: { count: refundFailed.length, first: refundFailures },
      drops: drawn.map((d) => ({ mode: d.mode, status: d.status, n: Number(d.n) })),
      settle_seconds: settledSeconds,
      still_waiting_after_settle: waiting,
      checks,
      passed,
      ok: allPass(passed),
    });
  } finally {
    await stopWorker(chaos?.current() ?? worker, 10_000);
    await env.close();
  }
}

runBench(main);
