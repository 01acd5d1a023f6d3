import { DefaultLogger, Runtime } from '@temporalio/worker';
import { allPass, benchEnvironment, benchLog, positiveInt, report, runBench, settingsFromEnv, startBenchWorkers } from './harness';
import { checkSettledCampaign, launchAndSettle, PLEDGE_MODES, prepareSettlementCampaign, type PledgeModeSetting } from './settlementCampaign';

/**
 * Settlement throughput: pledges collected per second when ONE campaign with many active pledges reaches its
 * deadline, through the real lifecycle workflow and the real workers (in this process) on a Temporal dev
 * server: decision, then settlePledgeBatch pages on the rate-limited payments queue, each pledge charged
 * off-session (saved card) or captured (hold) through the simulated gateway, ledger and totals updated.
 * Afterwards it checks every pledge was collected, the gateway holds exactly one succeeded charge per pledge,
 * and the ledger reconciles with the campaign's collected total (bench/settlementCampaign.ts).
 *
 *   npm run bench:settlement
 *   BENCH_SETTLEMENT_PLEDGES=10000        pledges in the campaign
 *   BENCH_SETTLEMENT_MODE=save_card       save_card (charged off-session), authorize (hold captured) or mixed
 *   BENCH_SETUP_CONCURRENCY=16            payment calls in flight while preparing the pledges (not timed)
 *   BENCH_SETTLEMENT_DEADLINE_SECONDS=5   deadline this long after launch
 *   BENCH_SETTLEMENT_TIMEOUT_SECONDS=1800 give up waiting for 'settled' after this long
 *   SETTLEMENT_BATCH_SIZE, SETTLEMENT_CONCURRENCY, PAYMENTS_ACTIVITIES_PER_SECOND   platform settings
 */

const log = benchLog('settlement');
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Platform settings the benchmark passes through from the environment (the harness does not read process.env). */
const platformSettings = () => settingsFromEnv(['SETTLEMENT_BATCH_SIZE', 'SETTLEMENT_CONCURRENCY', 'PAYMENTS_ACTIVITIES_PER_SECOND']);

async function main(): Promise<void> {
  // Before anything creates the Temporal runtime (the dev server does): SDK warnings only, not every state change.
  Runtime.install({ logger: new DefaultLogger((process.env.BENCH_TEMPORAL_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });
  const total = positiveInt('BENCH_SETTLEMENT_PLEDGES', 10_000);
  const mode = (process.env.BENCH_SETTLEMENT_MODE || 'save_card') as PledgeModeSetting;
  if (!PLEDGE_MODES.includes(mode)) throw new Error(`BENCH_SETTLEMENT_MODE must be one of ${PLEDGE_MODES.join(', ')}`);
  const setupConcurrency = positiveInt('BENCH_SETUP_CONCURRENCY', 16);
  const deadlineSeconds = positiveInt('BENCH_SETTLEMENT_DEADLINE_SECONDS', 5);
  const timeoutSeconds = positiveInt('BENCH_SETTLEMENT_TIMEOUT_SECONDS', 1_800);

  const setupStarted = performance.now();
  const env = await benchEnvironment({ temporal: true, settings: platformSettings() });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const { services, config } = env;
    const environmentSeconds = round((performance.now() - setupStarted) / 1000);
    const campaign = await prepareSettlementCampaign(env, { total, mode, setupConcurrency, log });
    const workersStarted = performance.now();
    workers = await startBenchWorkers(services);
    const workersSeconds = round((performance.now() - workersStarted) / 1000);
    log(`setup done; ${total} ${mode} pledges, deadline in ${deadlineSeconds} s`);

    const run = await launchAndSettle(env, campaign, { deadlineSeconds, timeoutSeconds, log });
    const settled = await checkSettledCampaign(env, campaign);
    const outbox = (await services.db('outbox').select(services.db.raw('count(*)::int AS total'), services.db.raw('count(delivered_at)::int AS delivered')).first()) as { total: number; delivered: number };
    report('settlement', {
      pledges: total,
      payment_mode: mode,
      settlement_batch_size: config.SETTLEMENT_BATCH_SIZE,
      settlement_concurrency: config.SETTLEMENT_CONCURRENCY,
      payments_activities_per_second: config.PAYMENTS_ACTIVITIES_PER_SECOND,
      collected: settled.collected,
      pledges_per_second: Math.round(settled.collected / run.seconds),
      settlement_seconds: round(run.seconds),
      // The same span from Postgres' own clock (both are transaction start times; ±50 ms polling above).
      db_decided_to_settled_seconds: run.dbDecidedToSettledSeconds,
      deadline_to_decided_seconds: run.deadlineToDecidedSeconds,
      setup_seconds: round((performance.now() - setupStarted) / 1000 - run.seconds),
      setup: { environment_seconds: environmentSeconds, ...campaign.setup, workers_seconds: workersSeconds, launch_seconds: run.launchSeconds },
      checks: settled.checks,
      ok: allPass(settled.checks),
      statuses: settled.statuses,
      workflow_result: settled.workflowResult,
      gateway: settled.gateway,
      ledger: settled.ledger,
      expected_cents: campaign.expectedCents,
      outbox_after_settlement: outbox,
    });
  } finally {
    await workers?.stop().catch((err: unknown) => log(`worker stopped with an error: ${String(err)}`));
    await env.close();
  }
}

runBench(main);
