import type { Knex } from 'knex';
import type { Config } from '../config';
import { bookingsFeeRule, platformFeeCents } from '../domain/platformFees';
import { formatLocalInstant, formatMoney } from '../notifications/email/format';
import { makeChargeAvailable } from './charges';
import { recordOneLineCharge } from './receiptNotices';

/**
 * A booking's kept money as a seller charge (issue 13), recorded in the transaction that settles the booking's
 * outcome money (src/bookings/bookingMoney.ts): seller = the provider's user, fee = PLATFORM_FEE_BOOKINGS_BPS of
 * what was kept (the price of a completed booking, or a late-cancellation / no-show fee), one receipt line naming the
 * service and its time (in the provider's zone).
 *
 * Tax: the receipt is issued at rate 0 (the line carries taxRateBps 0) whatever the provider's configured rate:
 * booking prices are quoted and charged as they are, with no tax added on top, so the receipt equals what was
 * charged. (Tax on top would need the quote, the authorization and the cancellation fees to include it.)
 *
 * Availability: pending until the provider release after the dispute window (src/bookings/bookingLedger.ts), which
 * makes it available at the later of the release and the booking's end + PAYOUT_DELAY_BOOKING.
 */
export interface KeptBookingMoney {
  bookingId: string;
  capturedCents: number;
  /** payments.business_key of the authorization captured or the fee charge. */
  paymentKey: string;
  provider: string;
  providerId: string;
}

export type BookingChargeSettings = Pick<Config, 'TAX_RATES_BPS' | 'ISSUE_RECEIPTS' | 'PLATFORM_FEE_BOOKINGS_BPS'>;

const KEPT_AS: Record<string, string> = { completed: '', cancelled: 'Late cancellation fee: ', no_show: 'No-show fee: ' };

export async function recordBookingCharge(trx: Knex.Transaction, kept: KeptBookingMoney, settings: BookingChargeSettings): Promise<void> {
  const b = (await trx('bookings as b')
    .join('services as s', 's.id', 'b.service_id')
    .join('providers as p', 'p.id', 'b.provider_id')
    .where('b.id', kept.bookingId)
    .first('b.status', 'b.customer_id', 'b.starts_at', 'b.currency', 's.title', 'p.user_id', 'p.time_zone')) as {
    status: string;
    customer_id: string;
    starts_at: Date;
    currency: string;
    title: string;
    user_id: string;
    time_zone: string;
  };
  const when = formatLocalInstant(b.starts_at.toISOString(), b.time_zone) ?? b.starts_at.toISOString();
  const description = `${KEPT_AS[b.status] ?? ''}${b.title}, ${when}`;
  await recordOneLineCharge(
    trx,
    {
      source: { kind: 'booking', id: kept.bookingId },
      sellerUserId: b.user_id,
      customerUserId: b.customer_id,
      currency: b.currency,
      capturedCents: kept.capturedCents,
      feeCents: platformFeeCents(kept.capturedCents, bookingsFeeRule(settings)),
      paymentKey: kept.paymentKey,
      description,
      availableAt: 'pending',
      ledger: { provider: kept.provider, providerId: kept.providerId, bookingId: kept.bookingId },
    },
    {
      userId: b.customer_id,
      type: 'booking_charged',
      title: `You were charged for ${b.title}`,
      body: `We charged ${formatMoney(kept.capturedCents, b.currency)} for ${description}.`,
      data: { booking_id: kept.bookingId, service_title: b.title, start: b.starts_at.toISOString(), time_zone: b.time_zone, price_cents: kept.capturedCents, currency: b.currency },
      dedupeKey: `booking_charged:${kept.bookingId}`,
    },
    settings,
  );
}

/** At the provider release: the booking's charge becomes available at the later of now and its end + the payout delay. */
export async function makeBookingChargeAvailable(trx: Knex.Transaction, bookingId: string, endedAt: Date, payoutDelayMs: number): Promise<void> {
  const { now } = (await trx.raw('SELECT now() AS now')).rows[0] as { now: Date };
  const at = new Date(Math.max(now.getTime(), endedAt.getTime() + payoutDelayMs));
  await makeChargeAvailable(trx, { kind: 'booking', id: bookingId }, at);
}
