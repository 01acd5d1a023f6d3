import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AppDeps } from '../../src/api/deps';
import { issueInvoice } from '../../src/billing/invoices';
import { FAILING_TRANSFERS_EMAIL_MARKER, PENDING_PAYOUT_EMAIL_MARKER } from '../../src/payments/simulatedGateway';
import { uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';

/**
 * Balance rows for the balance and payout tests, written with SQL the way the charges and refunds steps write
 * them (a seller_charges row on a payments row, its sale + and platform_fee − entries; a refund's credit note on
 * the charge's receipt and its − entry, available at once), so these tests need not wait on checkouts.
 */

export type AccountKind = 'ready' | 'pending' | 'failing' | 'none';

export interface TestSeller extends TestUser {
  accountId?: string;
}

const MARKERS: Record<AccountKind, string> = { ready: 'seller', pending: `seller-${PENDING_PAYOUT_EMAIL_MARKER}`, failing: `seller-${FAILING_TRANSFERS_EMAIL_MARKER}`, none: 'seller' };

/** A creator (or merchant) with a payout account opened through the API (the simulated gateway decides by the email). */
export async function makeSeller(ctx: TestContext, account: AccountKind = 'ready', role: 'creator' | 'merchant' = 'creator'): Promise<TestSeller> {
  const user = await makeUser(ctx.deps, { role, email: uniqueEmail(MARKERS[account]) });
  if (account === 'none') return user;
  const res = await ctx.http.post('/v1/me/payout-account').set('Authorization', user.auth).send({ country: 'DE' });
  if (res.status !== 201) throw new Error(`payout account: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...user, accountId: res.body.account_id as string };
}

export interface SaleSpec {
  capturedCents: number;
  feeCents?: number;
  currency?: string;
  /** When the sale's money becomes available: a Date, or 'infinity' (awaiting an outcome). Default: a minute ago. */
  availableAt?: Date | 'infinity';
}

type Q = Knex | Knex.Transaction;

/** A charge to a buyer for the seller: its payments row, seller_charges row, and sale/platform_fee entries. */
export async function recordSale(db: Q, sellerUserId: string, spec: SaleSpec): Promise<string> {
  const currency = spec.currency ?? 'EUR';
  const fee = spec.feeCents ?? 0;
  const availableAt = spec.availableAt ?? new Date(Date.now() - 60_000);
  const key = `test-sale:${randomUUID()}`;
  await db('payments').insert({
    business_key: key,
    provider: 'simulated',
    provider_payment_id: `pi_test_${randomUUID().slice(0, 8)}`,
    kind: 'charge',
    amount_cents: spec.capturedCents,
    captured_cents: spec.capturedCents,
    currency: currency.toLowerCase(),
    status: 'succeeded',
    payment_method: 'pm_card_visa',
  });
  const [charge] = (await db('seller_charges')
    .insert({
      source_kind: 'order',
      source_id: randomUUID(),
      seller_user_id: sellerUserId,
      currency,
      captured_cents: spec.capturedCents,
      fee_cents: fee,
      payment_key: key,
      available_at: availableAt,
    })
    .returning('id')) as Array<{ id: string }>;
  const entries = [{ kind: 'sale', amount_cents: spec.capturedCents, business_key: `${key}:sale` }, ...(fee > 0 ? [{ kind: 'platform_fee', amount_cents: -fee, business_key: `${key}:fee` }] : [])];
  await db('balance_entries').insert(entries.map((e) => ({ ...e, seller_user_id: sellerUserId, currency, charge_id: charge!.id, available_at: availableAt })));
  return charge!.id;
}

/** A refund of part of a charge, as the refunds step records it: a credit note on the charge's receipt, an entry available at once. */
export async function recordRefund(deps: Pick<AppDeps, 'db' | 'config'>, chargeId: string, amountCents: number): Promise<void> {
  const { db } = deps;
  const charge = (await db('seller_charges').where({ id: chargeId }).first()) as { seller_user_id: string; source_id: string; currency: string; captured_cents: number };
  const buyer = await makeUser(deps);
  const invoice = await issueInvoice(
    db,
    {
      issuer: { kind: 'seller', userId: charge.seller_user_id },
      customerUserId: buyer.id,
      currency: charge.currency,
      source: { kind: 'order', id: charge.source_id },
      lines: [{ description: 'Test sale', quantity: 1, unitAmountCents: Number(charge.captured_cents) }],
    },
    deps.config,
  );
  await db.transaction(async (trx) => {
    const [note] = (await trx('credit_notes')
      .insert({
        charge_id: chargeId,
        invoice_id: invoice.id,
        issuer_key: invoice.issuer_key,
        number: `TEST-CN-${randomUUID().slice(0, 8)}`,
        currency: charge.currency,
        amount_cents: amountCents,
        tax_cents: 0,
        reason: 'test refund',
        refund_key: `test-refund:${randomUUID()}`,
        status: 'succeeded',
      })
      .returning('id')) as Array<{ id: string }>;
    await trx('seller_charges').where({ id: chargeId }).increment('refunded_cents', amountCents);
    await trx('balance_entries').insert({
      seller_user_id: charge.seller_user_id,
      currency: charge.currency,
      kind: 'refund',
      amount_cents: -amountCents,
      charge_id: chargeId,
      credit_note_id: note!.id,
      available_at: trx.fn.now(),
      business_key: `refund:${note!.id}`,
    });
  });
}

export const payoutsOf = async (db: Q, sellerUserId: string) =>
  (await db('payouts').where({ seller_user_id: sellerUserId }).orderBy('created_at').select('id', 'currency', 'amount_cents', 'status', 'failure_code', 'business_key')) as Array<{
    id: string;
    currency: string;
    amount_cents: number;
    status: string;
    failure_code: string | null;
    business_key: string;
  }>;

export const transfersTo = async (db: Q, accountId: string) =>
  (await db('sim_transfers').where({ destination: accountId }).orderBy('created_at').select('amount_cents', 'currency', 'status', 'business_key')) as Array<{
    amount_cents: number;
    currency: string;
    status: string;
    business_key: string;
  }>;

export const noticesOf = async (db: Q, userId: string, type: string) => (await db('notifications').where({ user_id: userId, type }).select('title', 'data', 'dedupe_key')) as Array<{ title: string; data: Record<string, unknown>; dedupe_key: string }>;
