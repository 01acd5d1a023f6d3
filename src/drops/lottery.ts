import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import { notify, notifyMany, type NotificationInput } from '../notifications/notify';
import { DRAW_ALGORITHM, entriesHash, rankEntries } from '../domain/draw';
import { refusals } from '../domain/errors';
import { cartHolds } from '../commerce/reservations';
import { dropOfMode, drawSecret, lockDrop, type DropRow } from './repository';

/**
 * The lottery's state changes, each one transaction under the drop row's lock (lockDrop) and each idempotent,
 * so the `drop:<id>` workflow can retry any of them after a crash and nothing happens twice. Postgres is the
 * truth: ranks, windows (claim_expires_at) and outcomes live in drop_entries, never in workflow history.
 *
 * Entry statuses: entered → won | waitlisted (the draw); won → claimed | expired; waitlisted → won (promoted
 * into a freed unit, with a window of its own); waitlisted | won (unclaimed at the end) → lost.
 */

type Conn = Db | Knex.Transaction;

/** Pages of the draw's reads and writes: 100k entries never sit in one statement's parameters. */
const PAGE = 5_000;

export interface EntryRow {
  id: string;
  drop_id: string;
  user_id: string;
  payment_method: string;
  payment_key: string | null;
  status: 'entered' | 'won' | 'waitlisted' | 'claimed' | 'expired' | 'lost';
  rank: number | null;
  claim_expires_at: Date | null;
  claim_attempt: number;
  promoted_at: Date | null;
  order_id: string | null;
  created_at: Date;
}

export const findEntry = async (db: Conn, dropId: string, userId: string): Promise<EntryRow | undefined> =>
  (await db('drop_entries').where({ drop_id: dropId, user_id: userId }).first()) as EntryRow | undefined;

/** All entry ids of a drop, read in keyset pages. */
export async function entryIds(db: Conn, dropId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let after: string | null = null; ; ) {
    const q = db('drop_entries').where({ drop_id: dropId }).orderBy('id').limit(PAGE).pluck('id');
    const page = (await (after ? q.andWhere('id', '>', after) : q)) as string[];
    ids.push(...page);
    if (page.length < PAGE) return ids;
    after = page[page.length - 1]!;
  }
}

/** Ranked entry ids (rank 1 first), as published after the draw. */
export async function publishedRanking(db: Conn, dropId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let after = 0; ; ) {
    const page = (await db('drop_entries').where({ drop_id: dropId }).andWhere('rank', '>', after).orderBy('rank').limit(PAGE).select('id', 'rank')) as Array<{ id: string; rank: number }>;
    ids.push(...page.map((r) => r.id));
    if (page.length < PAGE) return ids;
    after = page[page.length - 1]!.rank;
  }
}

/**
 * The published draw: everything needed to recompute it (seed, commitment, entries hash, algorithm, ranking
 * and winners); `draw_pending` until the draw has run, as the seed stays secret until then.
 */
export async function publishedDraw(db: Conn, dropId: string) {
  const d = await dropOfMode(db, dropId, 'lottery');
  if (!d.drawn_at || !d.entries_hash) throw refusals.conflict('draw_pending', 'The draw has not happened yet; the seed is revealed after it.');
  const ranking = await publishedRanking(db, d.id);
  return {
    drop_id: d.id,
    seed: (await drawSecret(db, d.id))!,
    seed_commitment: d.seed_commitment,
    entries_hash: d.entries_hash,
    entries_count: d.entries_count ?? ranking.length,
    quantity: d.quantity,
    algorithm: DRAW_ALGORITHM,
    ranking,
    winners: ranking.slice(0, d.quantity),
    drawn_at: d.drawn_at.toISOString(),
  };
}

/** open → drawing: registration is over; the entries hash (and count) are published. */
export async function closeRegistration(db: Db, dropId: string): Promise<{ status: string; entries: number }> {
  return db.transaction(async (trx) => {
    const drop = await lockDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    if (drop.status !== 'open') return { status: drop.status, entries: drop.entries_count ?? 0 };
    const ids = await entryIds(trx, dropId);
    await trx('drops').where({ id: dropId }).update({ status: 'drawing', entries_hash: entriesHash(ids), entries_count: ids.length, updated_at: trx.fn.now() });
    return { status: 'drawing', entries: ids.length };
  });
}

/**
 * drawing → claiming: ranks every entry by HMAC(seed, id); the first `quantity` win with a claim window from
 * now, the rest wait in rank order. Written in bulk pages inside one transaction, so a crash leaves either no
 * draw or all of it; a retry after the commit finds the drop claiming and changes nothing.
 */
export async function runDraw(db: Db, dropId: string, onPage: () => void = () => {}): Promise<{ status: string; winners: number; waitlisted: number }> {
  return db.transaction(async (trx) => {
    const drop = await lockDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    if (drop.status !== 'drawing' || drop.drawn_at) return { status: drop.status, ...(await outcomeCounts(trx, dropId)) };
    const seed = (await drawSecret(trx, dropId))!;
    const ranking = rankEntries(seed, await entryIds(trx, dropId));
    const claimExpiresAt = new Date(Date.now() + drop.claim_window_seconds * 1000);
    for (let i = 0; i < ranking.length; i += PAGE) {
      const ids = ranking.slice(i, i + PAGE);
      const ranks = ids.map((_, j) => i + j + 1);
      await trx.raw(
        `UPDATE drop_entries e
            SET rank = v.rank,
                status = CASE WHEN v.rank <= ? THEN 'won' ELSE 'waitlisted' END,
                claim_expires_at = CASE WHEN v.rank <= ? THEN ?::timestamptz ELSE NULL END,
                updated_at = now()
           FROM unnest(?::uuid[], ?::int[]) AS v(id, rank)
          WHERE e.id = v.id AND e.drop_id = ?`,
        [drop.quantity, drop.quantity, claimExpiresAt.toISOString(), ids, ranks, dropId],
      );
      onPage();
    }
    await trx('drops').where({ id: dropId }).update({ status: 'claiming', drawn_at: trx.fn.now(), updated_at: trx.fn.now() });
    const winners = Math.min(drop.quantity, ranking.length);
    return { status: 'claiming', winners, waitlisted: ranking.length - winners };
  });
}

async function outcomeCounts(db: Conn, dropId: string): Promise<{ winners: number; waitlisted: number }> {
  const rows = (await db('drop_entries').where({ drop_id: dropId }).whereIn('status', ['won', 'waitlisted']).groupBy('status').select('status').count('* as n')) as Array<{
    status: string;
    n: string;
  }>;
  const n = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  return { winners: n('won'), waitlisted: n('waitlisted') };
}

export interface ClaimPhase {
  status: string;
  quantity: number;
  sold: number;
  entries: number;
  claimed: number;
  /** Wins whose window is still open. */
  openWins: number;
  waitlisted: number;
  /** The earliest open window's end: the workflow's next timer. */
  nextExpiresAt: string | null;
  /** What this step changed, for the entrants to be told. */
  expired: EntryRow[];
  promoted: EntryRow[];
}

/**
 * One step of the claim phase: records claims whose checkout finished (in case the claiming request died
 * before it could), expires wins whose window has passed, and promotes waitlisted entries, best rank first,
 * into units that are neither sold nor held by an open window. Everything is a conditional UPDATE under the
 * drop lock, so running it twice (a retried activity, a restarted worker) expires and promotes nobody twice.
 */
export async function settleClaims(db: Db, dropId: string, now = new Date()): Promise<ClaimPhase> {
  return db.transaction(async (trx) => {
    const drop = await lockDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    let expired: EntryRow[] = [];
    let promoted: EntryRow[] = [];
    if (drop.status === 'claiming') {
      await recordFinishedClaims(trx, dropId);
      // A claim begun inside its window holds the unit in the entry's cart while its checkout runs: it is
      // let finish rather than expired under it (and the unit promoted to someone else).
      expired = (
        await trx.raw(
          `UPDATE drop_entries e SET status = 'expired', updated_at = now()
            WHERE e.drop_id = ? AND e.status = 'won' AND e.claim_expires_at <= ?
              AND NOT ${cartHolds.heldPast('e.id')}
            RETURNING e.*`,
          [dropId, now.toISOString(), now.toISOString()],
        )
      ).rows as EntryRow[];
      const open = await countWhere(trx, dropId, 'won');
      const free = drop.quantity - drop.sold - open;
      if (free > 0) {
        const claimExpiresAt = new Date(now.getTime() + drop.claim_window_seconds * 1000);
        promoted = (
          await trx.raw(
            `UPDATE drop_entries e SET status = 'won', claim_expires_at = ?, promoted_at = now(), updated_at = now()
              WHERE e.id IN (SELECT id FROM drop_entries WHERE drop_id = ? AND status = 'waitlisted' ORDER BY rank LIMIT ?)
              RETURNING e.*`,
            [claimExpiresAt.toISOString(), dropId, free],
          )
        ).rows as EntryRow[];
      }
      for (const e of expired) await tell(trx, drop, e, 'expired');
      for (const e of promoted) await tell(trx, drop, e, 'promoted');
    }
    // The next moment a win may expire: its window's end, or the end of the hold of a claim still running.
    const next = (
      await trx.raw(
        `SELECT min(GREATEST(e.claim_expires_at, ${cartHolds.lastHoldEnd('e.id')})) AS at
           FROM drop_entries e WHERE e.drop_id = ? AND e.status = 'won'`,
        [dropId],
      )
    ).rows[0] as { at: Date | null } | undefined;
    return {
      status: drop.status,
      quantity: drop.quantity,
      sold: drop.sold,
      entries: drop.entries_count ?? 0,
      claimed: await countWhere(trx, dropId, 'claimed'),
      openWins: await countWhere(trx, dropId, 'won'),
      waitlisted: await countWhere(trx, dropId, 'waitlisted'),
      nextExpiresAt: next?.at ? new Date(next.at).toISOString() : null,
      expired,
      promoted,
    };
  });
}

const countWhere = async (db: Conn, dropId: string, status: EntryRow['status']) =>
  Number(((await db('drop_entries').where({ drop_id: dropId, status }).count('* as n').first()) as { n: string }).n);

/** The checkout key of an entry's claim attempt; the checkout workflow is `checkout:<this>`. */
export const claimCheckoutKey = (dropId: string, entryId: string, attempt: number) => `drop:${dropId}:claim:${entryId}:${attempt}`;

/**
 * Wins (even just expired ones: the claim began inside the window) whose claim checkout sold the unit. The
 * order row exists from the authorization on, but the unit counts in drops.sold only once the cart's hold is
 * committed (same transaction), so that is the test: a claimed entry is always already in `sold`, and free
 * units are never over-counted.
 */
async function recordFinishedClaims(trx: Knex.Transaction, dropId: string): Promise<void> {
  await trx.raw(
    `UPDATE drop_entries e SET status = 'claimed', order_id = o.id, updated_at = now()
       FROM orders o
      WHERE e.drop_id = ? AND e.status IN ('won', 'expired')
        AND o.checkout_key = 'drop:' || e.drop_id || ':claim:' || e.id || ':' || e.claim_attempt
        AND o.status <> 'cancelled'
        AND ${cartHolds.sold('e.id')}`,
    [dropId],
  );
}

/** won | expired → claimed, when the entry's claim made `orderId`. */
export async function markClaimed(db: Conn, entryId: string, orderId: string): Promise<boolean> {
  return (await db('drop_entries').where({ id: entryId }).whereIn('status', ['won', 'expired']).update({ status: 'claimed', order_id: orderId, updated_at: db.fn.now() })) > 0;
}

/**
 * claiming → sold_out | closed: the claim phase is over (every unit sold, or no open window and nobody left
 * waiting); whoever has not claimed lost. Returns the final status.
 */
export async function finishLottery(db: Db, dropId: string): Promise<{ status: string; lost: number }> {
  return db.transaction(async (trx) => {
    const drop = await lockDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    if (drop.status !== 'claiming') return { status: drop.status, lost: await countWhere(trx, dropId, 'lost') };
    await recordFinishedClaims(trx, dropId);
    const lost = await trx('drop_entries').where({ drop_id: dropId }).whereIn('status', ['entered', 'won', 'waitlisted']).update({ status: 'lost', claim_expires_at: null, updated_at: trx.fn.now() });
    const status = drop.sold >= drop.quantity ? 'sold_out' : 'closed';
    await trx('drops').where({ id: dropId }).update({ status, updated_at: trx.fn.now() });
    return { status, lost };
  });
}

type Outcome = 'won' | 'waitlisted' | 'promoted' | 'expired' | 'lost';

const MESSAGES: Record<Outcome, { title: string; body: (e: EntryRow) => string }> = {
  won: { title: 'You won the drop', body: (e) => `Claim your unit before ${e.claim_expires_at?.toISOString()}.` },
  waitlisted: { title: 'You are on the waitlist', body: (e) => `Your place in the draw is ${e.rank}; a unit that is not claimed in time goes to the next in line.` },
  promoted: { title: 'A unit is yours to claim', body: (e) => `A winner did not claim in time. Claim your unit before ${e.claim_expires_at?.toISOString()}.` },
  expired: { title: 'Your claim window has passed', body: () => 'The unit goes to the next entrant on the waitlist.' },
  lost: { title: 'The drop is over', body: () => 'Every unit has gone; your entry was not drawn this time. Nothing was charged.' },
};

/** One notification per (entry, outcome): the dedupe key makes a retried step tell nobody twice. */
function message(drop: Pick<DropRow, 'id'>, e: EntryRow, outcome: Outcome): NotificationInput {
  const m = MESSAGES[outcome];
  return {
    userId: e.user_id,
    type: `drop_${outcome}`,
    title: m.title,
    body: m.body(e),
    data: { drop_id: drop.id, entry_id: e.id, ...(e.rank ? { rank: e.rank } : {}), ...(e.claim_expires_at && outcome !== 'expired' ? { claim_expires_at: e.claim_expires_at.toISOString() } : {}) },
    dedupeKey: `drop_${outcome}:${e.id}`,
  };
}

async function tell(db: Conn, drop: Pick<DropRow, 'id'>, e: EntryRow, outcome: Outcome): Promise<void> {
  await notify(db, message(drop, e, outcome));
}

/**
 * Tells every entry now in `status` the matching outcome (after the draw: won, waitlisted; at the end: lost),
 * a page at a time; `onPage` heartbeats. Safe to repeat: already-told entries are skipped by the dedupe key.
 */
export async function tellEntrants(db: Db, dropId: string, status: 'won' | 'waitlisted' | 'lost', onPage: () => void = () => {}): Promise<number> {
  let told = 0;
  for (let after: string | null = null; ; ) {
    const q = db('drop_entries').where({ drop_id: dropId, status }).orderBy('id').limit(500);
    const page = (await (after ? q.andWhere('id', '>', after) : q)) as EntryRow[];
    // A promoted winner was told 'promoted' already. One statement per page, each row deduplicated, so telling
    // 100k entrants is 200 round trips.
    await notifyMany(db, page.filter((e) => !(status === 'won' && e.promoted_at)).map((e) => message({ id: dropId }, e, status)));
    told += page.length;
    onPage();
    if (page.length < 500) return told;
    after = page[page.length - 1]!.id;
  }
}
