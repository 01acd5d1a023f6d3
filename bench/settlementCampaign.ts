import { randomUUID } from 'node:crypto';
import { ledgerSummary } from '../src/campaigns/ledger';
import type { CampaignLifecycleResult } from '../src/campaigns/contract';
import { createPaymentService } from '../src/payments/paymentService';
import { type BenchEnvironment, bulkUsers, runConcurrently } from './harness';

/**
 * One campaign with many active pledges settled through the real lifecycle workflow (bench:settlement,
 * bench:invoices): the campaign and its pledges with real payment records prepared (not timed), the launch through
 * the API with the deadline a few seconds away, the span from the decision to 'settled' measured, and what
 * settlement left checked (every pledge collected once at the gateway, totals and ledger exact).
 */

export type PledgeMode = 'save_card' | 'authorize';
export const PLEDGE_MODES = ['save_card', 'authorize', 'mixed'] as const;
export type PledgeModeSetting = (typeof PLEDGE_MODES)[number];

export interface SettlementCampaign {
  campaignId: string;
  creator: { id: string; auth: string };
  pledges: number;
  expectedCents: number;
  /** Seconds per setup phase. */
  setup: Record<string, number>;
}

const secondsSince = (t: number) => (performance.now() - t) / 1000;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The draft campaign and `total` active pledges with real payment records (saved cards or holds at the gateway). */
export async function prepareSettlementCampaign(
  env: BenchEnvironment,
  opts: { total: number; mode: PledgeModeSetting; setupConcurrency: number; log: (msg: string) => void },
): Promise<SettlementCampaign> {
  const { services } = env;
  const { db } = services;
  const { total, log } = opts;
  const modeOf = (i: number): PledgeMode => (opts.mode === 'mixed' ? (i % 2 === 0 ? 'save_card' : 'authorize') : opts.mode);
  const setup: Record<string, number> = {};
  let phase = performance.now();
  const mark = (name: string) => {
    setup[name] = round(secondsSince(phase));
    log(`setup: ${name} ${setup[name]} s`);
    phase = performance.now();
  };

  // ---- Accounts and the campaign (a draft: launched later, once its pledges exist) ----
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
  await runConcurrently(total, opts.setupConcurrency, async (i) => {
    const p = pledges[i]!;
    const record =
      p.payment_mode === 'save_card'
        ? await paymentService.savePaymentMethod({ businessKey: p.payment_key, paymentMethod: p.payment_method, customerRef: p.backer_id })
        : await paymentService.authorizePayment({ businessKey: p.payment_key, amountCents: p.amount_cents, currency: p.currency, paymentMethod: p.payment_method, customerRef: p.backer_id });
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
  return { campaignId, creator: creator!, pledges: total, expectedCents, setup };
}

export interface SettlementRun {
  /** From the campaign leaving 'live' (the decision) to 'settled', polled every 50 ms. */
  seconds: number;
  /** The same span from Postgres' own clock (both are transaction start times). */
  dbDecidedToSettledSeconds: number;
  deadlineToDecidedSeconds: number;
  launchSeconds: number;
}

/** Launches the campaign through the API with its deadline `deadlineSeconds` away and waits for 'settled' (workers must run). */
export async function launchAndSettle(
  env: BenchEnvironment,
  campaign: SettlementCampaign,
  opts: { deadlineSeconds: number; timeoutSeconds: number; log: (msg: string) => void },
): Promise<SettlementRun> {
  const { db } = env.services;
  const { campaignId, creator } = campaign;
  const launchStarted = performance.now();
  await db('campaigns').where({ id: campaignId }).update({ ends_at: new Date(Date.now() + opts.deadlineSeconds * 1000) });
  const launched = await fetch(`${env.baseUrl}/v1/campaigns/${campaignId}/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: creator.auth },
    body: '{}',
  });
  const launchBody = (await launched.json()) as { status?: string };
  if (launched.status !== 200 || launchBody.status !== 'live') throw new Error(`launch answered ${launched.status}: ${JSON.stringify(launchBody)}`);
  const launchSeconds = round(secondsSince(launchStarted));

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
    if (now - waitStarted > opts.timeoutSeconds * 1000) throw new Error(`not settled after ${opts.timeoutSeconds} s (status ${row.status})`);
    if (leftLive !== undefined && now - lastProgress >= 10_000) {
      lastProgress = now;
      const [c] = (await db('pledges').where({ campaign_id: campaignId, status: 'collected' }).count({ n: '*' })) as Array<{ n: string }>;
      const n = Number(c!.n);
      opts.log(`settling: ${n}/${campaign.pledges} collected after ${round(secondsSince(leftLive), 1)} s (${Math.round(n / secondsSince(leftLive))}/s)`);
    }
    await sleep(leftLive === undefined ? 100 : 50);
  }
  const times = (await db('campaigns').where({ id: campaignId }).first('ends_at', 'decided_at', 'settled_at')) as { ends_at: Date; decided_at: Date; settled_at: Date };
  return {
    seconds: (settled - leftLive!) / 1000,
    dbDecidedToSettledSeconds: round((times.settled_at.getTime() - times.decided_at.getTime()) / 1000),
    deadlineToDecidedSeconds: round((times.decided_at.getTime() - times.ends_at.getTime()) / 1000),
    launchSeconds,
  };
}

/** What settlement left: every pledge collected, exactly one succeeded charge per pledge at the gateway, totals and ledger exact. */
export async function checkSettledCampaign(env: BenchEnvironment, campaign: SettlementCampaign) {
  const { db } = env.services;
  const { campaignId, pledges: total, expectedCents } = campaign;
  const client = await env.services.temporal.client();
  const result = (await client.workflow.getHandle(`campaign:${campaignId}`).result()) as CampaignLifecycleResult;
  const row = (await db('campaigns').where({ id: campaignId }).first('status', 'outcome', 'collected_cents')) as { status: string; outcome: string; collected_cents: string | number };
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
  const collected = statuses.collected ?? 0;
  const checks = {
    every_pledge_collected: collected === total && row.status === 'settled' && row.outcome === 'succeeded',
    workflow_result_matches: result.collected === total && result.processed === total && result.failed === 0,
    one_succeeded_charge_per_pledge: gateway.exactly_one === total && gateway.more_than_one === 0 && gateway.none === 0,
    gateway_captured_exact: Number(gateway.captured_cents) === expectedCents,
    collected_total_exact: Number(row.collected_cents) === expectedCents && Number(collectedSum[0]?.s ?? 0) === expectedCents,
    ledger_reconciled: ledger.reconciled && ledger.netCollectedCents === expectedCents,
  };
  return {
    collected,
    checks,
    statuses,
    workflowResult: result,
    gateway,
    ledger: { by_kind: ledger.byKind, net_collected_cents: ledger.netCollectedCents, campaign_collected_cents: ledger.campaignCollectedCents },
  };
}
