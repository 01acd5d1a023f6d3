import type { Metrics } from '../infra/metrics';
import { repairLog, type RepairRun } from '../operator/repairLog';
import { createPaymentService } from '../payments/paymentService';
import { recordBookingLedgerLine } from './bookingLedger';
import { settleOutcomeMoney } from './bookingMoney';
import { releaseExpiredHold } from './holdRelease';
import type { BookingsDeps } from './deps';

/**
 * Bookings reconciliation: the repairs the `bookings-reconcile` schedule runs (workflow `reconcileBookings`) for
 * what a lost `booking:<id>` workflow or a crashed request left behind. Each check is one query of at most BATCH
 * rows older than RECONCILE_GRACE; each repair is the same idempotent step the request or workflow runs, so a
 * retried or overlapping run repairs nothing twice. Counted in `reconciliation_repairs_total{kind}`.
 */

export const RECONCILE_BOOKINGS_WORKFLOW = 'reconcileBookings';

export interface ReconcileBookingsResult {
  /** Holds past their end (by more than the grace) that no timer released: expired, the customer told. */
  holdsReleased: number;
  /** Booking authorizations holding money the booking does not stand on: voided. */
  authorizationsVoided: number;
  /** Ended bookings whose outcome's money was never moved: settled. */
  moneySettled: number;
}

const REPAIRS = 'reconciliation_repairs_total';
const REPAIRS_HELP = 'Repairs made by the reconciliations (orphaned authorizations, stale holds and reservations, unsettled money, ...)';
const BATCH = 500;
const ENDED = ['completed', 'cancelled', 'no_show'];

export type BookingReconciliationDeps = BookingsDeps & { metrics: Metrics };

export function createBookingReconciliation(deps: BookingReconciliationDeps) {
  const { db, logger } = deps;
  const repairs = () => deps.metrics.counter(REPAIRS, REPAIRS_HELP, ['kind']);
  const olderThanGrace = () => db.raw(`now() - make_interval(secs => ?)`, [deps.config.RECONCILE_GRACE / 1000]);

  /** Runs `repair` on each id; one failing row is logged and left for the next run. How many it repaired. */
  async function each(ids: string[], kind: string, run: RepairRun | undefined, repair: (id: string) => Promise<boolean>): Promise<number> {
    const keep = repairLog(db, logger, run);
    let repaired = 0;
    for (const id of ids) {
      try {
        if (!(await repair(id))) continue;
        repaired++;
        repairs().inc({ kind });
        await keep({ domain: 'bookings', kind, subject: id });
      } catch (err) {
        logger.error({ err, id, repair: kind }, 'bookings reconciliation could not repair a row; the next run tries again');
      }
    }
    if (repaired) logger.warn({ repaired, repair: kind }, 'bookings reconciliation repaired rows');
    return repaired;
  }

  return {
    /**
     * Rows still `held` past hold_expires_at by more than the grace: their `booking:<id>` timer is gone. Released
     * by the timer's own step (holdRelease.ts): expired, history line, the customer's notice once.
     */
    async releaseStaleHolds(run?: RepairRun): Promise<number> {
      const ids = (await db('bookings').where({ status: 'held' }).andWhere('hold_expires_at', '<', olderThanGrace()).orderBy('hold_expires_at').limit(BATCH).pluck('id')) as string[];
      return each(ids, 'booking_stale_hold', run, async (id) => (await releaseExpiredHold(deps, id)).status === 'expired');
    },

    /**
     * Authorizations of a booking's attempts (`booking:<id>:authorize...`) still holding money after the grace that
     * the booking does not stand on (bookings.payment_key): a card replaced or a hold ended while it was being
     * authorized whose inline void failed, or a crash between authorizing and confirming. Voided (keyed: once),
     * with a `void` ledger line when the authorization had a line. Left alone: a row still held (its request may
     * confirm it yet; once released, the next run voids) and a confirmed booking's off-session authorization (its
     * lifecycle makes the booking stand on it).
     */
    async voidOrphanedAuthorizations(run?: RepairRun): Promise<number> {
      // The booking id of `booking:<id>:authorize...`, NULL for a key that is not one of ours.
      const bookingId = `CASE WHEN split_part(p.business_key, ':', 2) ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN split_part(p.business_key, ':', 2)::uuid END`;
      const keys = (await db('payments as p')
        .where('p.business_key', 'like', 'booking:%:authorize%')
        .andWhere({ 'p.status': 'requires_capture', 'p.kind': 'authorization' })
        .andWhere('p.created_at', '<', olderThanGrace())
        .whereNotExists(
          db('bookings as b')
            .select(db.raw('1'))
            .whereRaw(`b.id = ${bookingId}`)
            .andWhere((q) =>
              q
                .whereRaw('b.payment_key = p.business_key')
                .orWhere('b.status', 'held')
                .orWhere((c) => c.where('b.status', 'confirmed').andWhereRaw(`p.business_key = 'booking:' || b.id || ':authorize:offsession'`)),
            ),
        )
        .orderBy('p.created_at')
        .limit(BATCH)
        .pluck('p.business_key')) as string[];
      const service = createPaymentService(deps);
      return each(keys, 'booking_orphaned_authorization', run, async (businessKey) => {
        const p = await service.cancelPayment({ businessKey });
        if (p.status !== 'canceled') return false;
        const line = (await db('ledger_transactions').where({ business_key: businessKey, kind: 'authorization' }).first('booking_id', 'amount_cents', 'currency', 'provider', 'provider_id')) as
          | { booking_id: string; amount_cents: string; currency: string; provider: string; provider_id: string }
          | undefined;
        if (line) {
          // Keyed by the attempt, apart from `booking:<id>:void` (the settlement's void of the payment the booking stands on).
          await recordBookingLedgerLine(db, { bookingId: line.booking_id, kind: 'void', amountCents: Number(line.amount_cents), currency: line.currency, provider: line.provider, providerId: line.provider_id, businessKey: `${businessKey}:void` });
        }
        logger.warn({ businessKey, repair: 'booking_orphaned_authorization' }, 'bookings reconciliation voided an authorization the booking does not stand on');
        return true;
      });
    },

    /**
     * Ended bookings (completed, cancelled, no_show) whose money_settled_at is still NULL after the grace: the
     * request and the workflow both died before settling. The workflow's own settle step (bookingMoney.ts).
     */
    async settleUnsettledMoney(run?: RepairRun): Promise<number> {
      const ids = (await db('bookings')
        .whereIn('status', ENDED)
        .whereNull('money_settled_at')
        .andWhere('ended_at', '<', olderThanGrace())
        .orderBy('ended_at')
        .limit(BATCH)
        .pluck('id')) as string[];
      return each(ids, 'booking_money_unsettled', run, async (id) => (await settleOutcomeMoney(deps, id)).settled);
    },
  };
}
