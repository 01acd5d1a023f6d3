import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { ledgerSummary } from '../src/campaigns/ledger';
import { createPaymentService } from '../src/payments/paymentService';
import { createWorkers } from '../src/workers/worker';
import { allPass, benchEnvironment, bulkUsers, positiveInt, report, runBench, runConcurrently, settingsFromEnv } from './harness';
import { type CampaignLifecycleResult } from '../src/campaigns/contract';

/**
 * Settlement throughput: pledges collected per second when ONE campaign with many active pledges reaches its
 * deadline, through the real lifecycle workflow and the real workers (in this process) on a Temporal dev
 * server: decision, then settlePledgeBatch pages on the rate-limited payments queue, each pledge charged
 * off-session (saved card) or captured (hold) through the simulated gateway, ledger and totals updated.
 * Afterwards it checks every pledge was collected, the gateway holds exactly one succeeded charge per pledge,
 * and the ledger reconciles with the campaign's collected total.
 *
 *   npm run bench:settlement
 *   BENCH_SETTLEMENT_PLEDGES=10000        pledges in the campaign
 *   BENCH_SETTLEMENT_MODE=save_card       save_card (charged off-session), authorize (hold captured) or mixed
 *   BENCH_SETUP_CONCURRENCY=16            payment calls in flight while preparing the pledges (not timed)
 *   BENCH_SETTLEMENT_DEADLINE_SECONDS=5   deadline this long after launch
 *   BENCH_SETTLEMENT_TIMEOUT_SECONDS=1800 give up waiting for 'settled' after this long
 *   SETTLEMENT_BATCH_SIZE, SETTLEMENT_CONCURRENCY, PAYMENTS_ACTIVITIES_PER_SECOND   platform settings
 */

type Mode = 'save_card' | 'authorize';
const MODES = ['save_card', 'authorize', 'mixed'] as const;

const log = (msg: string) => console.error(`[bench:settlement] ${msg}`);
const secondsSince = (t: number) => (performance.now() - t) / 1000;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Platform settings the benchmark passes through from the environment (the harness does not read process.env). */
const platformSettings = () => settingsFromEnv(['SETTLEMENT_BATCH_SIZE', 'SETTLEMENT_CONCURRENCY', 'PAYMENTS_ACTIVITIES_PER_SECOND']);

async function main(): Promise<void> {
  // Before anything creates the Temporal runtime (the dev server does): SDK warnings only, not every state change.
  Runtime.install({ logger: new DefaultLogger((process.env.BENCH_TEMPORAL_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });
  const total = positiveInt('BENCH_SETTLEMENT_PLEDGES', 10_000);
  const modeSetting = (process.env.BENCH_SETTLEMENT_MODE || 'save_card') as (typeof MODES)[number];
  if (!MODES.includes(modeSetting)) throw new Error(`BENCH_SETTLEMENT_MODE must be one of ${MODES.join(', ')}`);
  const setupConcurrency = positiveInt('BENCH_SETUP_CONCURRENCY', 16);
  const deadlineSeconds = positiveInt('BENCH_SETTLEMENT_DEADLINE_SECONDS', 5);
  const timeoutSeconds = positiveInt('BENCH_SETTLEMENT_TIMEOUT_SECONDS', 1_800);
  const modeOf = (i: number): Mode => (modeSetting === 'mixed' ? (i % 2 === 0 ? 'save_card' : 'authorize') : modeSetting);

  const setupStarted = performance.now();
  const setup: Record<string, number> = {};
  let phase = performance.now();
  const mark = (name: string) => {
    setup[name] = round(secondsSince(phase));
    log(`setup: ${name} ${setup[name]} s`);
    phase = performance.now();
  };

  const env = await benchEnvironment({ temporal: true, settings: platformSettings() });
  let workers: Awaited<ReturnType<typeof createWorkers>> | undefined;
  let running: Promise<void> | undefined;
  const bundlePath = path.join(os.tmpdir(), `pledgeflow-bench-workflows-${process.pid}.js`);
  try {
    const { services, baseUrl, config } = env;
    const { db } = services;
    mark('environment_seconds');

    // ---- Accounts and the campaign (a draft: launched below, once its pledges exist) ----
    const [creator] = await bulkUsers(services, 1, 'creator');
    const backers = await bulkUsers(services, total);
    const amounts = Array.from({ length: total }, (_, i) => 1_000 + (i % 50) * 100);
    const expectedCents = amounts.reduce((a, b) => a + b, 0);
    const campaignId = randomUUID();
    await db('campaigns').insert({
      id: campaignId,
      owner_id: creator!.id,
      title: 'Settlement benchmark',
      description: 'One campaign, many active pledges, collected at the deadline',
      category: 'technology',
      // Half of what is pledged: the campaign always succeeds, so every pledge is collected.
      goal_cents: Math.max(1, Math.floor(expectedCents / 2)),
      currency: 'USD',
      funding_model: 'all_or_nothing',
      status: 'draft',
      // Moved to just after launch once setup is done (setup time must not eat into the live period).
      ends_at: new Date(Date.now() + 86_400_000),
    });
    mark('accounts_seconds');

    // ---- Pledges with real payment records (payments rows + the simulated gateway's own state) ----
    const pledges = amounts.map((amount, i) => {
      const id = randomUUID();
      const mode = modeOf(i);
      return {
        id,
        campaign_id: campaignId,
        backer_id: backers[i]!.id,
        reward_tier_id: null,
        amount_cents: amount,
        currency: 'USD',
        status: 'pending',
        payment_mode: mode,
        payment_method: 'pm_card_visa',
        payment_key: mode === 'save_card' ? `pledge:${id}:setup` : `pledge:${id}:authorize`,
      };
    });
    for (let i = 0; i < pledges.length; i += 1000) await db('pledges').insert(pledges.slice(i, i + 1000));

    const paymentService = createPaymentService(services);
    const made: Array<{ customerId: string | null; paymentMethod: string | null; providerPaymentId: string | null; provider: string }> = new Array(total);
    let done = 0;
    const paymentsStarted = performance.now();
    await runConcurrently(total, setupConcurrency, async (i) => {
      const p = pledges[i]!;
      const record =
        p.payment_mode === 'save_card'
          ? await paymentService.savePaymentMethod({ businessKey: p.payment_key, paymentMethod: p.payment_method, customerRef: p.backer_id })
          : await paymentService.authorizePayment({
              businessKey: p.payment_key,
              amountCents: p.amount_cents,
              currency: p.currency,
              paymentMethod: p.payment_method,
              customerRef: p.backer_id,
            });
      const expected = p.payment_mode === 'save_card' ? 'succeeded' : 'requires_capture';
      if (record.status !== expected) throw new Error(`setup payment for pledge ${p.id} is ${record.status}, expected ${expected}`);
      made[i] = {
        customerId: record.providerCustomerId ?? null,
        paymentMethod: record.providerPaymentMethod ?? null,
        providerPaymentId: record.providerPaymentId ?? null,
        provider: record.provider,
      };
      if (++done % 2000 === 0) log(`setup: ${done}/${total} payments (${Math.round(done / secondsSince(paymentsStarted))}/s)`);
    });
    mark('payments_seconds');

    // Activate in bulk (what each pledge request's final transaction does, done once for all of them).
    await db.transaction(async (trx) => {
      for (let i = 0; i < total; i += 1000) {
        const slice = pledges.slice(i, i + 1000);
        const values = slice.map((p, j) => [p.id, made[i + j]!.customerId, made[i + j]!.paymentMethod]);
        await trx.raw(
          `UPDATE pledges p SET status = 'active', provider_customer_id = v.customer_id, provider_payment_method = v.payment_method, updated_at = now()
             FROM (VALUES ${values.map(() => '(?::uuid, ?::text, ?::text)').join(', ')}) AS v(id, customer_id, payment_method)
            WHERE p.id = v.id`,
          values.flat(),
        );
        const holds = slice
          .map((p, j) => ({ p, m: made[i + j]! }))
          .filter(({ p }) => p.payment_mode === 'authorize')
          .map(({ p, m }) => ({
            campaign_id: campaignId,
            pledge_id: p.id,
            kind: 'authorization',
            amount_cents: p.amount_cents,
            currency: 'USD',
            provider: m.provider,
            provider_id: m.providerPaymentId!,
            business_key: p.payment_key,
          }));
        if (holds.length) await trx('ledger_transactions').insert(holds);
      }
      await trx('campaigns').where({ id: campaignId }).update({ pledged_cents: expectedCents, backer_count: total });
    });
    mark('activate_seconds');

    // ---- Workers in this process (workflow bundle built quietly first) ----
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => log(m), log: () => undefined },
    });
    fs.writeFileSync(bundlePath, bundle.code);
    workers = await createWorkers(services, { workflowBundlePath: bundlePath });
    running = workers.run();
    mark('workers_seconds');

    // ---- Launch through the API, with the deadline a few seconds away ----
    await db('campaigns').where({ id: campaignId }).update({ ends_at: new Date(Date.now() + deadlineSeconds * 1000) });
    const launched = await fetch(`${baseUrl}/v1/campaigns/${campaignId}/launch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: creator!.auth },
      body: '{}',
    });
    const launchBody = (await launched.json()) as { status?: string };
    if (launched.status !== 200 || launchBody.status !== 'live') throw new Error(`launch answered ${launched.status}: ${JSON.stringify(launchBody)}`);
    mark('launch_seconds');
    const setupSeconds = round(secondsSince(setupStarted));
    log(`setup done in ${setupSeconds} s; ${total} ${modeSetting} pledges, deadline in ${deadlineSeconds} s`);

    // ---- Measure: status leaves 'live' (the decision) → 'settled' ----
    let leftLive: number | undefined;
    let settled: number | undefined;
    let lastProgress = performance.now();
    const waitStarted = performance.now();
    for (;;) {
      const row = (await db('campaigns').where({ id: campaignId }).first('status')) as { status: string };
      const now = performance.now();
      if (leftLive === undefined && row.status !== 'live') leftLive = now;
      if (row.status === 'settled') {
        settled = now;
        break;
      }
      if (now - waitStarted > timeoutSeconds * 1000) throw new Error(`not settled after ${timeoutSeconds} s (status ${row.status})`);
      if (leftLive !== undefined && now - lastProgress >= 10_000) {
        lastProgress = now;
        const [c] = (await db('pledges').where({ campaign_id: campaignId, status: 'collected' }).count({ n: '*' })) as Array<{ n: string }>;
        const n = Number(c!.n);
        log(`settling: ${n}/${total} collected after ${round(secondsSince(leftLive), 1)} s (${Math.round(n / secondsSince(leftLive))}/s)`);
      }
      await sleep(leftLive === undefined ? 100 : 50);
    }
    const seconds = (settled - leftLive!) / 1000;

    // ---- Check ----
    const client = await services.temporal.client();
    const result = (await client.workflow.getHandle(`campaign:${campaignId}`).result()) as CampaignLifecycleResult;
    const campaign = (await db('campaigns')
      .where({ id: campaignId })
      .first('status', 'outcome', 'pledged_cents', 'backer_count', 'collected_cents', 'ends_at', 'decided_at', 'settled_at')) as {
      status: string;
      outcome: string;
      pledged_cents: string | number;
      backer_count: number;
      collected_cents: string | number;
      ends_at: Date;
      decided_at: Date;
      settled_at: Date;
    };
    const statusRows = (await db('pledges').where({ campaign_id: campaignId }).groupBy('status').select('status').count({ n: '*' })) as Array<{ status: string; n: string }>;
    const statuses = Object.fromEntries(statusRows.map((r) => [r.status, Number(r.n)]));
    const collectedSum = (await db('pledges').where({ campaign_id: campaignId, status: 'collected' }).sum({ s: 'collected_cents' })) as Array<{ s: string | null }>;
    // The gateway's own records: per pledge, how many intents took money (keyed by our business key).
    const perPledge = (await db.raw(
      `WITH ours AS (SELECT id::text AS pledge_id, amount_cents FROM pledges WHERE campaign_id = ?),
            taken AS (
              SELECT substring(metadata->>'business_key' from '^pledge:([0-9a-f-]{36}):') AS pledge_id,
                     count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                     coalesce(sum(captured_cents), 0)::bigint AS captured
                FROM sim_payment_intents GROUP BY 1)
       SELECT count(*) FILTER (WHERE t.succeeded = 1 AND t.captured = o.amount_cents)::int AS exactly_one,
              count(*) FILTER (WHERE coalesce(t.succeeded, 0) = 0)::int AS none,
              count(*) FILTER (WHERE t.succeeded > 1)::int AS more_than_one,
              coalesce(sum(t.captured), 0)::bigint AS captured_cents
         FROM ours o LEFT JOIN taken t ON t.pledge_id = o.pledge_id`,
      [campaignId],
    )) as { rows: Array<{ exactly_one: number; none: number; more_than_one: number; captured_cents: string }> };
    const gateway = perPledge.rows[0]!;
    const ledger = await ledgerSummary(db, campaignId);
    const outbox = (await db('outbox').select(db.raw('count(*)::int AS total'), db.raw('count(delivered_at)::int AS delivered')).first()) as { total: number; delivered: number };

    const collected = statuses.collected ?? 0;
    const checks = {
      every_pledge_collected: collected === total && campaign.status === 'settled' && campaign.outcome === 'succeeded',
      workflow_result_matches: result.collected === total && result.processed === total && result.failed === 0,
      one_succeeded_charge_per_pledge: gateway.exactly_one === total && gateway.more_than_one === 0 && gateway.none === 0,
      gateway_captured_exact: Number(gateway.captured_cents) === expectedCents,
      collected_total_exact: Number(campaign.collected_cents) === expectedCents && Number(collectedSum[0]?.s ?? 0) === expectedCents,
      ledger_reconciled: ledger.reconciled && ledger.netCollectedCents === expectedCents,
    };
    report('settlement', {
      pledges: total,
      payment_mode: modeSetting,
      settlement_batch_size: config.SETTLEMENT_BATCH_SIZE,
      settlement_concurrency: config.SETTLEMENT_CONCURRENCY,
      payments_activities_per_second: config.PAYMENTS_ACTIVITIES_PER_SECOND,
      collected,
      pledges_per_second: Math.round(collected / seconds),
      settlement_seconds: round(seconds),
      // The same span from Postgres' own clock (both are transaction start times; ±50 ms polling above).
      db_decided_to_settled_seconds: round((campaign.settled_at.getTime() - campaign.decided_at.getTime()) / 1000),
      deadline_to_decided_seconds: round((campaign.decided_at.getTime() - campaign.ends_at.getTime()) / 1000),
      setup_seconds: setupSeconds,
      setup,
      checks,
      ok: allPass(checks),
      statuses,
      workflow_result: result,
      gateway,
      ledger: { by_kind: ledger.byKind, net_collected_cents: ledger.netCollectedCents, campaign_collected_cents: ledger.campaignCollectedCents },
      expected_cents: expectedCents,
      outbox_after_settlement: outbox,
    });
  } finally {
    if (workers) {
      workers.shutdown();
      await running?.catch((err: unknown) => log(`worker stopped with an error: ${String(err)}`));
      await workers.connection.close().catch(() => undefined);
    }
    fs.rmSync(bundlePath, { force: true });
    await env.close();
  }
}

runBench(main);
