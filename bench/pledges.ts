import { randomUUID } from 'node:crypto';
import { liveTotalsKey, readTotals } from '../src/campaigns/liveTotals';
import { ratioTo, runBaseline } from './baseline';
import { allPass, benchEnvironment, bulkUsers, httpRequest, loadAverage, percentile, positiveInt, report, runBench, runConcurrently } from './harness';

/**
 * Pledges per second accepted into ONE hot campaign over HTTP (idempotency key, tier gate, authorization
 * through the simulated gateway, totals, ledger, notifications), then checks the totals are exact.
 *   npm run bench:pledges   (BENCH_PLEDGES=2000 BENCH_CONCURRENCY=32)
 * First, in the same process, the bare `postgres` baseline (bench/baseline.ts: one conditional UPDATE of one hot
 * row per request) with the same client, concurrency and number of requests; `ratio_to_baseline` = accepted
 * pledges/s ÷ its requests/s.
 */
async function main(): Promise<void> {
  const total = positiveInt('BENCH_PLEDGES', 2000);
  const concurrency = positiveInt('BENCH_CONCURRENCY', 32);
  const loadBefore = loadAverage();
  const baseline = await runBaseline('postgres', { requests: total, concurrency });
  const env = await benchEnvironment();
  try {
    const { services, baseUrl } = env;
    const [creator] = await bulkUsers(services, 1, 'creator');
    const backers = await bulkUsers(services, total);
    const campaignId = randomUUID();
    await services.db('campaigns').insert({
      id: campaignId,
      owner_id: creator!.id,
      title: 'Hot campaign',
      category: 'technology',
      goal_cents: 1_000_000,
      currency: 'USD',
      status: 'live',
      starts_at: new Date(Date.now() - 60_000),
      // Inside the hold window: every pledge authorizes at once (the heavier path).
      ends_at: new Date(Date.now() + 3_600_000),
      launched_at: new Date(),
    });
    const [tier] = await services.db('reward_tiers').insert({ campaign_id: campaignId, position: 0, title: 'Backer', min_amount_cents: 1_000 }).returning('id');

    // Warm the live counters as the campaign page would, so the run also measures keeping them current.
    await readTotals(services, campaignId);
    const statuses = new Map<number, number>();
    let accepted = 0;
    let expectedCents = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const latencies = await runConcurrently(total, concurrency, async (i) => {
      const amount = 1_000 + (i % 50) * 100;
      const status = await httpRequest(`${baseUrl}/v1/campaigns/${campaignId}/pledges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: backers[i]!.auth, 'idempotency-key': `bench-${i}` },
        body: JSON.stringify({ amount_cents: amount, reward_tier_id: tier.id, payment_method: 'pm_card_visa' }),
      });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 201) {
        accepted++;
        expectedCents += amount;
      }
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const loadAfter = loadAverage();

    const campaign = await services.db('campaigns').where({ id: campaignId }).first('pledged_cents', 'backer_count');
    const [ledger] = (await services
      .db('ledger_transactions')
      .where({ campaign_id: campaignId, kind: 'authorization' })
      .select(services.db.raw('count(*)::int AS count, coalesce(sum(amount_cents), 0)::bigint AS cents'))) as Array<{ count: number; cents: number }>;
    const slots = (await services.db('reward_tiers').where({ id: tier.id }).first('claimed')) as { claimed: number };
    const redisTotals = await services.redis.hgetall(liveTotalsKey(campaignId));
    const pledgesPerSecond = Math.round(accepted / seconds);
    const checks = {
      every_pledge_accepted: accepted === total,
      totals_exact: campaign.pledged_cents === expectedCents && campaign.backer_count === accepted,
      redis_totals_exact: Number(redisTotals.pledged_cents) === expectedCents && Number(redisTotals.backer_count) === accepted,
      ledger_exact: ledger!.count === accepted && Number(ledger!.cents) === expectedCents,
      tier_slots_exact: slots.claimed === accepted,
    };
    report('pledges', {
      pledges: total,
      concurrency,
      accepted,
      statuses: Object.fromEntries(statuses),
      pledges_per_second: pledgesPerSecond,
      // The bench process's CPU (API, load generator; not Postgres or Redis) over the timed span, per pledge.
      cpu_ms_per_pledge: Math.round(((cpu.user + cpu.system) / 1000 / total) * 100) / 100,
      latency_ms: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) },
      baseline: { kind: baseline.kind, requests: baseline.requests, concurrency: baseline.concurrency, per_second: baseline.per_second, p50_ms: baseline.p50_ms, p99_ms: baseline.p99_ms },
      ratio_to_baseline: ratioTo(baseline, pledgesPerSecond),
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      postgres_totals: campaign,
      expected: { pledged_cents: expectedCents, backer_count: accepted },
      ledger_authorizations: ledger!.count,
      checks,
      ok: allPass(checks),
    });
  } finally {
    await env.close();
  }
}

runBench(main);
