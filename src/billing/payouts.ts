import type { Knex } from 'knex';
import { formatMoney } from '../domain/campaigns';
import type { ServiceDeps } from '../infra/serviceDeps';
import { notify } from '../notifications/notify';
import { PaymentRequestError, type TransferResult } from '../payments/gateway';
import { availableByCurrency } from './balances';
import {
  PAYOUT_ACCOUNT_MISSING_NOTICE,
  PAYOUT_FAILED_NOTICE,
  PAYOUT_PAID_NOTICE,
  payoutBusinessKey,
  payoutReversalKey,
  type PayoutOutcome,
  type PayoutPlan,
  type PayoutStatus,
} from './contract';
import { payoutAccountOf } from './payoutAccounts';

/**
 * Payouts (issue 13): a seller's available balance moved to their payout account, per currency.
 *
 * 1. preparePayouts — one transaction under the seller's lock (an advisory lock on `payouts:<seller>`, so two
 *    runs never compute the same balance twice): per currency with available > 0, a payout of exactly that
 *    amount (business key payout:<seller>:<currency>:<run>) and its `payout` entry (−amount, available now) are
 *    inserted together. So the balance already says the money is on its way, and a second run (or a retry of
 *    this one) finds nothing left. A negative balance (a refund after a payout) is simply not paid: later sales
 *    net it. No ready payout account: nothing moves, the seller is told once per run.
 * 2. sendPayout — the transfer through the gateway with the payout's business key as idempotency key (a retried or
 *    crashed step finds the same transfer), then its outcome recorded once (a conditional update of a scheduled
 *    payout): paid → arrival_at and a `payout` ledger line; refused → failed, a `payout_reversal` entry (+amount,
 *    available again, so the next run pays it), and the seller told. An outage is an exception: the activity's
 *    retries (and the next run, which sends payouts still scheduled) try the same key again.
 */

type Q = Knex | Knex.Transaction;
export type PayoutDeps = Pick<ServiceDeps, 'db' | 'payments' | 'logger'>;

export interface PayoutRow {
  id: string;
  seller_user_id: string;
  currency: string;
  amount_cents: number;
  status: PayoutStatus;
  business_key: string;
  destination_account_id: string | null;
  transfer_id: string | null;
  attempts: number;
  failure_code: string | null;
  failure_message: string | null;
  arrival_at: Date | null;
  run_key: string | null;
  created_at: Date;
}

const lockSeller = (trx: Knex.Transaction, sellerUserId: string) =>
  trx.raw(`SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, [`payouts:${sellerUserId.toLowerCase()}`]);

const scheduledPayouts = async (db: Q, sellerUserId: string): Promise<string[]> =>
  (await db('payouts').where({ seller_user_id: sellerUserId, status: 'scheduled' }).orderBy([{ column: 'created_at' }, { column: 'id' }]).pluck('id')) as string[];

/** Step 1 of a seller's payout for one run (see above). Idempotent per run key. */
export async function preparePayouts(db: Knex, sellerUserId: string, runKey: string): Promise<PayoutPlan> {
  return db.transaction(async (trx) => {
    await lockSeller(trx, sellerUserId);
    const due = [...(await availableByCurrency(trx, sellerUserId))].filter(([, cents]) => cents > 0);
    const account = await payoutAccountOf(trx, sellerUserId);
    if (account?.status !== 'ready') {
      if (due.length > 0) {
        await notify(trx, {
          userId: sellerUserId,
          type: PAYOUT_ACCOUNT_MISSING_NOTICE,
          title: 'Set up your payout account to be paid',
          body: `${due.map(([c, cents]) => formatMoney(cents, c)).join(', ')} is ready to be paid out to you, but your payout account is ${account ? 'not finished yet' : 'missing'}.`,
          data: { balances: due.map(([currency, amount_cents]) => ({ currency, amount_cents })), run_key: runKey },
          dedupeKey: `${PAYOUT_ACCOUNT_MISSING_NOTICE}:${sellerUserId}:${runKey}`,
        });
      }
      return { outcome: 'no_account', payoutIds: [] };
    }
    for (const [currency, amount] of due) {
      const key = payoutBusinessKey(sellerUserId, currency, runKey);
      const inserted = (await trx.raw(
        `INSERT INTO payouts (seller_user_id, currency, amount_cents, business_key, destination_account_id, run_key)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (business_key) DO NOTHING RETURNING id`,
        [sellerUserId, currency, amount, key, account.accountId, runKey],
      )) as { rows: Array<{ id: string }> };
      const payoutId = inserted.rows[0]?.id;
      // The run paid this currency already (a retry): what became available since waits for the next run.
      if (!payoutId) continue;
      await trx('balance_entries').insert({
        seller_user_id: sellerUserId,
        currency,
        kind: 'payout',
        amount_cents: -amount,
        payout_id: payoutId,
        available_at: trx.fn.now(),
        business_key: key,
      });
    }
    const payoutIds = await scheduledPayouts(trx, sellerUserId);
    return { outcome: payoutIds.length > 0 ? 'payouts' : 'nothing_due', payoutIds };
  });
}

const outcomeOf = (row: PayoutRow): PayoutOutcome => ({
  payoutId: row.id,
  status: row.status === 'paid' ? 'paid' : 'failed',
  amountCents: Number(row.amount_cents),
  currency: row.currency,
  ...(row.failure_code ? { failureCode: row.failure_code } : {}),
});

/** Step 2: one scheduled payout's transfer and its outcome (see above). A payout already decided answers its outcome. */
export async function sendPayout(deps: PayoutDeps, payoutId: string): Promise<PayoutOutcome> {
  const row = (await deps.db<PayoutRow>('payouts').where({ id: payoutId }).first()) as PayoutRow | undefined;
  if (!row) throw new Error(`payout ${payoutId} does not exist`);
  if (row.status !== 'scheduled') return outcomeOf(row);
  await deps.db('payouts').where({ id: payoutId, status: 'scheduled' }).increment('attempts', 1);
  let result: TransferResult;
  try {
    result = await deps.payments.transfer({
      idempotencyKey: row.business_key,
      destinationAccountId: row.destination_account_id!,
      amountCents: Number(row.amount_cents),
      currency: row.currency,
      metadata: { payout_id: row.id, seller_user_id: row.seller_user_id },
    });
  } catch (err) {
    // A request the provider refuses as such (no such account) moved nothing: a failure to record, not to retry.
    if (!(err instanceof PaymentRequestError)) throw err;
    result = { id: null, status: 'failed', failureCode: err.code, failureMessage: err.message };
  }
  return recordPayoutOutcome(deps, payoutId, result);
}

/** Records a transfer's outcome once: only a scheduled payout changes; a replay answers what was recorded. */
export async function recordPayoutOutcome(deps: Pick<ServiceDeps, 'db' | 'payments'>, payoutId: string, result: TransferResult): Promise<PayoutOutcome> {
  return deps.db.transaction(async (trx) => {
    const row = (await trx<PayoutRow>('payouts').where({ id: payoutId }).forUpdate().first()) as PayoutRow;
    if (row.status !== 'scheduled') return outcomeOf(row);
    const amount = Number(row.amount_cents);
    const money = formatMoney(amount, row.currency);
    const data = { payout_id: row.id, amount_cents: amount, currency: row.currency };
    if (result.status === 'paid') {
      const [paid] = (await trx('payouts')
        .where({ id: payoutId })
        .update({ status: 'paid', transfer_id: result.id, arrival_at: trx.fn.now(), updated_at: trx.fn.now() })
        .returning('*')) as PayoutRow[];
      await trx.raw(
        `INSERT INTO ledger_transactions (payout_id, kind, amount_cents, currency, provider, provider_id, business_key)
         VALUES (?, 'payout', ?, ?, ?, ?, ?) ON CONFLICT (business_key) DO NOTHING`,
        [payoutId, amount, row.currency, deps.payments.provider, result.id ?? '', row.business_key],
      );
      await notify(trx, { userId: row.seller_user_id, type: PAYOUT_PAID_NOTICE, title: `${money} is on its way to you`, data, dedupeKey: `${PAYOUT_PAID_NOTICE}:${payoutId}` });
      return outcomeOf(paid!);
    }
    const [failed] = (await trx('payouts')
      .where({ id: payoutId })
      .update({ status: 'failed', transfer_id: result.id, failure_code: result.failureCode ?? 'transfer_failed', failure_message: result.failureMessage ?? null, updated_at: trx.fn.now() })
      .returning('*')) as PayoutRow[];
    await trx.raw(
      `INSERT INTO balance_entries (seller_user_id, currency, kind, amount_cents, payout_id, available_at, business_key)
       VALUES (?, ?, 'payout_reversal', ?, ?, now(), ?) ON CONFLICT (business_key) DO NOTHING`,
      [row.seller_user_id, row.currency, amount, payoutId, payoutReversalKey(row.business_key)],
    );
    await notify(trx, {
      userId: row.seller_user_id,
      type: PAYOUT_FAILED_NOTICE,
      title: `Your payout of ${money} failed`,
      body: `The transfer to your payout account was refused (${failed!.failure_code}). The money is back in your available balance and the next payout run tries again; check your payout account.`,
      data: { ...data, failure_code: failed!.failure_code },
      dedupeKey: `${PAYOUT_FAILED_NOTICE}:${payoutId}`,
    });
    return outcomeOf(failed!);
  });
}

export interface PayoutJson {
  id: string;
  amount_cents: number;
  currency: string;
  status: PayoutStatus;
  arrival_at: string | null;
  failure_code: string | null;
  created_at: string;
}

export const payoutJson = (r: PayoutRow): PayoutJson => ({
  id: r.id,
  amount_cents: Number(r.amount_cents),
  currency: r.currency,
  status: r.status,
  arrival_at: r.arrival_at ? r.arrival_at.toISOString() : null,
  failure_code: r.failure_code,
  created_at: r.created_at.toISOString(),
});
