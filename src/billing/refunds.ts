import { HotStock } from '../commerce/hotStock';
import { restockedHotUnits, type RestockItem } from '../commerce/orderRestock';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { PaymentRequestError, PaymentStateError, type PaymentGateway } from '../payments/gateway';
import { createPaymentService, PaymentNotAllowedError } from '../payments/paymentService';
import { REFUND_FAILED, REFUND_PROVIDER_UNAVAILABLE, type ChargeSourceKind } from './contract';
import { settleFailed, settleSucceeded, takeRefund, type ChargeRow, type CreditNoteRow, type TakeRefund } from './creditNotes';

/**
 * Refunds of charges (issue 13): `refundCharge` takes the refund in Postgres first (./creditNotes.ts: credit note,
 * charge, balance, restock, in one transaction), then asks the provider outside any transaction, through the payment
 * service under the credit note's key (`<payment key>:refund:<refund_key>`), and settles the note with its answer:
 * - refunded: the note succeeds (ledger refund line, provider refund id);
 * - refused (a PaymentRequestError, our payment state machine, a failed refund): the note fails, its amount is given
 *   back (charge and balance, one transaction), RefundFailedError (502 `refund_failed`);
 * - no answer (network, outage): the note stays pending with its amount reserved, 503; the same key resumes it,
 *   and the provider replays the same refund, so nothing is refunded twice. `resumeCreditNote` does the same for
 *   reconciliation.
 * A retry of a settled key returns its note (succeeded), or the same 502 (failed).
 */

export interface RefundDeps {
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
  /** For hot variants' Redis counters after a restock; without it they heal by their TTL. */
  redis?: RedisClient;
}

export type RefundRequest = TakeRefund;

/** The provider refused the refund: the credit note is failed and its amount refundable again (the API: 502 `refund_failed`). */
export class RefundFailedError extends Error {
  readonly code = REFUND_FAILED;
  constructor(readonly note: CreditNoteRow) {
    super(`The payment provider refused the refund (${note.failure_code ?? 'failed'}); credit note ${note.number} is failed and its amount can be refunded again.`);
    this.name = 'RefundFailedError';
  }
}

/** A refusal by the provider or by our payment state machine: the refund will not happen under this key. */
const refusedByProvider = (err: unknown): string | undefined => {
  if (err instanceof PaymentRequestError) return err.code;
  if (err instanceof PaymentStateError) return `payment_${err.currentStatus}`;
  if (err instanceof PaymentNotAllowedError) return 'payment_not_allowed';
  return undefined;
};

/** Asks the provider for the note's refund (replayed under its key) and settles the note with the answer. */
async function moveMoney(deps: RefundDeps, note: CreditNoteRow, charge: ChargeRow): Promise<CreditNoteRow> {
  const service = createPaymentService(deps);
  let outcome: { refundId: string; status: string } | { refused: string };
  try {
    const payment = await service.refundPayment({ businessKey: charge.payment_key, amountCents: note.amount_cents, refundKey: note.refund_key });
    const key = `${charge.payment_key}:refund:${note.refund_key}`;
    const event = (await deps.db('payment_events')
      .where({ payment_id: payment.id, type: 'refund' })
      .whereRaw("data->>'idempotency_key' = ?", [key])
      .orderBy('id')
      .first('data')) as { data: { refund_id?: string; refund_status?: string } } | undefined;
    if (!event?.data.refund_id) throw new Error(`refund ${key} left no refund event`);
    outcome = { refundId: event.data.refund_id, status: event.data.refund_status ?? 'succeeded' };
  } catch (err) {
    const refused = refusedByProvider(err);
    if (!refused) {
      deps.logger.warn({ err, creditNoteId: note.id }, 'refund not answered by the provider; the credit note stays pending');
      throw refusals.unavailable(REFUND_PROVIDER_UNAVAILABLE, `The payment provider did not answer; credit note ${note.number} is pending. Retry with the same Idempotency-Key.`);
    }
    outcome = { refused };
  }
  if ('refused' in outcome || outcome.status === 'failed') {
    const failed = await settleFailed(deps.db, note, charge, 'refused' in outcome ? outcome.refused : 'refund_failed');
    if (failed.status === 'failed') throw new RefundFailedError(failed);
    return failed;
  }
  // A refund the provider has not finished (Stripe's `pending`) keeps the note pending; resumed later.
  if (outcome.status !== 'succeeded') return note;
  return settleSucceeded(deps.db, note, charge, { provider: deps.payments.provider, refundId: outcome.refundId });
}

/**
 * Refunds `amountCents` of the source's charge (see the module comment). Returns the credit note (null only for
 * `'remaining'` when nothing is left). Throws the refusals of takeRefund, RefundFailedError, or 503 (pending).
 */
export async function refundCharge(deps: RefundDeps, req: RefundRequest): Promise<CreditNoteRow | null> {
  const taken = await takeRefund(deps.db, req);
  if (taken.kind === 'nothing_left') return null;
  if (taken.kind === 'taken' && deps.redis && taken.restocked.length) await restockedHotUnits(new HotStock(deps.redis, deps.db, deps.logger), taken.restocked);
  const { note, charge } = taken;
  if (note.status === 'failed') throw new RefundFailedError(note);
  if (note.status === 'succeeded') return note;
  return moveMoney(deps, note, charge);
}

/** A pending credit note settled with the provider (reconciliation: a refund whose caller never came back). */
export async function resumeCreditNote(deps: RefundDeps, creditNoteId: string): Promise<CreditNoteRow | undefined> {
  const note = (await deps.db<CreditNoteRow>('credit_notes').where({ id: creditNoteId }).first()) as CreditNoteRow | undefined;
  if (!note || note.status !== 'pending') return note;
  const charge = (await deps.db<ChargeRow>('seller_charges').where({ id: note.charge_id }).first()) as ChargeRow;
  return moveMoney(deps, { ...note, amount_cents: Number(note.amount_cents) }, charge);
}

/**
 * Everything left of the source's charge, refunded (an order cancelled). The key is fixed per source and per
 * failed attempt, so concurrent or repeated cancellations resume one refund, and a refused one is tried anew.
 */
export async function refundRemaining(deps: RefundDeps, source: { kind: ChargeSourceKind; id: string }, reason: string, actorUserId: string | null): Promise<CreditNoteRow | null> {
  const [row] = (await deps.db('credit_notes as n')
    .join('seller_charges as c', 'c.id', 'n.charge_id')
    .where({ 'c.source_kind': source.kind, 'c.source_id': source.id, 'n.status': 'failed' })
    .count({ failed: '*' })) as Array<{ failed: string }>;
  return refundCharge(deps, { source, amountCents: 'remaining', reason, idempotencyKey: `${source.kind}:${source.id}:refund-remaining:${row?.failed ?? 0}`, actorUserId });
}

/** Whether the source has a charge (captured money) to refund. */
export async function hasCharge(db: Db, source: { kind: ChargeSourceKind; id: string }): Promise<boolean> {
  return Boolean(await db('seller_charges').where({ source_kind: source.kind, source_id: source.id }).first('id'));
}

/** The seller of a refundable source: the store's owner for an order, the provider's user for a booking. */
async function sellerOf(db: Db, source: { kind: 'order' | 'booking'; id: string }): Promise<string | undefined> {
  const row =
    source.kind === 'order'
      ? await db('orders as o').join('stores as s', 's.id', 'o.store_id').where('o.id', source.id).first('s.owner_id as seller')
      : await db('bookings as b').join('providers as p', 'p.id', 'b.provider_id').where('b.id', source.id).first('p.user_id as seller');
  return (row as { seller: string } | undefined)?.seller;
}

export interface RefundBody {
  amount_cents: number;
  reason: string;
  items?: RestockItem[];
}

/**
 * POST /v1/{orders|bookings}/{id}/refunds for `caller`: its seller or an operator (anyone else: the 404 an unknown
 * id gets). The refund's key is the caller's Idempotency-Key, scoped to the caller as the API scopes it.
 */
export async function refundFor(
  deps: RefundDeps,
  caller: Principal,
  source: { kind: 'order' | 'booking'; id: string },
  body: RefundBody,
  idempotencyKey: string,
): Promise<CreditNoteRow> {
  const seller = await sellerOf(deps.db, source);
  if (!seller || (seller !== caller.id && caller.role !== 'operator')) throw refusals.notFound(source.kind);
  const note = await refundCharge(deps, {
    source,
    amountCents: body.amount_cents,
    reason: body.reason,
    idempotencyKey: `user:${caller.id}:${idempotencyKey}`,
    actorUserId: caller.id,
    restock: body.items,
  });
  return note!;
}
