import { randomBytes, randomUUID } from 'node:crypto';
import { entriesHash, rankEntries, seedCommitment, verifyDraw } from '../src/domain/draw';
import { closeRegistration, publishedRanking, runDraw, tellEntrants } from '../src/drops/lottery';
import { allPass, benchEnvironment, benchLog, benchShop, bulkUsers, loadAverage, percentile, positiveInt, report, round, runBench } from './harness';

/**
 * Lottery draw time for many entries (100,000 by default), two ways:
 *   - pure: the ranking function itself (src/domain/draw.ts: HMAC-SHA256(seed, entry id) per entry, then a sort),
 *     and the entries hash and the verifier over the same ids, in memory, repeated;
 *   - postgres: a lottery drop with that many entry rows, then what the drop workflow's activities do at close
 *     and at the draw: closeRegistration (reads every id, publishes the entries hash), runDraw (reads the ids,
 *     ranks them, writes rank and won/waitlisted in pages, one transaction) and telling every entrant won or
 *     waitlisted (tellEntrants, as the drawLottery activity does after runDraw).
 * Afterwards: ranks 1..N each once, exactly `quantity` winners, the ranking stored in Postgres equals the ranking
 * recomputed from the seed, the published data passes the verifier, and every entrant has one notification.
 *
 *   npm run bench:draw
 *   BENCH_DRAW_ENTRIES=100000   entries
 *   BENCH_DRAW_QUANTITY=100     units (winners)
 *   BENCH_DRAW_REPEATS=5        repetitions of the pure functions (median and min reported)
 *   BENCH_DRAW_DB=true          false: the pure part only (no database)
 *   BENCH_DRAW_TELL=true        false: skip telling the entrants (one notification statement per page of 500)
 */

const log = benchLog('draw');

/** Median and minimum of `repeats` timed calls, in ms. */
function timeRepeated(repeats: number, fn: () => unknown): { median_ms: number; min_ms: number } {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return { median_ms: round(percentile(times, 50)), min_ms: round(Math.min(...times)) };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t = performance.now();
  const result = await fn();
  return { result, seconds: round((performance.now() - t) / 1000, 2) };
}

function pureDraw(entries: number, quantity: number, repeats: number) {
  const seed = randomBytes(32).toString('hex');
  const ids = Array.from({ length: entries }, () => randomUUID());
  rankEntries(seed, ids.slice(0, 1000)); // JIT warm-up
  let ranking: string[] = [];
  const rank = timeRepeated(repeats, () => (ranking = rankEntries(seed, ids)));
  const hash = timeRepeated(repeats, () => entriesHash(ids));
  const published = { seed, seed_commitment: seedCommitment(seed), entries_hash: entriesHash(ids), quantity, ranking, winners: ranking.slice(0, quantity) };
  let verified = false;
  const verify = timeRepeated(repeats, () => (verified = verifyDraw(published).ok));
  return { entries, repeats, rank_entries: rank, entries_hash: hash, verify_draw: verify, verifier_accepts: verified };
}

async function postgresDraw(entries: number, quantity: number, tell: boolean) {
  const env = await benchEnvironment();
  try {
    const { services } = env;
    const { db } = services;
    const setupStarted = performance.now();
    const { merchant, storeId, variantId } = await benchShop(env, { stock: quantity, name: 'Bench drops' });
    const seed = randomBytes(32).toString('hex');
    const [drop] = (await db('drops')
      .insert({
        store_id: storeId,
        variant_id: variantId,
        created_by: merchant.id,
        mode: 'lottery',
        status: 'open',
        quantity,
        price_cents: 19_900,
        currency: 'USD',
        opens_at: new Date(Date.now() - 3_600_000),
        closes_at: new Date(),
        claim_window_seconds: 3_600,
        seed,
        seed_commitment: seedCommitment(seed),
      })
      .returning('id')) as Array<{ id: string }>;
    const dropId = drop!.id;
    // Entrants and their entries written in bulk: the benchmark measures the draw, not registration.
    const users = await bulkUsers(services, entries);
    for (let i = 0; i < entries; i += 5_000) {
      await db('drop_entries').insert(users.slice(i, i + 5_000).map((u) => ({ drop_id: dropId, user_id: u.id, payment_method: 'pm_card_visa' })));
    }
    await db.raw('ANALYZE drop_entries');
    const setupSeconds = round((performance.now() - setupStarted) / 1000, 2);
    log(`setup: ${entries} entries in ${setupSeconds} s; closing registration and drawing`);

    const loadBefore = loadAverage();
    const close = await timed(() => closeRegistration(db, dropId));
    log(`closeRegistration: ${close.seconds} s`);
    const draw = await timed(() => runDraw(db, dropId));
    log(`runDraw: ${draw.seconds} s (${draw.result.winners} won, ${draw.result.waitlisted} waitlisted)`);
    let tellWon: { result: number; seconds: number } | undefined;
    let tellWaitlisted: { result: number; seconds: number } | undefined;
    if (tell) {
      tellWon = await timed(() => tellEntrants(db, dropId, 'won'));
      tellWaitlisted = await timed(() => tellEntrants(db, dropId, 'waitlisted'));
      log(`tellEntrants: won ${tellWon.seconds} s, waitlisted ${tellWaitlisted.seconds} s`);
    }
    const loadAfter = loadAverage();

    // ---- Checks ----
    const dropRow = (await db('drops').where({ id: dropId }).first('status', 'entries_hash', 'entries_count', 'seed_commitment')) as {
      status: string;
      entries_hash: string;
      entries_count: number;
      seed_commitment: string;
    };
    const ranks = (await db('drop_entries')
      .where({ drop_id: dropId })
      .select(
        db.raw('count(DISTINCT rank)::int AS distinct_ranks'),
        db.raw('min(rank)::int AS min_rank'),
        db.raw('max(rank)::int AS max_rank'),
        db.raw("count(*) FILTER (WHERE status = 'won')::int AS won"),
        db.raw("count(*) FILTER (WHERE status = 'waitlisted')::int AS waitlisted"),
        db.raw("bool_and((status = 'won') = (rank <= ?)) AS winners_are_top_ranks", [quantity]),
      )
      .first()) as { distinct_ranks: number; min_rank: number; max_rank: number; won: number; waitlisted: number; winners_are_top_ranks: boolean };
    const ranking = await publishedRanking(db, dropId);
    const recomputed = rankEntries(seed, ranking);
    const verified = verifyDraw({
      seed,
      seed_commitment: dropRow.seed_commitment,
      entries_hash: dropRow.entries_hash,
      quantity,
      ranking,
      winners: ranking.slice(0, quantity),
    });
    const notifications = tell
      ? Number(((await db('notifications').whereIn('type', ['drop_won', 'drop_waitlisted']).count({ n: '*' })) as Array<{ n: string }>)[0]!.n)
      : undefined;
    const checks: Record<string, boolean> = {
      drop_claiming: dropRow.status === 'claiming' && dropRow.entries_count === entries,
      ranks_1_to_n_once: ranks.distinct_ranks === entries && ranks.min_rank === 1 && ranks.max_rank === entries,
      quantity_winners: ranks.won === Math.min(quantity, entries) && ranks.waitlisted === entries - ranks.won && ranks.winners_are_top_ranks,
      stored_ranking_recomputes: recomputed.length === entries && recomputed.every((id, i) => id === ranking[i]),
      verifier_accepts: verified.ok,
      ...(tell ? { one_notification_per_entrant: notifications === entries } : {}),
    };
    const drawActivitySeconds = round(draw.seconds + (tellWon?.seconds ?? 0) + (tellWaitlisted?.seconds ?? 0), 2);
    return {
      entries,
      quantity,
      close_registration_seconds: close.seconds,
      run_draw_seconds: draw.seconds,
      tell_won_seconds: tellWon?.seconds,
      tell_waitlisted_seconds: tellWaitlisted?.seconds,
      tell_entrants_per_second: tellWaitlisted ? Math.round(tellWaitlisted.result / Math.max(0.001, tellWaitlisted.seconds)) : undefined,
      // What the drawLottery activity does: runDraw, then telling winners and the waitlist.
      draw_activity_seconds: tell ? drawActivitySeconds : undefined,
      setup_seconds: setupSeconds,
      load_average_before: loadBefore,
      load_average_after: loadAfter,
      ranks,
      notifications,
      checks,
      ok: allPass(checks),
    };
  } finally {
    await env.close();
  }
}

async function main(): Promise<void> {
  const entries = positiveInt('BENCH_DRAW_ENTRIES', 100_000);
  const quantity = positiveInt('BENCH_DRAW_QUANTITY', 100);
  const repeats = positiveInt('BENCH_DRAW_REPEATS', 5);
  const withDb = process.env.BENCH_DRAW_DB !== 'false';
  const tell = process.env.BENCH_DRAW_TELL !== 'false';

  const loadBefore = loadAverage();
  const pure = pureDraw(entries, quantity, repeats);
  log(`pure: rankEntries ${pure.rank_entries.median_ms} ms (median of ${repeats}), entriesHash ${pure.entries_hash.median_ms} ms, verifyDraw ${pure.verify_draw.median_ms} ms`);
  const postgres = withDb ? await postgresDraw(entries, quantity, tell) : undefined;
  const ok = pure.verifier_accepts && (postgres?.ok ?? true);
  report('draw', { load_average_before: loadBefore, pure, postgres, ok });
}

runBench(main);
