import type { Knex } from 'knex';
import type { Config } from '../config';
import { cancellationTerms, noShowFee } from '../domain/cancellationPolicy';
import { DomainError, refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { RedisClient } from '../infra/redis';
import { notify } from '../notifications/notify';
import type { TemporalClientProvider } from '../temporal/client';
import { providerCalendarChanged } from './availabilityCache';
import { bookingNoticeData } from './bookingNotices';
import { settleOutcomeMoney, type BookingMoneyDeps } from './bookingMoney';
import { signalBookingChanged } from './holds';
import { bookingFromRow, recordBookingStatus, type BookingRow } from './rows';

/**
 * How a confirmed booking ends: cancelled (by the customer, the provider, an operator, or the platform when the
 * payment could not be authorized), completed (by the provider, an operator, or by itself after the grace) or
 * no_show. The outcome and its amounts are decided in ONE transaction on the locked row, only while it is
 * `confirmed`: of a cancel racing a completion exactly one wins, the other is refused with the current status.
 * Cancellation terms come from the policy frozen on the row, never the service's current one. The money moves
 * after the commit (./bookingMoney.ts), keyed by the booking, so a crash between the two is finished by a retry
 * or by the booking's workflow, which settles any ended row it finds unsettled.
 */

export type Outcome = 'cancelled' | 'completed' | 'no_show';
export type Side = 'customer' | 'provider' | 'operator';
export type OutcomeActor = Side | 'system';

export interface OutcomeDeps extends BookingMoneyDeps {
  config: Config;
  redis: RedisClient;
  temporal: TemporalClientProvider;
}

export interface OutcomeRequest {
  bookingId: string;
  to: Outcome;
  by: OutcomeActor;
  reason?: string | null;
}

interface Parties {
  id: string;
  status: string;
  customer_id: string;
  provider_id: string;
  provider_user_id: string;
}

async function parties(db: Knex, bookingId: string): Promise<Parties | undefined> {
  return (await db('bookings as b')
    .join('providers as p', 'p.id', 'b.provider_id')
    .where('b.id', bookingId)
    .whereIn('b.status', ['confirmed', 'completed', 'cancelled', 'no_show'])
    .first('b.id', 'b.status', 'b.customer_id', 'b.provider_id', 'p.user_id as provider_user_id')) as Parties | undefined;
}

/** Which side of the booking the caller is on (customer first: an operator booking for themself is its customer). */
export function sideOf(caller: Principal, p: { customer_id: string; provider_user_id: string }): Side | undefined {
  if (caller.id === p.customer_id) return 'customer';
  if (caller.id === p.provider_user_id) return 'provider';
  if (caller.role === 'operator') return 'operator';
  return undefined;
}

const STATUS_WORD: Record<Outcome, string> = { cancelled: 'cancelled', completed: 'completed', no_show: 'marked as a no-show' };

/** Decides the outcome in one transaction: status, amounts, history, aggregates and notices, or a refusal. */
export async function decideOutcome(db: Knex, req: OutcomeRequest): Promise<BookingRow> {
  return db.transaction(async (trx) => {
    const locked = await trx('bookings').where({ id: req.bookingId }).forUpdate().first();
    if (!locked) throw refusals.notFound('booking');
    const row = bookingFromRow(locked);
    if (row.status !== 'confirmed') {
      if (req.to === 'cancelled') {
        throw refusals.conflict('booking_not_cancellable', `The booking is ${row.status}; only a confirmed booking can be cancelled.`, { current_status: row.status });
      }
      throw refusals.conflict('illegal_transition', `The booking is ${row.status}; only a confirmed booking can be ${STATUS_WORD[req.to]}.`, {
        current_status: row.status,
        from: row.status,
        to: req.to,
      });
    }
    const now = Date.now();
    if (req.to !== 'cancelled' && row.starts_at.getTime() > now) {
      throw refusals.unprocessable('booking_not_started', `The booking starts at ${row.starts_at.toISOString()}; it can be ${STATUS_WORD[req.to]} only after that.`, {
        start: row.starts_at.toISOString(),
      });
    }

    let fee = 0;
    let refund = 0;
    let late: boolean | undefined;
    if (req.to === 'cancelled') {
      // The platform's own cancellation (payment not in place) costs the customer nothing, as an operator's does.
      const terms = cancellationTerms(row.policy, row.price_cents, row.starts_at.getTime(), now, req.by === 'system' ? 'operator' : req.by);
      ({ feeCents: fee, refundCents: refund, late } = terms);
    } else if (req.to === 'no_show') {
      fee = noShowFee(row.policy, row.price_cents);
      refund = row.price_cents - fee;
    }

    const [updated] = await trx('bookings')
      .where({ id: row.id, status: 'confirmed' })
      .update({
        status: req.to,
        fee_cents: fee,
        refund_cents: refund,
        cancelled_by: req.to === 'cancelled' ? req.by : null,
        ended_at: trx.fn.now(),
        updated_at: trx.fn.now(),
      })
      .returning('*');
    // Aggregates in the transaction that changes what they count.
    if (req.to === 'completed') await trx('providers').where({ id: row.provider_id }).increment('completed_count', 1).update({ updated_at: trx.fn.now() });
    await recordBookingStatus(trx, row.id, req.to, req.by, {
      ...(req.reason ? { reason: req.reason } : {}),
      ...(late === undefined ? {} : { late }),
      fee_cents: fee,
      refund_cents: refund,
    });
    await tellParties(trx, row.id, req, fee, refund);
    return bookingFromRow(updated);
  });
}

async function tellParties(trx: Knex.Transaction, bookingId: string, req: OutcomeRequest, fee: number, refund: number): Promise<void> {
  const d = (await bookingNoticeData(trx, bookingId))!;
  const money = { fee_cents: fee, refund_cents: refund };
  if (req.to === 'cancelled') {
    const byWhom = req.by === 'system' ? 'because its payment could not be authorized' : `by the ${req.by}`;
    for (const [userId, side] of [
      [d.customerId, 'customer'],
      [d.providerUserId, 'provider'],
    ] as const) {
      await notify(trx, {
        userId,
        type: 'booking_cancelled',
        title: `Booking cancelled: ${d.row.service_title}`,
        body: `The booking was cancelled ${byWhom}.${req.reason ? ` Reason: ${req.reason}` : ''}`,
        data: { ...d.row, ...money, cancelled_by: req.by },
        dedupeKey: `booking_cancelled:${bookingId}:${side}`,
      });
    }
    return;
  }
  if (req.to === 'no_show') {
    await notify(trx, {
      userId: d.customerId,
      type: 'booking_no_show',
      title: `Missed booking: ${d.row.service_title}`,
      body: `${d.providerName} marked the booking as missed.`,
      data: { ...d.row, ...money },
      dedupeKey: `booking_no_show:${bookingId}`,
    });
    return;
  }
  await notify(trx, {
    userId: d.customerId,
    type: 'booking_completed',
    title: `Booking completed: ${d.row.service_title}`,
    data: d.row,
    dedupeKey: `booking_completed:${bookingId}`,
  });
  // Feedback may be given from the moment the booking is completed, so the invitation goes with it.
  await notify(trx, {
    userId: d.customerId,
    type: 'booking_feedback_requested',
    title: `How was ${d.row.service_title}?`,
    body: `Rate your booking with ${d.providerName}.`,
    data: d.row,
    dedupeKey: `booking_feedback_requested:${bookingId}`,
  });
}

/**
 * Ends a booking on behalf of a caller (routes): who may is decided by their side of it (strangers get 404, as
 * for an unknown id; the customer asking to complete gets 403). After the commit: the calendar is freed, the
 * workflow told, and the money moved at once when the provider answers (else the workflow finishes it).
 */
export async function endBookingFor(deps: OutcomeDeps, caller: Principal, req: { bookingId: string; to: Outcome; reason?: string | null }): Promise<BookingRow> {
  const p = await parties(deps.db, req.bookingId);
  const side = p && sideOf(caller, p);
  if (!p || !side) throw refusals.notFound('booking');
  if (req.to !== 'cancelled' && side === 'customer') throw refusals.forbidden(`Only the provider or an operator may mark a booking ${STATUS_WORD[req.to]}.`);
  return endBooking(deps, { ...req, by: side });
}

/** Moves the decided money now if the provider answers; else the booking's workflow finishes it (logged). */
async function trySettle(deps: OutcomeDeps, bookingId: string): Promise<void> {
  try {
    await settleOutcomeMoney(deps, bookingId);
  } catch (err) {
    deps.logger.warn({ err, bookingId }, 'booking outcome decided; its money is left to the booking workflow');
  }
}

/** A request's outcome: decide (once), then free the calendar, tell the workflow, settle the money. */
async function endBooking(deps: OutcomeDeps, req: OutcomeRequest): Promise<BookingRow> {
  let row: BookingRow;
  try {
    row = await decideOutcome(deps.db, req);
  } catch (err) {
    // Already ended: a request that crashed after deciding left its money undone, and this retry finishes it
    // (settling is a no-op when done) before answering with the conflict.
    if (err instanceof DomainError && err.kind === 'conflict') await trySettle(deps, req.bookingId);
    throw err;
  }
  await providerCalendarChanged(deps, row.provider_id);
  await signalBookingChanged(deps, row.id);
  await trySettle(deps, row.id);
  return row;
}
