import type { Knex } from 'knex';
import { DomainError, refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { notify } from '../notifications/notify';
import { declineReason, paymentOutcome, refusedRequest } from '../payments/outcomes';
import { PaymentRequestError } from '../payments/gateway';
import { PaymentRecords, type PaymentRecord } from '../payments/paymentRecords';
import { createPaymentService } from '../payments/paymentService';
import { providerCalendarChanged } from './availabilityCache';
import { bookingPaymentKey, type BookingStatus } from './contract';
import { bookingJson, signalBookingChanged, throughTheGate, type BookingJson } from './holds';
import { recordBookingStatus } from './rows';
import type { BookingsDeps } from './deps';

/**
 * A booking made from a hold (POST /v1/bookings, Idempotency-Key required): the card is put in place first, then
 * one conditional UPDATE turns the still-live hold into a confirmed booking with its ledger line, history line and
 * both parties' notices. The row keeps its interval (and so its place under the exclusion constraint) throughout.
 *
 * Payment: a start within BOOKING_AUTHORIZATION_WINDOW holds the quoted price on the card now (`...:authorize`);
 * a later start saves the card (`...:setup`) and the booking's lifecycle authorizes off-session before the start.
 * A declined card leaves the hold as it is until its end, so the customer can try another card: each card tried
 * is an attempt with its own business key (contract.ts, bookingPaymentKey), and the same card again reuses its
 * attempt, so any number of retries of one request reach the provider with one key and hold the money once.
 */

export interface NewBooking {
  holdId: string;
  paymentMethod: string;
  notes?: string;
}

type Row = Record<string, unknown> & { id: string; status: BookingStatus; customer_id: string; provider_id: string; payment_attempt: number; payment_key: string | null };

const BOOKED: readonly BookingStatus[] = ['confirmed', 'completed', 'cancelled', 'no_show'];
/** Attempts that can no longer become the booking's payment; anything else may still (or already did). */
const SPENT = ['failed', 'canceled'];

const holdExpired = () => refusals.gone('hold_expired', 'The hold has ended (expired, or used for another booking); hold the slot again if it is still free.');
const superseded = () => refusals.conflict('payment_superseded', 'Another card was tried on this hold meanwhile; this one was not used. Book again with the card you mean.');
const alreadyBooked = (bookingId: string) => refusals.conflict('already_booked', 'This hold has already been booked.', { booking_id: bookingId });

export function createBookingCreation(deps: BookingsDeps) {
  const { db, config, logger } = deps;
  const payments = createPaymentService(deps);
  const records = new PaymentRecords(db);

  const load = async (id: string) => (await db('bookings').where({ id }).first()) as Row | undefined;

  /** The row has left `held` (or never was this caller's to pay): the answer for it. */
  function ended(now: Row | undefined): never {
    if (now && BOOKED.includes(now.status)) throw alreadyBooked(now.id);
    throw holdExpired();
  }

  /**
   * The attempt for this card on this hold: the current one when it is this card and not spent (a retry, or a
   * return after 3-D Secure), else the next one. The row's payment_attempt is a fence: the attempt is moved on
   * BEFORE a still-live hold of the previous card is voided, and a confirmation must name the current attempt, so
   * a request still busy with the previous card can no longer confirm on money that is being voided.
   */
  async function attemptFor(row: Row, mode: 'authorize' | 'setup', paymentMethod: string): Promise<{ attempt: number; key: string }> {
    let attempt = row.payment_attempt;
    for (;;) {
      const key = bookingPaymentKey(row.id, mode, attempt);
      const earlier = await records.findByBusinessKey(key);
      if (!earlier || (earlier.paymentMethod === paymentMethod && !SPENT.includes(earlier.status))) return { attempt, key };
      const moved = await db('bookings').where({ id: row.id, status: 'held', payment_attempt: attempt }).update({ payment_attempt: attempt + 1 }).returning('payment_attempt');
      if (moved.length === 1) {
        if (earlier.kind === 'authorization' && !SPENT.includes(earlier.status)) await payments.cancelPayment({ businessKey: key });
        attempt += 1;
        continue;
      }
      // Another request moved on (or the hold ended) meanwhile: go on from what the row says now.
      const now = await load(row.id);
      if (!now || now.status !== 'held') ended(now);
      attempt = now.payment_attempt;
    }
  }

  /** Puts the card in place; a refusal of the request itself is 422, an unreachable provider 503 (retry the same request). */
  async function pay(row: Row, caller: Principal, mode: 'authorize' | 'setup', paymentMethod: string): Promise<{ attempt: number; record: PaymentRecord }> {
    for (let tries = 1; ; tries++) {
      try {
        const { attempt, key: businessKey } = await attemptFor(row, mode, paymentMethod);
        const record =
          mode === 'setup'
            ? await payments.savePaymentMethod({ businessKey, paymentMethod, customerRef: caller.id, email: caller.email })
            : await payments.authorizePayment({
                businessKey,
                amountCents: Number(row.price_cents),
                currency: String(row.currency).trim(),
                paymentMethod,
                customerRef: caller.id,
                description: `Booking ${row.id}`,
                metadata: { booking_id: row.id, business_key: businessKey },
              });
        return { attempt, record };
      } catch (err) {
        if (err instanceof DomainError) throw err; // our own refusal (hold_expired, already_booked)
        // Another card took this attempt's key a moment before us: the next round moves past it.
        if (err instanceof PaymentRequestError && err.code === 'idempotency_key_reused' && tries < 5) continue;
        const refused = refusedRequest(err);
        if (refused) throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${refused.message}`, { reason: refused.code });
        logger.error({ err, bookingId: row.id }, 'booking payment step failed; the hold stays for a retry');
        throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.', 5);
      }
    }
  }

  /** A card that is not in place answers 402 (or 503 while the provider has not decided); the hold stays. */
  function refuse(row: Row, record: PaymentRecord): never {
    const outcome = paymentOutcome(record);
    if (outcome === 'requires_action') {
      throw refusals.payment('requires_action', 'Authentication required', 'The card needs you to authenticate (3-D Secure); finish it with the client secret, then book again with the same card while the hold lasts.', {
        hold_id: row.id,
        next_action: record.nextAction
          ? { type: record.nextAction.type, client_secret: record.nextAction.client_secret, ...(record.nextAction.redirect_url ? { redirect_url: record.nextAction.redirect_url } : {}) }
          : null,
      });
    }
    if (outcome === 'pending') throw refusals.unavailable('payment_unavailable', 'The payment provider has not decided yet; retry the same request.', 2);
    throw refusals.payment('payment_declined', 'Payment declined', `${record.failureMessage ?? 'The card was declined.'} The slot stays held until ${new Date(String(row.hold_expires_at)).toISOString()}; try another card.`, {
      hold_id: row.id,
      decline_code: declineReason(record),
    });
  }

  async function confirm(trx: Knex.Transaction, row: Row, caller: Principal, attempt: number, record: PaymentRecord, notes: string): Promise<Row | undefined> {
    const [booked] = (await trx('bookings')
      .where({ id: row.id, status: 'held', payment_attempt: attempt })
      .andWhere('hold_expires_at', '>', trx.fn.now())
      .update({ status: 'confirmed', confirmed_at: trx.fn.now(), payment_method: record.paymentMethod, payment_key: record.businessKey, notes, updated_at: trx.fn.now() })
      .returning('*')) as Row[];
    if (!booked) return undefined;
    if (record.kind === 'authorization' && record.providerPaymentId) {
      await trx.raw(
        `INSERT INTO ledger_transactions (booking_id, kind, amount_cents, currency, provider, provider_id, business_key)
         VALUES (?, 'authorization', ?, ?, ?, ?, ?) ON CONFLICT (business_key) DO NOTHING`,
        [row.id, record.amountCents, String(row.currency).trim(), record.provider, record.providerPaymentId, record.businessKey],
      );
    }
    await recordBookingStatus(trx, row.id, 'confirmed', 'customer', { payment: record.kind, payment_key: record.businessKey });
    const json = bookingJson(booked);
    const provider = (await trx('providers').where({ id: row.provider_id }).first('user_id')) as { user_id: string };
    const data = { booking_id: row.id, service_id: json.service_id, provider_id: json.provider_id, start: json.start, end: json.end, price_cents: json.price_cents, currency: json.currency };
    await notify(trx, { userId: caller.id, type: 'booking_confirmed', title: 'Your booking is confirmed', body: `Booked for ${json.start}.`, data, dedupeKey: `booking_confirmed:${row.id}` });
    await notify(trx, { userId: provider.user_id, type: 'booking_confirmed', title: 'New booking', body: `A customer booked ${json.start}.`, data, dedupeKey: `booking_confirmed:${row.id}:provider` });
    return booked;
  }

  return {
    async book(caller: Principal, input: NewBooking): Promise<BookingJson> {
      const row = await load(input.holdId);
      if (!row || row.customer_id !== caller.id) throw refusals.notFound('hold');
      if (BOOKED.includes(row.status)) throw alreadyBooked(row.id);
      if (row.status !== 'held' || new Date(String(row.hold_expires_at)).getTime() <= Date.now()) throw holdExpired();

      const startsIn = new Date(String(row.starts_at)).getTime() - Date.now();
      const mode = startsIn <= config.BOOKING_AUTHORIZATION_WINDOW ? 'authorize' : 'setup';
      const { attempt, record } = await pay(row, caller, mode, input.paymentMethod);
      const outcome = paymentOutcome(record);
      if (outcome !== 'held' && outcome !== 'saved') {
        // Another card overtook this one meanwhile (voiding it as it moved on): that, not this card's state, is the answer.
        const now = await load(row.id);
        if (now && BOOKED.includes(now.status)) throw alreadyBooked(row.id);
        if (now && now.payment_attempt !== attempt) throw superseded();
        refuse(row, record);
      }

      // held → confirmed is a new index entry, checked by the gate like any other (a deadlock with a racing hold is retried).
      const booked = await throughTheGate(() => db.transaction((trx) => confirm(trx, row, caller, attempt, record, input.notes ?? '')));
      if (!booked) {
        const now = (await load(row.id))!;
        // A concurrent request with this very card confirmed it: that booking is this request's answer too.
        if (BOOKED.includes(now.status) && now.payment_key === record.businessKey) return bookingJson(now);
        // The hold ended, or another card took over, while this one was being put in place: its money must not stay held.
        if (record.kind === 'authorization') {
          await payments.cancelPayment({ businessKey: record.businessKey }).catch((err: unknown) => {
            logger.error({ err, bookingId: row.id, businessKey: record.businessKey }, 'authorization of an ended hold not voided; it lapses at the provider');
          });
        }
        if (now.status === 'held' && new Date(String(now.hold_expires_at)).getTime() > Date.now()) {
          throw superseded();
        }
        ended(now);
      }
      await signalBookingChanged(deps, row.id);
      await providerCalendarChanged(deps, row.provider_id);
      return bookingJson(booked);
    },
  };
}
