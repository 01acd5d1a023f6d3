import type { Knex } from 'knex';
import { makeBookingChargeAvailable } from '../billing/bookingCharges';

/**
 * A booking's lines on the one money ledger (ledger_transactions, booking_id set): the off-session authorization,
 * the capture or void that settles its outcome, a fee charged to a saved card, and the provider's release after
 * the dispute window. Each line's business key is `booking:<id>:<step>` (an authorization's: its payment's key),
 * unique, so a retried step records once.
 */

export type BookingMoneyStep = 'capture' | 'void' | 'charge' | 'release' | 'offsession';

/**
 * The key of a booking's money step. `charge` (a fee charged to the saved card) and `offsession` (the far booking's
 * authorization, `booking:<id>:authorize:offsession`, apart from every key the booking request's attempts use) are
 * also payment keys; the others name ledger lines only (the provider calls derive theirs from the payment's key).
 */
export const bookingMoneyKey = (bookingId: string, step: BookingMoneyStep) =>
  step === 'offsession' ? `booking:${bookingId}:authorize:offsession` : `booking:${bookingId}:${step}`;

export type BookingLedgerKind = 'authorization' | 'capture' | 'charge' | 'void' | 'refund' | 'provider_release';

export interface BookingLedgerLine {
  bookingId: string;
  kind: BookingLedgerKind;
  amountCents: number;
  currency: string;
  /** The payment provider ('simulated' | 'stripe') and its id of the payment moved (pi_...). */
  provider: string;
  providerId: string;
  businessKey: string;
}

/** Records one line, in the caller's transaction; true when new (a replay hits the unique key and adds nothing). */
export async function recordBookingLedgerLine(db: Knex | Knex.Transaction, line: BookingLedgerLine): Promise<boolean> {
  const result = await db.raw(
    `INSERT INTO ledger_transactions (booking_id, kind, amount_cents, currency, provider, provider_id, business_key)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (business_key) DO NOTHING`,
    [line.bookingId, line.kind, line.amountCents, line.currency.toUpperCase(), line.provider, line.providerId, line.businessKey],
  );
  return (result.rowCount ?? 0) > 0;
}

export interface ReleaseResult {
  /** A provider_release line exists now (written by this call or an earlier one). */
  released: boolean;
  amountCents: number;
}

/**
 * The money a booking's outcome kept (its capture or charge) is released to the provider: one provider_release
 * line with the captured amount, once the outcome's money is settled. Nothing kept (voided, or no fee): nothing
 * to release. Idempotent by `booking:<id>:release`. The provider's seller charge becomes available with it, at the
 * later of now and the booking's end + `payoutDelayMs` (PAYOUT_DELAY_BOOKING).
 */
export async function releaseToProvider(db: Knex, bookingId: string, payoutDelayMs = 0): Promise<ReleaseResult> {
  return db.transaction(async (trx) => {
    const row = (await trx('bookings').where({ id: bookingId }).forShare().first('status', 'captured_cents', 'currency', 'money_settled_at', 'ended_at', 'starts_at')) as
      | { status: string; captured_cents: string | number; currency: string; money_settled_at: Date | null; ended_at: Date | null; starts_at: Date }
      | undefined;
    if (!row || !row.money_settled_at) return { released: false, amountCents: 0 };
    const amountCents = Number(row.captured_cents);
    if (amountCents === 0) return { released: false, amountCents: 0 };
    const kept = (await trx('ledger_transactions')
      .where({ booking_id: bookingId })
      .whereIn('kind', ['capture', 'charge'])
      .orderBy('id')
      .first('provider', 'provider_id')) as { provider: string; provider_id: string } | undefined;
    if (!kept) throw new Error(`booking ${bookingId} kept ${amountCents} but has no capture or charge line to release`);
    await recordBookingLedgerLine(trx, {
      bookingId,
      kind: 'provider_release',
      amountCents,
      currency: row.currency,
      provider: kept.provider,
      providerId: kept.provider_id,
      businessKey: bookingMoneyKey(bookingId, 'release'),
    });
    // The provider's charge (src/billing/bookingCharges.ts) becomes available from here on.
    await makeBookingChargeAvailable(trx, bookingId, row.ended_at ?? row.starts_at, payoutDelayMs);
    return { released: true, amountCents };
  });
}

/** Whether the provider_release line of a booking exists. */
export async function isReleased(db: Knex | Knex.Transaction, bookingId: string): Promise<boolean> {
  return Boolean(await db('ledger_transactions').where({ business_key: bookingMoneyKey(bookingId, 'release') }).first('id'));
}
