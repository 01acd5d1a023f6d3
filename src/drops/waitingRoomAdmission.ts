import type { Knex } from 'knex';
import { rankEntries } from '../domain/draw';
import { admissionsNow, type AdmissionPace, type RoomState } from '../domain/waitingRoom';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import { findStore } from '../commerce/catalog';
import { cartKey, cartTtlMs, type CartDoc } from '../commerce/cartDocuments';
import { giveUpCart } from '../commerce/cartRelease';
import { openHeldCart, type HeldCartDeps } from '../commerce/heldCart';
import { cartHolds, holdState, InsufficientStockError, msUntilNextExpiry } from '../commerce/reservations';
import type { HotStock } from '../commerce/hotStock';
import { notify } from '../notifications/notify';
import { drawSecret, loadDrop, lockDrop, type DropRow } from './repository';
import type { DropStatus } from './contract';
import { idleFlagKey, lockQueue, type QueueRow } from './waitingRoom';

/**
 * The waiting room's admission side, run by the `drop:<id>` workflow's activities: the opening shuffle, the
 * admission step (settle holds, let the next shoppers in, open their carts) and the end of the sale. Every
 * step re-reads the room from Postgres and changes it with conditional writes, so a retried or replayed step
 * does nothing twice, and a restarted worker (or a lost Redis) loses nothing.
 *
 * The capacity rule: sold + (admitted shoppers not yet settled) <= quantity. A purchase counts in drops.sold
 * (in the checkout's commit) before its place turns `purchased`, and an expired hold is released before its
 * place turns `expired`, so in between a unit is counted twice, never zero times: the room may briefly admit
 * fewer, never more.
 */

type Conn = Db | Knex.Transaction;

export interface AdmissionDeps extends HeldCartDeps {
  hotStock: HotStock;
  logger: Logger;
}

const cartsInFlight = 8;

// ------------------------------------------------------------------------------------------ opening

export interface OpenedRoom {
  /** How many came before opens_at (their positions are 1..preOpen). */
  preOpen: number;
  /** Whether this call did the shuffle (false when it was done before: a retry or a continue-as-new). */
  shuffled: boolean;
}

/** Thrown while the database's clock has not reached opens_at (the workflow's timer fired a hair early). */
export class RoomNotYetOpenError extends Error {
  constructor(dropId: string) {
    super(`The waiting room of drop ${dropId} is not open yet by the database's clock.`);
    this.name = 'RoomNotYetOpenError';
  }
}

/**
 * The opening shuffle: every early arrival (before opens_at) gets a position 1..P, in the order of the drop's
 * seeded ranking of their place ids, the lottery's algorithm (src/domain/draw.ts: sorted by
 * HMAC-SHA256(seed, id)). The seed was committed (sha256 published) when the drop was created, before anyone
 * arrived, so neither the store nor a shopper could steer it, and the stored positions can be recomputed from
 * the seed and the place ids. Runs once: a retry finds the positions given.
 */
export async function openRoom(db: Db, dropId: string): Promise<OpenedRoom> {
  return db.transaction(async (trx) => {
    await lockQueue(trx, dropId);
    const drop = await loadDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    const clock = await trx.raw('SELECT clock_timestamp() >= ?::timestamptz AS open', [drop.opens_at]);
    if (!(clock.rows as Array<{ open: boolean }>)[0]!.open) throw new RoomNotYetOpenError(dropId);
    const early = (await trx('drop_queue').where({ drop_id: dropId, pre_open: true }).select('id', 'position')) as Array<{ id: string; position: number | null }>;
    const unplaced = early.filter((r) => r.position === null).map((r) => r.id);
    if (!unplaced.length) return { preOpen: early.length, shuffled: false };
    const seed = await drawSecret(trx, dropId);
    if (!seed) throw new Error(`drop ${dropId} has no seed`);
    // Early arrivals are given positions all at once, so none are placed unless all are.
    const ranking = rankEntries(seed, early.map((r) => r.id));
    await trx.raw(
      `UPDATE drop_queue q SET position = r.position, updated_at = now()
         FROM unnest(?::uuid[]) WITH ORDINALITY AS r(id, position)
        WHERE q.id = r.id AND q.drop_id = ?`,
      [ranking, dropId],
    );
    return { preOpen: early.length, shuffled: true };
  });
}

// ---------------------------------------------------------------------------------------- admission

/**
 * Admitted places whose hold is gone become `purchased` (their reservation was committed by a checkout) or
 * `expired` (released: the TTL ran out). Places whose cart is still being opened are left alone.
 */
async function settleHolds(db: Conn, dropId: string): Promise<Array<{ user_id: string; status: string; cart_id: string }>> {
  const result = await db.raw(
    `UPDATE drop_queue q
        SET status = CASE WHEN ${cartHolds.sold('q.cart_id')} THEN 'purchased' ELSE 'expired' END,
            updated_at = now()
      WHERE q.drop_id = ? AND q.status = 'admitted' AND q.admitted_until IS NOT NULL
        AND NOT ${cartHolds.held('q.cart_id')}
      RETURNING q.user_id, q.status, q.cart_id`,
    [dropId],
  );
  return result.rows as Array<{ user_id: string; status: string; cart_id: string }>;
}

/**
 * Cart documents live in Redis, holds in Postgres: after a Redis loss an admitted shopper's unit is still held
 * for them, but their cart is gone (checkout answers cart_expired) and the unit would sit idle until the hold
 * runs out. So each step writes back the document of every live hold whose document is missing, as
 * openHeldCart wrote it (one unit at the drop's price), touching no stock; NX leaves a document that exists
 * (a checkout may have emptied it since) alone. Best effort: with Redis still down, the next step tries again.
 */
async function restoreCartDocs(deps: AdmissionDeps, drop: DropRow): Promise<void> {
  const { db, redis } = deps;
  const live = (await db('drop_queue as q')
    .where({ 'q.drop_id': drop.id, 'q.status': 'admitted' })
    .whereNotNull('q.admitted_until')
    .whereRaw(cartHolds.held('q.cart_id'))
    .select('q.cart_id', 'q.user_id', 'q.admitted_at')) as Array<{ cart_id: string; user_id: string; admitted_at: Date }>;
  if (!live.length) return;
  try {
    const exists = (await redis.pipeline(live.map((p) => ['exists', cartKey(p.cart_id)])).exec()) ?? [];
    const missing = live.filter((_, i) => exists[i]?.[1] === 0);
    if (!missing.length) return;
    const store = await findStore(db, drop.store_id);
    if (!store) return;
    for (const place of missing) {
      const doc: CartDoc = {
        id: place.cart_id,
        store_id: store.id,
        store_slug: store.slug,
        currency: store.currency,
        owner_id: place.user_id,
        items: [{ variant_id: drop.variant_id, quantity: 1, unit_price_cents: drop.price_cents }],
        created_at: place.admitted_at.toISOString(),
        drop_id: drop.id,
      };
      await redis.set(cartKey(place.cart_id), JSON.stringify(doc), 'PX', cartTtlMs(deps.config, place.user_id), 'NX');
    }
    deps.logger.warn({ dropId: drop.id, restored: missing.length }, 'admitted shoppers\' cart documents were missing (Redis lost them): written back');
  } catch (err) {
    deps.logger.warn({ err, dropId: drop.id }, 'admitted shoppers\' cart documents not checked');
  }
}

interface CartOutcome {
  opened: number;
  /** Places put back (same position) because the variant had no unit left to hold. */
  stockShort: number;
}

/**
 * Opens the cart of every admitted place that has none yet: one unit held for RESERVATION_TTL at the drop's
 * price. Idempotent per place (the cart id was chosen at admission, and openHeldCart holds once per cart id).
 * A place that was left while its cart was being opened gets its hold released again.
 */
async function openPendingCarts(deps: AdmissionDeps, drop: DropRow): Promise<CartOutcome> {
  const { db } = deps;
  const pending = (await db('drop_queue')
    .where({ drop_id: drop.id, status: 'admitted' })
    .whereNull('admitted_until')
    .orderBy('position')
    .select('id', 'user_id', 'cart_id')) as Array<Pick<QueueRow, 'id' | 'user_id' | 'cart_id'>>;
  const outcome: CartOutcome = { opened: 0, stockShort: 0 };
  for (let i = 0; i < pending.length; i += cartsInFlight) {
    await Promise.all(
      pending.slice(i, i + cartsInFlight).map(async (place) => {
        const cartId = place.cart_id!;
        let until: Date;
        try {
          await openHeldCart(deps, {
            cartId,
            storeId: drop.store_id,
            variantId: drop.variant_id,
            ownerId: place.user_id,
            quantity: 1,
            unitPriceCents: drop.price_cents,
            dropId: drop.id,
          });
          until = (await holdState(db, cartId)).until ?? new Date();
        } catch (err) {
          if (!(err instanceof InsufficientStockError)) throw err;
          await putBackInLine(db, drop.id, place.id);
          outcome.stockShort += 1;
          return;
        }
        const marked = await db.transaction(async (trx) => {
          const n = await trx('drop_queue').where({ id: place.id, status: 'admitted', cart_id: cartId }).update({ admitted_until: until, updated_at: trx.fn.now() });
          if (n) {
            await notify(trx, {
              userId: place.user_id,
              type: 'drop_admitted',
              title: "It's your turn",
              body: `One unit is reserved for you until ${until.toISOString()}: check out before then.`,
              data: { drop_id: drop.id, cart_id: cartId, admitted_until: until.toISOString() },
              dedupeKey: `drop_admitted:${cartId}`,
            });
          }
          return n > 0;
        });
        if (!marked) {
          // Left (or closed) while the cart was being opened: nobody may keep that unit.
          await giveUpCart(deps, cartId);
          return;
        }
        outcome.opened += 1;
      }),
    );
  }
  return outcome;
}

/**
 * A place whose cart found no unit (held or sold elsewhere in the store) goes back in line, keeping its position,
 * while the sale is open. Once it has ended (the post-close steps still open carts admitted before the end) the
 * closing has already told everyone waiting, so the place is closed and its shopper told here. Under the queue
 * lock the closing takes: the place is either back in line before the closing reads the line, or sees it ended.
 */
async function putBackInLine(db: Db, dropId: string, placeId: string): Promise<void> {
  await db.transaction(async (trx) => {
    await lockQueue(trx, dropId);
    const { status } = (await trx('drops').where({ id: dropId }).first('status')) as Pick<DropRow, 'status'>;
    const open = status === 'open';
    const [place] = (await trx('drop_queue')
      .where({ id: placeId, status: 'admitted' })
      .update({ status: open ? 'waiting' : 'closed', cart_id: null, admitted_at: null, updated_at: trx.fn.now() })
      .returning(['id', 'user_id'])) as Array<{ id: string; user_id: string }>;
    if (place && !open) await tellClosed(trx, dropId, place, status === 'sold_out');
  });
}

interface Counts {
  holding: number;
  waiting: number;
  admittedThisTick: number;
  msUntilNextTick: number;
}

/** Counts under the admission lock, against `at` (the database clock read under the lock). */
async function countRoom(trx: Knex.Transaction, dropId: string, pace: AdmissionPace, at: Date): Promise<Counts> {
  const result = await trx.raw(
    `SELECT count(*) FILTER (WHERE status = 'admitted')::int AS holding,
            count(*) FILTER (WHERE status = 'waiting' AND position IS NOT NULL)::int AS waiting,
            count(*) FILTER (WHERE admitted_at > ?::timestamptz - make_interval(secs => ?))::int AS this_tick,
            max(admitted_at) AS last_admitted_at
       FROM drop_queue WHERE drop_id = ?`,
    [at, pace.tickMs / 1000, dropId],
  );
  const row = (result.rows as Array<{ holding: number; waiting: number; this_tick: number; last_admitted_at: Date | null }>)[0]!;
  const sinceLast = row.last_admitted_at ? at.getTime() - row.last_admitted_at.getTime() : Infinity;
  return { holding: row.holding, waiting: row.waiting, admittedThisTick: row.this_tick, msUntilNextTick: Math.max(0, pace.tickMs - sinceLast) };
}

/** Units of the drop's variant nobody holds or bought, store-wide (drop shoppers and ordinary carts alike). */
async function freeUnits(trx: Knex.Transaction, drop: DropRow): Promise<number> {
  const row = (await trx('inventory')
    .where({ variant_id: drop.variant_id, store_id: drop.store_id })
    .first(trx.raw('total_stock - reserved - sold AS free'))) as { free: number | string } | undefined;
  return row ? Math.max(0, Number(row.free)) : 0;
}

export const admissionLockKey = (dropId: string) => `drop_admission:${dropId}`;

export interface AdmissionStepResult extends RoomState {
  status: DropStatus;
  settled: { purchased: number; expired: number };
}

/**
 * One admission step: settle finished holds, open carts left pending by an interrupted step, then admit the
 * next shoppers by position, as many as the pace and the free units allow, and open their carts.
 *
 * The pace is a database invariant, not only the workflow's timer: under a per-drop lock, with the database
 * clock read under that lock (so admission times follow lock order), a step admits at most the batch minus
 * those admitted within the last tick. A retried or overlapping step can therefore never exceed the rate.
 */
export async function admissionStep(deps: AdmissionDeps, dropId: string, pace: AdmissionPace, idleFlagTtlMs: number): Promise<AdmissionStepResult> {
  const { db, redis } = deps;
  const drop = await loadDrop(db, dropId);
  if (!drop) throw new Error(`drop ${dropId} not found`);

  const settled = await settleHolds(db, dropId);
  await restoreCartDocs(deps, drop);
  const pending = await openPendingCarts(deps, drop);

  // Raised before counting who waits: a joiner who commits after the count finds it and nudges the workflow.
  try {
    await redis.set(idleFlagKey(dropId), '1', 'PX', idleFlagTtlMs);
  } catch (err) {
    // Redis trouble: the room still wakes on its own, at the idle poll.
    deps.logger.warn({ err, dropId }, 'waiting room idle flag not set');
  }

  const admitted = await db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [admissionLockKey(dropId)]);
    const current = (await trx('drops').where({ id: dropId }).first('status', 'sold')) as Pick<DropRow, 'status' | 'sold'>;
    const clock = await trx.raw('SELECT clock_timestamp() AS at');
    const at = (clock.rows as Array<{ at: Date }>)[0]!.at;
    const counts = await countRoom(trx, dropId, pace, at);
    // While the variant is short, nobody new is let in until a hold comes back.
    const wanted =
      current.status === 'open' && pending.stockShort === 0
        ? admissionsNow({ pace, admittedThisTick: counts.admittedThisTick, quantity: drop.quantity, sold: current.sold, holding: counts.holding, waiting: counts.waiting })
        : 0;
    // Ordinary carts share the variant: admitting past its free units would only open carts that fail (each
    // starting a cart workflow), poll after poll for as long as the shortage lasts. A race past this read is
    // still caught by the reservation itself (openPendingCarts puts the place back in line).
    const room = wanted > 0 ? Math.min(wanted, await freeUnits(trx, drop)) : 0;
    let n = 0;
    if (room > 0) {
      // Admitting a place overwrites its admitted_at, the record the pace counts. A shopper who left and joined
      // again keeps their last admission's time; admitting them again within that tick would drop it from the
      // count. So the line stops, in order, at such a place until its tick has passed (at most one tick).
      const result = await trx.raw(
        `UPDATE drop_queue SET status = 'admitted', cart_id = gen_random_uuid(), admitted_at = ?, updated_at = now()
          WHERE id IN (SELECT id FROM drop_queue
                        WHERE drop_id = ? AND status = 'waiting' AND position IS NOT NULL
                          AND position < coalesce((SELECT min(position) FROM drop_queue
                                                    WHERE drop_id = ? AND status = 'waiting'
                                                      AND admitted_at > ?::timestamptz - make_interval(secs => ?)), 2147483647)
                        ORDER BY position LIMIT ? FOR UPDATE)`,
        [at, dropId, dropId, at, pace.tickMs / 1000, room],
      );
      n = (result as { rowCount: number }).rowCount;
    }
    return { n, short: room < wanted, status: current.status, counts, msUntilNextTick: n > 0 ? pace.tickMs : counts.msUntilNextTick };
  });

  // The tick started when this batch was admitted, not when its carts are open: opening them is part of the tick.
  const tickStarted = Date.now();
  const opened = admitted.n > 0 ? await openPendingCarts(deps, drop) : { opened: 0, stockShort: 0 };
  const after = (await db('drop_queue')
    .where({ drop_id: dropId })
    .first(db.raw("count(*) FILTER (WHERE status = 'admitted')::int AS holding"), db.raw("count(*) FILTER (WHERE status = 'waiting')::int AS waiting"))) as {
    holding: number;
    waiting: number;
  };
  const sold = ((await db('drops').where({ id: dropId }).first('sold')) as { sold: number }).sold;

  return {
    status: admitted.status,
    quantity: drop.quantity,
    sold,
    holding: after.holding,
    waiting: after.waiting,
    admittedNow: admitted.n - opened.stockShort,
    // Early is harmless: the step counts what the tick already admitted, by the database clock.
    msUntilNextTick: Math.max(0, admitted.msUntilNextTick - (admitted.n > 0 ? Date.now() - tickStarted : 0)),
    // Holds move with cart activity: the earliest real expiry is the reservations'.
    msUntilNextExpiry: await earliestHoldExpiry(db, dropId),
    stockShort: admitted.short || pending.stockShort + opened.stockShort > 0,
    settled: {
      purchased: settled.filter((s) => s.status === 'purchased').length,
      expired: settled.filter((s) => s.status === 'expired').length,
    },
  };
}

/**
 * Milliseconds until the earliest live hold of an admitted place ends. 0 when admitted places hold nothing
 * live (carts still being opened, or holds that just ended): the room looks again at once.
 */
async function earliestHoldExpiry(db: Conn, dropId: string): Promise<number> {
  const admittedCarts = db('drop_queue').where({ drop_id: dropId, status: 'admitted' }).select('cart_id');
  return (await msUntilNextExpiry(db, admittedCarts)) ?? 0;
}

// ---------------------------------------------------------------------------------------------- end

export interface ClosedRoom {
  status: DropStatus;
  /** Places closed (and told) by this call. */
  told: number;
  /** More waiting places remain (call again). */
  more: boolean;
}

const CLOSE_PAGE = 500;

/** Tells a shopper their place closed with the sale (once per place, however often a retried step asks). */
function tellClosed(trx: Knex.Transaction, dropId: string, place: { id: string; user_id: string }, soldOut: boolean) {
  return notify(trx, {
    userId: place.user_id,
    type: soldOut ? 'drop_sold_out' : 'drop_closed',
    title: soldOut ? 'Sold out' : 'The drop has ended',
    body: soldOut ? 'Every unit of this drop has been sold; your place in line has closed.' : 'The sale has ended; your place in line has closed.',
    data: { drop_id: dropId },
    dedupeKey: `drop_queue_closed:${place.id}`,
  });
}

/**
 * Ends the sale: the drop becomes `sold_out` (every unit sold) or `closed` (closes_at passed), and every place still waiting is closed and its shopper told, a page per call, each page in one
 * transaction with its notifications (deduplicated per shopper, so a retried page tells nobody twice).
 */
export async function closeRoom(db: Db, dropId: string, reason: 'sold_out' | 'closed'): Promise<ClosedRoom> {
  return db.transaction(async (trx) => {
    const drop = await lockDrop(trx, dropId);
    if (!drop) throw new Error(`drop ${dropId} not found`);
    // Joins take this lock too: none can slip a waiting place in behind the closing.
    await lockQueue(trx, dropId);
    let status = drop.status;
    if (status === 'open') {
      status = drop.sold >= drop.quantity ? 'sold_out' : reason;
      await trx('drops').where({ id: dropId }).update({ status, updated_at: trx.fn.now() });
    }
    const closed = (await trx.raw(
      `UPDATE drop_queue SET status = 'closed', updated_at = now()
        WHERE id IN (SELECT id FROM drop_queue WHERE drop_id = ? AND status = 'waiting' ORDER BY position NULLS LAST LIMIT ? FOR UPDATE SKIP LOCKED)
        RETURNING id, user_id`,
      [dropId, CLOSE_PAGE],
    )) as { rows: Array<{ id: string; user_id: string }> };
    for (const place of closed.rows) await tellClosed(trx, dropId, place, status === 'sold_out');
    return { status, told: closed.rows.length, more: closed.rows.length === CLOSE_PAGE };
  });
}
