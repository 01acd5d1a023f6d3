import type { Knex } from 'knex';
import { eventually } from '../helpers/wait';

/**
 * Stopping a checkout at a chosen step, deterministically: the test takes a row lock the step's first
 * statement needs, in an open transaction, and waits until a session is blocked by it (pg_blocking_pids).
 * Only the test's own rows are ever locked: other test files share the database.
 */

export interface HeldLock {
  /** The backend holding the lock. */
  pid: number;
  /** Rolls the transaction back, letting the waiting step through (idempotent). */
  release(): Promise<void>;
}

/** Opens a transaction that runs `sql` (a locking statement) and keeps its locks until released. */
export async function holdLock(db: Knex, sql: string, bindings: Knex.RawBinding[]): Promise<HeldLock> {
  const trx = await db.transaction();
  const { rows } = (await trx.raw('SELECT pg_backend_pid() AS pid')) as { rows: Array<{ pid: number }> };
  await trx.raw(sql, bindings);
  return {
    pid: rows[0]!.pid,
    release: async () => {
      if (!trx.isCompleted()) await trx.rollback();
    },
  };
}

/**
 * An uncommitted order with the checkout's key: the checkout's INSERT ... ON CONFLICT (checkout_key) waits
 * for it, so the checkout stops after its authorization, before its order exists.
 */
export const holdOrderTwin = (db: Knex, c: { storeId: string; cartId: string; checkoutKey: string }) =>
  holdLock(db, `INSERT INTO orders (store_id, cart_id, checkout_key, currency, subtotal_cents, total_cents, shipping_address) VALUES (?, ?, ?, 'EUR', 0, 0, '{}'::jsonb)`, [
    c.storeId,
    c.cartId,
    c.checkoutKey,
  ]);

/**
 * An uncommitted payment record with the checkout's payment key: the authorization's INSERT ... ON CONFLICT
 * (business_key) waits for it, so the checkout stops after confirming its holds, before authorizing.
 */
export const holdPaymentTwin = (db: Knex, checkoutKey: string) =>
  holdLock(db, `INSERT INTO payments (business_key, provider, kind, amount_cents, currency, status, payment_method) VALUES (?, 'simulated', 'authorization', 1, 'eur', 'pending', 'pm_card_visa')`, [
    `checkout:${checkoutKey}:authorize`,
  ]);

/** Waits until a session (of the given application_name, when given) is blocked by `lock`. */
export function waitUntilBlocked(db: Knex, lock: HeldLock, what: string, opts: { applicationName?: string; timeoutMs?: number } = {}) {
  return eventually(
    async () => {
      const { rows } = (await db.raw(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND ? = ANY(pg_blocking_pids(pid)) AND (?::text IS NULL OR application_name = ?)`,
        [lock.pid, opts.applicationName ?? null, opts.applicationName ?? null],
      )) as { rows: Array<{ n: number }> };
      return rows[0]!.n > 0;
    },
    opts.timeoutMs ?? 20_000,
    what,
  );
}
