import type { Knex } from 'knex';
import { retryOnConflict, type Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import { etaSeconds, preOpenAhead, REJOINABLE, type QueueStatus } from '../domain/waitingRoom';
import { cartHolds, holdState } from '../commerce/reservations';
import { DROP_COLUMNS, dropFromRow, type DropRow } from './repository';

/**
 * The first-come waiting room's places (drop_queue rows), as the API sees them: joining, reading one's place,
 * leaving. Postgres is the truth; the admission side lives in waitingRoomAdmission.ts.
 *
 * Joins of one drop are serialised by a transaction-scoped advisory lock (not the drop row, which checkouts
 * update), taken once per batch of joins (queueJoins.ts gathers them): under it, the database clock decides
 * whether the batch came before opens_at (no position yet: the room's opening shuffles those) or after (the
 * next positions after everyone else). Since every early arrival committed before any later one could take
 * the lock, the number of early arrivals is final by the time anyone is given a position after them.
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

/** A join's place: `created` false when the account already had one (returned as it is). */
export interface JoinResult {
  row: QueueRow;
  created: boolean;
  /** For a place made by this join: its view as of the commit (so the answer needs no query of its own). */
  view?: PlaceView;
}

/** The sale ended before this join took its place (read under the queue lock, which the closing takes too). */
export class QueueClosedError extends Error {
  constructor(readonly status: 'sold_out' | 'closed') {
    super(`The drop is ${status}.`);
    this.name = 'QueueClosedError';
  }
}

export interface JoinBatch {
  /** The drop as read under the lock; undefined when there is no such drop (every join is refused). */
  drop: DropRow | undefined;
  /** One per account given, in the same order: a place, or the sale's end. */
  outcomes: Array<JoinResult | QueueClosedError>;
}

/**
 * Joins of one drop, several accounts at once (group commit: src/drops/queueJoins.ts), in one transaction
 * under the drop's queue lock, so positions are given in the order of `userIds` after everyone placed before.
 * One place per account: an account that has one (or is named twice) gets it unchanged; one that left, or let
 * its admission lapse, goes to the back of the line. Under the lock the database clock decides whether the
 * batch came before opens_at (no positions yet: the opening shuffles them) or after (the next positions).
 * For a drop of the other mode the caller refuses; the lock is still harmless.
 *
 * Two round trips, whatever the batch's size: the lock is held from the first one's lock to the second one's
 * commit, so every round trip inside it would be paid by every batch queued behind it.
 */
export async function joinQueueBatch(db: Db, dropId: string, userIds: readonly string[]): Promise<JoinBatch> {
  return retryOnConflict(() =>
    inTransaction(db, async (conn) => {
      const lit = (v: string) => conn.escapeLiteral(v);
      const users = lit(`{${[...new Set(userIds)].join(',')}}`);
      // Positions already given are all below the next one (max(position) covers the shuffled early arrivals
      // once anyone has a position; before that, the early arrivals' count reserves 1..P for the shuffle).
      const [, , dropRows, existingRows] = await conn.query(`
        BEGIN;
        SELECT pg_advisory_xact_lock(hashtextextended(${lit(queueLockKey(dropId))}, 0));
        SELECT ${DROP_COLUMNS.join(', ')},
               clock_timestamp() < opens_at AS pre_open,
               coalesce((SELECT max(position) FROM drop_queue WHERE drop_id = d.id),
                        (SELECT count(*) FROM drop_queue WHERE drop_id = d.id AND pre_open))::int AS last,
               (SELECT count(*) FROM drop_queue WHERE drop_id = d.id AND status = 'waiting' AND position IS NOT NULL)::int AS waiting
          FROM drops d WHERE id = ${lit(dropId)};
        SELECT * FROM drop_queue WHERE drop_id = ${lit(dropId)} AND user_id = ANY(${users}::uuid[]);`);
      const head = dropRows!.rows[0] as { pre_open: boolean; last: number; waiting: number } | undefined;
      const drop = head && dropFromRow(head);
      if (!drop || drop.mode !== 'fcfs') {
        await conn.query('COMMIT');
        return { drop, outcomes: [] };
      }
      const existing = new Map((existingRows!.rows as QueueRow[]).map((r) => [r.user_id, r]));
      const closed = drop.status === 'sold_out' || drop.status === 'closed' ? new QueueClosedError(drop.status) : null;
      // Who gets a place now, in arrival order (an account named twice once).
      const placing = closed ? [] : [...new Set(userIds)].filter((u) => !existing.has(u) || REJOINABLE.includes(existing.get(u)!.status));
      const placed = new Map<string, JoinResult>();
      if (!placing.length) await conn.query('COMMIT');
      else {
        // Someone who gave their place up comes back as a new arrival (new position and arrival number) in the
        // same row: the conflict on (drop_id, user_id) is only ever such a place (no join changes it but under
        // this lock). The last admission's time stays: the room's pace counts admissions by it, so leaving and
        // joining again must not erase one from the tick it happened in (the room would admit past its rate).
        const [inserted, early] = await conn.query(`
          INSERT INTO drop_queue (drop_id, user_id, pre_open, position, status)
          SELECT ${lit(dropId)}, u.user_id, ${head.pre_open}, ${head.pre_open ? 'NULL' : `${Number(head.last)} + u.i`}, 'waiting'
            FROM unnest(${lit(`{${placing.join(',')}}`)}::uuid[]) WITH ORDINALITY AS u(user_id, i) ORDER BY u.i
          ON CONFLICT (drop_id, user_id) DO UPDATE
             SET pre_open = excluded.pre_open, position = excluded.position, status = 'waiting', cart_id = NULL,
                 admitted_until = NULL, seq = excluded.seq, updated_at = now()
          RETURNING *;
          ${head.pre_open ? `SELECT count(*)::int AS n FROM drop_queue WHERE drop_id = ${lit(dropId)} AND pre_open;` : ''}
          COMMIT;`);
        const earlyCount = head.pre_open ? (early!.rows[0] as { n: number }).n : 0;
        for (const row of inserted!.rows as QueueRow[]) {
          const ahead = row.position === null ? preOpenAhead(earlyCount) : head.waiting + (row.position - head.last - 1);
          placed.set(row.user_id, { row, created: true, view: waitingView(drop, row.position, ahead) });
        }
      }
      const answered = new Set<string>();
      const outcomes = userIds.map((userId) => {
        const mine = placed.get(userId);
        if (mine && !answered.has(userId)) {
          answered.add(userId);
          return mine;
        }
        // Named twice in one batch: the second is a repeat join of the place the first made.
        if (mine) return { row: mine.row, created: false };
        const had = existing.get(userId);
        return had && !REJOINABLE.includes(had.status) ? { row: had, created: false } : closed!;
      });
      return { drop, outcomes };
    }),
  );
}

interface RawConnection {
  query(text: string): Promise<Array<{ rows: unknown[] }>>;
  escapeLiteral(value: string): string;
}

/**
 * A pooled connection for a transaction the caller writes as multi-statement text (its own BEGIN and COMMIT):
 * several statements per round trip. Rolled back if anything throws before the COMMIT.
 */
async function inTransaction<T>(db: Db, work: (conn: RawConnection) => Promise<T>): Promise<T> {
  const conn = (await db.client.acquireConnection()) as { query(text: string): Promise<unknown>; escapeLiteral(value: string): string };
  // One statement comes back as one result, several as a list: always a list here.
  const raw: RawConnection = {
    query: async (text) => {
      const result = await conn.query(text);
      return (Array.isArray(result) ? result : [result]) as Array<{ rows: unknown[] }>;
    },
    escapeLiteral: (value) => conn.escapeLiteral(value),
  };
  try {
    return await work(raw);
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** Arrivals before opens_at so far (left ones too: the opening shuffle places them all). */
const countEarly = async (db: Conn, dropId: string) =>
  Number(((await db('drop_queue').where({ drop_id: dropId, pre_open: true }).count<{ count: string }[]>('* as count'))[0]!).count);

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

  let ahead: number;
  if (row.status === 'admitted') ahead = 0; // being let in: the cart is on its way
  else if (row.position === null) {
    ahead = preOpenAhead(await countEarly(db, drop.id));
  } else {
    const [before] = await db('drop_queue')
      .where({ drop_id: drop.id, status: 'waiting' })
      .andWhere('position', '<', row.position)
      .count<{ count: string }[]>('* as count');
    ahead = Number(before!.count);
  }
  return { ...waitingView(drop, row.position, ahead), status: row.status };
}

/** A place not yet admitted: `ahead` waiting before it, and its ETA at the drop's pace from now. */
function waitingView(drop: Pick<DropRow, 'opens_at' | 'admission_per_second'>, position: number | null, ahead: number): PlaceView {
  const msUntilOpen = Math.max(0, drop.opens_at.getTime() - Date.now());
  return { status: 'waiting', position, ahead, eta_seconds: etaSeconds({ ahead, admissionPerSecond: drop.admission_per_second, msUntilOpen }), admitted: false };
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
