import type { Knex } from 'knex';
import type { Config } from '../config';
import { formatMoney } from '../domain/campaigns';
import { isHardDecline } from '../domain/dunning';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import { declineReason, paymentOutcome } from '../payments/outcomes';
import { PaymentRecords } from '../payments/paymentRecords';
import { createPaymentService } from '../payments/paymentService';
import { subscriptionChargeKey, subscriptionPeriodSourceId } from './contract';
import { issueInvoice, voidInvoice } from './invoices';
import type { Plan } from './plans';
import { loadPeriod, loadSubscription, type SubscriptionRow } from './subscriptionRows';

/**
 * A plan's invoices and their charges. Each period is invoiced once (the platform's invoice to the store owner,
 * source `subscription` / `<store>:<period start>`), its line the plan's price less the credit carried from plan
 * changes, tax on top; the charge takes the invoice's total from the card saved at subscription, off-session, one
 * payment per attempt (`subscription:<store>:<period start>:<attempt>`): a retried step replays its attempt's
 * key, a new attempt is only made after a recorded decline. A partial unique index allows one paid charge per
 * invoice.
 */

export interface SubscriptionChargeDeps {
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
  config: Pick<Config, 'TAX_RATES_BPS' | 'MERCHANT_PLANS'>;
}

export type ChargeResult =
  | { outcome: 'paid'; paymentKey: string | null }
  | { outcome: 'declined'; paymentKey: string; declineCode: string | null; hard: boolean; message: string | null };

/** The provider has not decided yet (processing): the step is retried and asks again under the same key. */
export class ChargePendingError extends Error {
  constructor(readonly paymentKey: string) {
    super(`The charge ${paymentKey} is still pending at the provider.`);
    this.name = 'ChargePendingError';
  }
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Opens a period: its row and its invoice (finalized), in the caller's transaction; the credit applied comes off
 * the line. Idempotent per (store, period start): a period opened already is returned as it is.
 */
export async function openPeriod(
  trx: Knex.Transaction,
  settings: Pick<Config, 'TAX_RATES_BPS'>,
  sub: Pick<SubscriptionRow, 'store_id' | 'customer_ref'>,
  plan: Plan,
  period: { start: Date; end: Date },
  creditAppliedCents: number,
) {
  const existing = await loadPeriod(trx, sub.store_id, period.start);
  if (existing) return existing;
  const due = plan.price_cents - creditAppliedCents;
  const credit = creditAppliedCents > 0 ? ` (${formatMoney(plan.price_cents, plan.currency)} less ${formatMoney(creditAppliedCents, plan.currency)} credit from plan changes)` : '';
  const invoice = await issueInvoice(
    trx,
    {
      issuer: { kind: 'platform' },
      customerUserId: sub.customer_ref!,
      currency: plan.currency,
      source: { kind: 'subscription', id: subscriptionPeriodSourceId(sub.store_id, period.start) },
      lines: [{ description: `${plan.name} plan, ${day(period.start)} to ${day(period.end)}${credit}`, quantity: 1, unitAmountCents: due }],
    },
    settings,
  );
  await trx('subscription_periods').insert({
    store_id: sub.store_id,
    period_start: period.start,
    period_end: period.end,
    plan_id: plan.id,
    currency: plan.currency,
    list_price_cents: plan.price_cents,
    credit_applied_cents: creditAppliedCents,
    invoice_id: invoice.id,
    amount_due_cents: Number(invoice.total_cents),
  });
  return (await loadPeriod(trx, sub.store_id, period.start))!;
}

export function createSubscriptionCharges(deps: SubscriptionChargeDeps) {
  const { db } = deps;
  const payments = createPaymentService(deps);
  const records = new PaymentRecords(db);

  /** The saved card (setup record) a subscription charges. */
  async function savedCard(sub: SubscriptionRow) {
    const setup = sub.payment_method ? await records.findByBusinessKey(sub.payment_method) : undefined;
    if (!setup || paymentOutcome(setup) !== 'saved' || !setup.providerCustomerId) throw new Error(`store ${sub.store_id} has no saved card for its plan`);
    return { customerId: setup.providerCustomerId, paymentMethod: setup.providerPaymentMethod ?? setup.paymentMethod };
  }

  /**
   * Charges `amountCents` under `paymentKey` for an invoice, recording the attempt and its answer. A paid charge
   * is returned as paid however often this runs; a decline is returned with its reason and whether it is hard.
   */
  async function chargeInvoice(
    sub: SubscriptionRow,
    c: { paymentKey: string; periodStart: Date; kind: 'period' | 'change'; changeId?: string; attempt: number; invoiceId: string; amountCents: number; currency: string; description: string },
    onPaid: (trx: Knex.Transaction) => Promise<void>,
  ): Promise<ChargeResult> {
    await db('subscription_charges')
      .insert({
        payment_key: c.paymentKey,
        store_id: sub.store_id,
        period_start: c.periodStart,
        kind: c.kind,
        change_id: c.changeId ?? null,
        attempt: c.attempt,
        invoice_id: c.invoiceId,
        amount_cents: c.amountCents,
      })
      .onConflict('payment_key')
      .ignore();
    const card = await savedCard(sub);
    const record = await payments.chargeOffSession({
      businessKey: c.paymentKey,
      amountCents: c.amountCents,
      currency: c.currency,
      customerId: card.customerId,
      paymentMethod: card.paymentMethod,
      customerRef: sub.customer_ref ?? undefined,
      description: c.description,
      metadata: { store_id: sub.store_id, invoice_id: c.invoiceId },
    });
    const outcome = paymentOutcome(record);
    if (outcome === 'paid') {
      await db.transaction(async (trx) => {
        await trx('subscription_charges').where({ payment_key: c.paymentKey }).update({ status: 'paid', decline_code: null, updated_at: trx.fn.now() });
        await onPaid(trx);
      });
      return { outcome: 'paid', paymentKey: c.paymentKey };
    }
    if (outcome === 'pending') throw new ChargePendingError(c.paymentKey);
    // Declined, or off-session authentication required (the owner is not there to give it): both a decline here.
    const code = outcome === 'requires_action' ? 'authentication_required' : declineReason(record);
    const hard = isHardDecline(code);
    await db('subscription_charges').where({ payment_key: c.paymentKey }).update({ status: 'declined', decline_code: code, hard_decline: hard, updated_at: db.fn.now() });
    return { outcome: 'declined', paymentKey: c.paymentKey, declineCode: code, hard, message: record.failureMessage };
  }

  return {
    chargeInvoice,

    /**
     * Attempt `attempt` at the period's invoice. Paid: the period is paid and the subscription active again (if it
     * is still on that period and not canceled). Nothing due (a credit covered it): paid without a charge.
     */
    async chargePeriod(input: { storeId: string; periodStart: Date; attempt: number }): Promise<ChargeResult> {
      const period = await loadPeriod(db, input.storeId, input.periodStart);
      const sub = await loadSubscription(db, input.storeId);
      if (!period || !sub) throw new Error(`no period ${input.periodStart.toISOString()} of store ${input.storeId}`);
      const markPaid = async (trx: Knex.Transaction) => {
        await trx('subscription_periods')
          .where({ store_id: input.storeId, period_start: input.periodStart })
          .whereIn('status', ['open', 'unpaid'])
          .update({ status: 'paid', paid_at: trx.fn.now(), updated_at: trx.fn.now() });
        await trx('store_subscriptions')
          .where({ store_id: input.storeId, current_period_start: input.periodStart })
          .whereIn('status', ['incomplete', 'active', 'past_due', 'unpaid'])
          .update({ status: 'active', updated_at: trx.fn.now() });
      };
      if (period.status === 'paid') return { outcome: 'paid', paymentKey: null };
      if (period.amount_due_cents === 0) {
        await db.transaction(markPaid);
        return { outcome: 'paid', paymentKey: null };
      }
      return chargeInvoice(
        sub,
        {
          paymentKey: subscriptionChargeKey(input.storeId, input.periodStart, input.attempt),
          periodStart: input.periodStart,
          kind: 'period',
          attempt: input.attempt,
          invoiceId: period.invoice_id!,
          amountCents: period.amount_due_cents,
          currency: period.currency,
          description: `Plan ${period.plan_id} for store ${input.storeId}, period from ${input.periodStart.toISOString()}`,
        },
        markPaid,
      );
    },

    /** A period given up on before it was ever paid (a first charge declined): its invoice voided, the period void. */
    async voidPeriod(storeId: string, periodStart: Date): Promise<void> {
      const period = await loadPeriod(db, storeId, periodStart);
      if (!period || period.status === 'paid' || period.status === 'void') return;
      await db.transaction(async (trx) => {
        if (period.invoice_id) await voidInvoice(trx, period.invoice_id);
        await trx('subscription_periods').where({ store_id: storeId, period_start: periodStart }).whereNot({ status: 'paid' }).update({ status: 'void', updated_at: trx.fn.now() });
      });
    },

    /** Failed attempts recorded for a period (the next attempt is this + 1). */
    async failedAttempts(storeId: string, periodStart: Date): Promise<{ count: number; last: { declineCode: string | null } | null }> {
      const rows = (await db('subscription_charges')
        .where({ store_id: storeId, period_start: periodStart, kind: 'period' })
        .orderBy('attempt')
        .select('attempt', 'status', 'decline_code')) as Array<{ attempt: number; status: string; decline_code: string | null }>;
      const declined = rows.filter((r) => r.status === 'declined');
      return { count: declined.length, last: declined.length ? { declineCode: declined[declined.length - 1]!.decline_code } : null };
    },
  };
}

export type SubscriptionCharges = ReturnType<typeof createSubscriptionCharges>;
