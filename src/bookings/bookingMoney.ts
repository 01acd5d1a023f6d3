import { recordBookingCharge, type BookingChargeSettings } from '../billing/bookingCharges';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import { notify } from '../notifications/notify';
import type { PaymentGateway } from '../payments/gateway';
import { declineReason, refusedRequest } from '../payments/outcomes';
import { PaymentRecords, type PaymentRecord } from '../payments/paymentRecords';
import { createPaymentService } from '../payments/paymentService';
import { bookingMoneyKey, recordBookingLedgerLine, type BookingLedgerLine } from './bookingLedger';
import { bookingNoticeData } from './bookingNotices';

/**
 * A booking's money after the booking request: the off-session authorization of a far booking whose card was only
 * saved, and the settlement of its outcome. The outcome (status and amounts) is decided first, in one conditional
 * transaction (./bookingOutcomes.ts); settling then moves exactly what the row says, from the payment the row
 * stands on (bookings.payment_key), by keys derived from the booking, so the route, a retry and the workflow may
 * all try and the provider acts once:
 *  - an authorization: capture what is kept (a partial capture releases the rest), or void when nothing is;
 *  - a card saved but not yet authorized (a cancellation far ahead): charge a kept fee off-session, else nothing;
 * then `money_settled_at`, `captured_cents`, the ledger line and the provider's seller charge (src/billing/bookingCharges.ts)
 * in one transaction.
 */

export interface BookingMoneyDeps {
  config: BookingChargeSettings;
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
}

const ENDED = ['completed', 'cancelled', 'no_show'] as const;
/** An authorization the provider has not decided, or that waits on the customer: nothing can be captured from it yet. */
const WAITING = ['requires_action', 'pending'];
const CAPTURED = ['succeeded', 'partially_refunded', 'refunded'];

interface MoneyRow {
  id: string;
  status: string;
  customer_id: string;
  price_cents: number;
  fee_cents: number;
  captured_cents: number;
  currency: string;
  starts_at: Date;
  money_settled_at: Date | null;
  money_error: string | null;
  payment_key: string | null;
}

async function moneyRow(db: Db, bookingId: string): Promise<MoneyRow | undefined> {
  const r = await db('bookings')
    .where({ id: bookingId })
    .first('id', 'status', 'customer_id', 'price_cents', 'fee_cents', 'captured_cents', 'currency', 'starts_at', 'money_settled_at', 'money_error', 'payment_key');
  return r && { ...r, price_cents: Number(r.price_cents), fee_cents: Number(r.fee_cents), captured_cents: Number(r.captured_cents) };
}

/** What an ended booking keeps: the full price when completed, the fee (late cancellation, no-show) otherwise. */
export const keptCents = (row: { status: string; price_cents: number; fee_cents: number }) => (row.status === 'completed' ? row.price_cents : row.fee_cents);

export interface SettleResult {
  status: string;
  settled: boolean;
  capturedCents: number;
  error: string | null;
}

const refusal = (err: unknown): string | undefined => {
  const r = refusedRequest(err);
  return r ? `${r.code}: ${r.message}` : undefined;
};

const reason = (p: PaymentRecord) => (declineReason(p) ? ` (${declineReason(p)})` : '');

const lineFor = (bookingId: string, p: PaymentRecord, kind: BookingLedgerLine['kind'], step: 'capture' | 'void' | 'charge', amountCents: number): BookingLedgerLine => ({
  bookingId,
  kind,
  amountCents,
  currency: p.currency ?? 'XXX',
  provider: p.provider,
  providerId: p.providerPaymentId ?? p.businessKey,
  businessKey: bookingMoneyKey(bookingId, step),
});

/** The payment the booking stands on (bookings.payment_key, set by the confirmation and by the off-session authorization). */
async function standingPayment(records: PaymentRecords, row: MoneyRow): Promise<PaymentRecord | undefined> {
  return row.payment_key ? records.findByBusinessKey(row.payment_key) : undefined;
}

/** Captures `keep` of an authorization (a partial capture releases the rest), or voids it when nothing is kept. */
async function settleAuthorization(deps: BookingMoneyDeps, bookingId: string, auth: PaymentRecord, keep: number) {
  const service = createPaymentService(deps);
  const key = auth.businessKey;
  let error: string | null = null;
  let p = await service.refreshPayment({ businessKey: key });
  try {
    if (p.status === 'requires_capture') p = keep > 0 ? await service.capturePayment({ businessKey: key, amountCents: keep }) : await service.cancelPayment({ businessKey: key });
    // Still waiting on the customer: let it go either way, nothing can be captured from it.
    else if (WAITING.includes(p.status)) p = await service.cancelPayment({ businessKey: key });
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    error = refused;
    p = await service.refreshPayment({ businessKey: key });
  }
  if (CAPTURED.includes(p.status)) return { captured: p.capturedCents, line: lineFor(bookingId, p, 'capture', 'capture', p.capturedCents), error };
  if (p.status === 'processing') throw new Error(`booking ${bookingId}: its authorization is still processing; settle again later`);
  if (p.status === 'canceled') {
    return { captured: 0, line: lineFor(bookingId, p, 'void', 'void', p.amountCents), error: keep > 0 ? (error ?? `the authorization was voided before the ${keep} kept could be captured`) : error };
  }
  return { captured: 0, line: undefined, error: keep > 0 ? (error ?? `the authorization is ${p.status}${reason(p)}; the ${keep} kept was not collected`) : error };
}

/** Charges a kept fee to the saved card (a cancellation before the off-session authorization). */
async function chargeSavedCard(deps: BookingMoneyDeps, row: MoneyRow, setup: PaymentRecord, keep: number) {
  if (setup.status !== 'succeeded' || !setup.providerCustomerId) return { captured: 0, line: undefined, error: 'no saved card to charge the fee to' };
  try {
    const charge = await createPaymentService(deps).chargeOffSession({
      businessKey: bookingMoneyKey(row.id, 'charge'),
      amountCents: keep,
      currency: row.currency,
      customerId: setup.providerCustomerId,
      paymentMethod: setup.providerPaymentMethod ?? setup.paymentMethod,
      customerRef: row.customer_id,
      description: `Booking ${row.id}: cancellation fee`,
      metadata: { booking_id: row.id },
    });
    if (CAPTURED.includes(charge.status)) return { captured: charge.capturedCents, line: lineFor(row.id, charge, 'charge', 'charge', charge.capturedCents), error: null };
    if (charge.status === 'processing' || charge.status === 'pending') throw new Error(`booking ${row.id}: its fee charge is still ${charge.status}; settle again later`);
    return { captured: 0, line: undefined, error: `the fee charge is ${charge.status}${reason(charge)}` };
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    return { captured: 0, line: undefined, error: refused };
  }
}

/**
 * Moves the money an ended booking's outcome decided, once. Refusals by the provider or our payment state machine
 * (nothing authorized, a declined fee charge) are recorded in `money_error` and settle the booking: retrying them
 * changes nothing. Anything else (network, outage) throws and is retried by the caller, under the same keys.
 */
export async function settleOutcomeMoney(deps: BookingMoneyDeps, bookingId: string): Promise<SettleResult> {
  const row = await moneyRow(deps.db, bookingId);
  if (!row || !(ENDED as readonly string[]).includes(row.status)) return { status: row?.status ?? 'missing', settled: false, capturedCents: 0, error: null };
  if (row.money_settled_at) return { status: row.status, settled: true, capturedCents: row.captured_cents, error: row.money_error };

  const records = new PaymentRecords(deps.db);
  const keep = keptCents(row);
  const standing = await standingPayment(records, row);
  let result: { captured: number; line: BookingLedgerLine | undefined; error: string | null };
  if (standing?.kind === 'authorization') {
    result = await settleAuthorization(deps, bookingId, standing, keep);
  } else {
    // Card saved only. An off-session authorization that failed and still waits on the customer is let go first.
    const offSession = await records.findByBusinessKey(bookingMoneyKey(bookingId, 'offsession'));
    if (offSession && WAITING.includes(offSession.status)) await settleAuthorization(deps, bookingId, offSession, 0);
    if (keep === 0) result = { captured: 0, line: undefined, error: null };
    else if (standing?.kind === 'setup') result = await chargeSavedCard(deps, row, standing, keep);
    else result = { captured: 0, line: undefined, error: `no payment in place to collect the ${keep} kept` };
  }

  return deps.db.transaction(async (trx) => {
    const updated = await trx('bookings')
      .where({ id: bookingId })
      .whereNull('money_settled_at')
      .update({ money_settled_at: trx.fn.now(), captured_cents: result.captured, money_error: result.error, updated_at: trx.fn.now() });
    // A concurrent settle of the same outcome finished first: same keys, same money, its line stands.
    if (updated === 0) {
      const now = (await moneyRow(deps.db, bookingId))!;
      return { status: now.status, settled: true, capturedCents: now.captured_cents, error: now.money_error };
    }
    if (result.line) await recordBookingLedgerLine(trx, result.line);
    // What the kept money owes whom (the provider's charge, the platform fee, the customer's receipt), with it.
    if (result.line && result.captured > 0 && (result.line.kind === 'capture' || result.line.kind === 'charge')) {
      const paymentKey = result.line.kind === 'capture' ? standing!.businessKey : bookingMoneyKey(bookingId, 'charge');
      await recordBookingCharge(trx, { bookingId, capturedCents: result.captured, paymentKey, provider: result.line.provider, providerId: result.line.providerId }, deps.config);
    }
    if (result.error) deps.logger.warn({ bookingId, error: result.error }, 'booking outcome settled without all its money');
    return { status: row.status, settled: true, capturedCents: result.captured, error: result.error };
  });
}

export type OffSessionOutcome = { outcome: 'authorized' | 'not_needed' } | { outcome: 'failed'; failureCode: string };

/** The authorization is in place: its ledger line, and the booking stands on it from now on. */
async function standOn(deps: BookingMoneyDeps, bookingId: string, p: PaymentRecord): Promise<void> {
  await deps.db.transaction(async (trx) => {
    await recordBookingLedgerLine(trx, { ...lineFor(bookingId, p, 'authorization', 'capture', p.amountCents), businessKey: p.businessKey });
    await trx('bookings').where({ id: bookingId }).update({ payment_key: p.businessKey, payment_failed_at: null, updated_at: trx.fn.now() });
  });
}

/**
 * A far booking saved the customer's card; BOOKING_AUTHORIZATION_WINDOW before the start its price is authorized
 * off-session (`booking:<id>:authorize:offsession`) and the booking then stands on that authorization, exactly as
 * one authorized at booking. A decline or a card needing authentication marks `payment_failed_at` and tells the
 * customer (`booking_payment_failed`); the lifecycle gives them a grace to authenticate, then the platform cancels.
 */
export async function authorizeOffSession(deps: BookingMoneyDeps, bookingId: string): Promise<OffSessionOutcome> {
  const row = await moneyRow(deps.db, bookingId);
  if (!row || row.status !== 'confirmed') return { outcome: 'not_needed' };
  const records = new PaymentRecords(deps.db);
  const standing = await standingPayment(records, row);
  if (standing?.kind === 'authorization') return { outcome: 'not_needed' };
  if (standing?.status !== 'succeeded' || !standing.providerCustomerId) return markFailed(deps, row, 'no_saved_card');

  let p: PaymentRecord;
  try {
    p = await createPaymentService(deps).authorizePayment({
      businessKey: bookingMoneyKey(bookingId, 'offsession'),
      amountCents: row.price_cents,
      currency: row.currency,
      paymentMethod: standing.providerPaymentMethod ?? standing.paymentMethod,
      customerId: standing.providerCustomerId,
      customerRef: row.customer_id,
      description: `Booking ${bookingId}`,
      metadata: { booking_id: bookingId },
    });
  } catch (err) {
    const refused = refusedRequest(err);
    if (!refused) throw err;
    return markFailed(deps, row, refused.code);
  }
  if (p.status === 'requires_capture') {
    await standOn(deps, bookingId, p);
    return { outcome: 'authorized' };
  }
  if (p.status === 'pending' || p.status === 'processing') throw new Error(`booking ${bookingId}: its authorization is still ${p.status}; ask again`);
  return markFailed(deps, row, declineReason(p) ?? p.status);
}

async function markFailed(deps: BookingMoneyDeps, row: MoneyRow, failureCode: string): Promise<OffSessionOutcome> {
  await deps.db.transaction(async (trx) => {
    const marked = await trx('bookings')
      .where({ id: row.id, status: 'confirmed' })
      .whereNull('payment_failed_at')
      .update({ payment_failed_at: trx.fn.now(), updated_at: trx.fn.now() });
    if (marked === 0) return;
    const d = (await bookingNoticeData(trx, row.id))!;
    await notify(trx, {
      userId: d.customerId,
      type: 'booking_payment_failed',
      title: `We could not authorize the payment for ${d.row.service_title}`,
      body: 'Complete the payment (your bank may ask you to confirm it) or the booking will be cancelled before it starts.',
      data: { ...d.row, failure_code: failureCode },
      dedupeKey: `booking_payment_failed:${row.id}:${d.row.start}`,
    });
  });
  return { outcome: 'failed', failureCode };
}

/**
 * After the grace: did the customer complete the authorization meanwhile (3-D Secure in the app)? The provider is
 * asked; true when the funds are now held (the booking then stands on them and the failure mark is cleared).
 */
export async function recheckAuthorization(deps: BookingMoneyDeps, bookingId: string): Promise<boolean> {
  const key = bookingMoneyKey(bookingId, 'offsession');
  if (!(await new PaymentRecords(deps.db).findByBusinessKey(key))) return false;
  const p = await createPaymentService(deps).refreshPayment({ businessKey: key });
  if (p.status !== 'requires_capture') return false;
  await standOn(deps, bookingId, p);
  return true;
}
