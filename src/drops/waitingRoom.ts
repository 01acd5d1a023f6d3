import type { Knex } from 'knex';
import { retryOnConflict, type Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import { etaSeconds, preOpenAhead, REJOINABLE, type QueueStatus } from '../domain/waitingRoom';
import { cartHolds, holdState } from '../commerce/reservations';
import type { DropRow } from './repository';

/**
 * The first-come waiting room's places (drop_queue rows), as the API sees them: joining, reading one's place,
 * leaving. Postgres is the truth; the admission side lives in waitingRoomAdmission.ts.
 *
 * Joins of one drop are serialised by a transaction-scoped advisory lock (not the drop row, which checkouts
 * update): under it, the database clock decides whether an arrival came before opens_at (no position yet:
 * the room's opening shuffles those) or after (the next position after everyone else). Since every early
 * arrival committed before any later one could take the lock, the number of early arrivals is final by the
 * time anyone is given a position after them.
 */

type Conn = Db | Knex.Transaction;

export interface QueueRow {
  id: string;
  drop_id: string;
  user_id: string;
  seq: number;
  pre_open: boolean;
  position: number | null;
  status: QueueStatus;
  cart_id: string | null;
  admitted_at: Date | null;
  admitted_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The key of the lock that orders a drop's joins (and its opening shuffle after them). */
export const queueLockKey = (dropId: string) => `drop_queue:${dropId}`;

export async function lockQueue(trx: Knex.Transaction, dropId: string): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [queueLockKey(dropId)]);
}

/**
 * Set by the admission step while it counts who is waiting; the first joiner after it deletes it and nudges
 * the workflow. So an idle room wakes for a newcomer at once, while a thousand joiners send one signal per
 * step at most (and none while the room is still scheduled).
 */
export const idleFlagKey = (dropId: string) => `drops:queue:{${dropId}}:idle`;

/** True when this caller took the flag (and so should nudge the workflow); false on Redis trouble too. */
export async function takeIdleFlag(redis: RedisClient, dropId: string): Promise<boolean> {
  try {
    return (await redis.del(idleFlagKey(dropId))) === 1;
  } catch {
    return false;
  }
}

export async function findPlace(db: Conn, dropId: string, queueId: string): Promise<QueueRow | undefined> {
  return (await db('drop_queue').where({ id: queueId, drop_id: dropId }).first()) as QueueRow | undefined;
}

/** The next position after everyone given one and after every early arrival (shuffled into 1..P at opening). */
async function nextPosition(trx: Knex.Transaction, dropId: string): Promise<number> {
  const result = await trx.raw(
    `SELECT GREATEST(
        (SELECT count(*) FROM drop_queue WHERE drop_id = ? AND pre_open),
        (SELECT coalesce(max(position), 0) FROM drop_queue WHERE drop_id = ?)) + 1 AS next`,
    [dropId, dropId],
  );
  return Number((result.rows as Array<{ next: string | number }>)[0]!.next);
}

export interface JoinResult {
  row: QueueRow;
  /** False when the account already had a place: it is returned as it is. */
  created: boolean;
}

/** The sale ended before this join took its place (read under the queue lock, which the closing takes too). */
export class QueueClosedError extends Error {
  constructor(readonly status: 'sold_out' | 'closed') {
    super(`The drop is ${status}.`);
    this.name = 'QueueClosedError';
  }
}

/**
 * One place per account: a second join returns the first place unchanged. Someone who left, or let their
 * admission lapse, joins again at the back of the line. QueueClosedError once the sale has ended.
 */
export async function joinQueue(db: Db, drop: Pick<DropRow, 'id' | 'opens_at'>, userId: string): Promise<JoinResult> {
  const mine = () => db('drop_queue').where({ drop_id: drop.id, user_id: userId }).first() as Promise<QueueRow | undefined>;
  // The common repeat (a refresh) answers without queueing behind the lock.
  const before = await mine();
  if (before && !REJOINABLE.includes(before.status)) return { row: before, created: false };

  return retryOnConflict(() =>
    db.transaction(async (trx) => {
      await lockQueue(trx, drop.id);
      const existing = (await trx('drop_queue').where({ drop_id: drop.id, user_id: userId }).forUpdate().first()) as QueueRow | undefined;
      if (existing && !REJOINABLE.includes(existing.status)) return { row: existing, created: false };
      // Under the lock the closing also takes: a place is either taken before it (and closed by it) or refused.
      const { status } = (await trx('drops').where({ id: drop.id }).first('status')) as { status: string };
      if (status === 'sold_out' || status === 'closed') throw new QueueClosedError(status);
      // The database's clock, read under the lock, so the split between early and later arrivals is exact.
      const clock = await trx.raw('SELECT clock_timestamp() < ?::timestamptz AS pre_open', [drop.opens_at]);
      const preOpen = Boolean((clock.rows as Array<{ pre_open: boolean }>)[0]!.pre_open);
      const position = preOpen ? null : await nextPosition(trx, drop.id);
      const fields = { pre_open: preOpen, position, status: 'waiting', cart_id: null, admitted_at: null, admitted_until: null };
      if (existing) {
        // Back of the line: a new arrival number too, so the arrival order stays readable in the table. The
        // last admission's time stays: the room's pace counts admissions by it, so leaving and joining again
        // must not erase one from the tick it happened in (the room would admit past its rate).
        const { admitted_at: _kept, ...rejoined } = fields;
        const [row] = (await trx('drop_queue')
          .where({ id: existing.id })
          .update({ ...rejoined, seq: trx.raw("nextval(pg_get_serial_sequence('drop_queue', 'seq'))"), updated_at: trx.fn.now() })
          .returning('*')) as QueueRow[];
        return { row: row!, created: true };
      }
      const [row] = (await trx('drop_queue').insert({ drop_id: drop.id, user_id: userId, ...fields }).returning('*')) as QueueRow[];
      return { row: row!, created: true };
    }),
  );
}

export interface PlaceView {
  status: QueueStatus;
  /** The place in the serving order; null until the opening shuffle for someone who came early. */
  position: number | null;
  /** How many are still waiting before this place (an estimate before the opening shuffle). */
  ahead: number;
  eta_seconds: number;
  admitted: boolean;
  cart_id?: string;
  admitted_until?: string;
}

/** How many are waiting before a place, and its ETA at the drop's admission rate. */
export async function describePlace(db: Conn, drop: Pick<DropRow, 'id' | 'opens_at' | 'admission_per_second'>, row: QueueRow): Promise<PlaceView> {
  const base = { status: row.status, position: row.position };
  if (row.status === 'admitted' && row.cart_id && row.admitted_until) {
    // The hold moves with cart activity: its own expiry is the truth, the row's is when it was first given.
    const hold = await holdState(db, row.cart_id);
    if (hold.until) return { ...base, ahead: 0, eta_seconds: 0, admitted: true, cart_id: row.cart_id, admitted_until: hold.until.toISOString() };
    // The hold just ended; the room settles the place at its next step: answer with what it will say.
    return { ...base, status: hold.bought ? 'purchased' : 'expired', ahead: 0, eta_seconds: 0, admitted: false };
  }
  if (row.status !== 'waiting' && row.status !== 'admitted') return { ...base, ahead: 0, eta_seconds: 0, admitted: false };

  const msUntilOpen = Math.max(0, drop.opens_at.getTime() - Date.now());
  let ahead: number;
  if (row.status === 'admitted') ahead = 0; // being let in: the cart is on its way
  else if (row.position === null) {
    const [early] = await db('drop_queue').where({ drop_id: drop.id, pre_open: true }).count<{ count: string }[]>('* as count');
    ahead = preOpenAhead(Number(early!.count));
  } else {
    const [before] = await db('drop_queue')
      .where({ drop_id: drop.id, status: 'waiting' })
      .andWhere('position', '<', row.position)
      .count<{ count: string }[]>('* as count');
    ahead = Number(before!.count);
  }
  return { ...base, ahead, eta_seconds: etaSeconds({ ahead, admissionPerSecond: drop.admission_per_second, msUntilOpen }), admitted: false };
}

export interface LeaveResult {
  row: QueueRow;
  /** The cart an admitted shopper gave up (its hold was released), when there was one. */
  releasedCartId: string | null;
}

/**
 * Gives a place up. A waiting place is simply left; an admitted shopper's hold is released first (by the
 * caller's `release`), then the place: a checkout that sold the unit in between makes it `purchased`, not left.
 * Places already final (purchased, closed, left, expired) are returned as they are.
 */
export async function leaveQueue(db: Db, row: QueueRow, release: (cartId: string) => Promise<void>): Promise<LeaveResult> {
  if (row.status !== 'waiting' && row.status !== 'admitted') return { row, releasedCartId: null };
  const cartId = row.status === 'admitted' ? row.cart_id : null;
  if (cartId) await release(cartId);
  const [updated] = (await db('drop_queue')
    .where({ id: row.id })
    .whereIn('status', ['waiting', 'admitted'])
    .update({
      status: db.raw(`CASE WHEN cart_id IS NOT NULL AND ${cartHolds.sold('drop_queue.cart_id')} THEN 'purchased' ELSE 'left' END`),
      updated_at: db.fn.now(),
    })
    .returning('*')) as QueueRow[];
  if (!updated) return { row: (await findPlace(db, row.drop_id, row.id))!, releasedCartId: null };
  // A waiting place admitted while leaving: its new cart is released too.
  if (!cartId && updated.cart_id) await release(updated.cart_id);
  return { row: updated, releasedCartId: cartId ?? updated.cart_id };
}

/**
 * The opening shuffle as published: early arrivals' place ids in serving order (position 1 first), or null while
 * the room has not opened (or the shuffle has not run). With the drop's seed anyone can recompute the order
 * (src/domain/draw.ts rankEntries), and each shopper finds their own place id in their token.
 */
export async function publishedShuffle(db: Conn, drop: Pick<DropRow, 'id' | 'status'>): Promise<string[] | null> {
  if (drop.status === 'scheduled') return null;
  const early = (await db('drop_queue').where({ drop_id: drop.id, pre_open: true }).orderBy('position').select('id', 'position')) as Array<{ id: string; position: number | null }>;
  if (early.some((r) => r.position === null)) return null;
  return early.map((r) => r.id);
}
