import type { Knex } from 'knex';
import {
  canTransition,
  paymentStatusFrom,
  type PaymentKind,
  type PaymentStatus,
  type ProviderPaymentStatus,
} from '../domain/payments';
import { PaymentRequestError, type NextAction, type PaymentIntentResult, type SetupResult } from './gateway';
import type { KnownIntentLookup } from './stripeGateway';

/**
 * The platform's own record of every payment, keyed by its business idempotency key, and its append-only
 * event log. Every status change goes through the domain state machine and writes one payment_events row in
 * the same transaction.
 */

export interface PaymentRecord {
  id: string;
  businessKey: string;
  provider: 'stripe' | 'simulated';
  /** pi_... or seti_...; null until the provider has answered. */
  providerPaymentId: string | null;
  kind: PaymentKind;
  status: PaymentStatus;
  amountCents: number;
  /** Null for a saved card (kind setup). */
  currency: string | null;
  capturedCents: number;
  refundedCents: number;
  customerRef: string | null;
  /** cus_...: with providerPaymentMethod, what chargeOffSession needs after a setup. */
  providerCustomerId: string | null;
  /** The token the caller gave. */
  paymentMethod: string;
  /** The provider's reusable payment method id once known (Stripe turns test tokens into pm_... ids). */
  providerPaymentMethod: string | null;
  failureCode: string | null;
  declineCode: string | null;
  failureMessage: string | null;
  nextAction: NextAction | null;
  createdAt: string;
  updatedAt: string;
}

export interface PaymentEvent {
  id: number;
  paymentId: string;
  type: string;
  fromStatus: PaymentStatus | null;
  toStatus: PaymentStatus;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface NewPayment {
  businessKey: string;
  provider: 'stripe' | 'simulated';
  kind: PaymentKind;
  amountCents: number;
  currency: string | null;
  paymentMethod: string;
  customerRef?: string;
  providerCustomerId?: string;
}

/** What the provider says about a payment, in the port's terms. */
export interface ProviderState {
  providerStatus: ProviderPaymentStatus;
  capturedCents: number;
  refundedCents: number;
  providerPaymentId: string;
  providerCustomerId?: string;
  providerPaymentMethod?: string;
  failureCode?: string;
  declineCode?: string;
  failureMessage?: string;
  nextAction?: NextAction;
}

export function stateFromIntent(r: PaymentIntentResult): ProviderState {
  return {
    providerStatus: r.status,
    capturedCents: r.capturedCents,
    refundedCents: r.refundedCents,
    providerPaymentId: r.id,
    providerCustomerId: r.customerId,
    providerPaymentMethod: r.paymentMethod || undefined,
    failureCode: r.failureCode,
    declineCode: r.declineCode,
    failureMessage: r.failureMessage,
    nextAction: r.nextAction,
  };
}

export function stateFromSetup(r: SetupResult): ProviderState {
  return {
    providerStatus: r.status,
    capturedCents: 0,
    refundedCents: 0,
    providerPaymentId: r.id,
    providerCustomerId: r.customerId || undefined,
    providerPaymentMethod: r.paymentMethod || undefined,
    failureCode: r.failureCode,
    declineCode: r.declineCode,
    failureMessage: r.failureMessage,
    nextAction: r.nextAction,
  };
}

interface PaymentRow {
  id: string;
  business_key: string;
  provider: 'stripe' | 'simulated';
  provider_payment_id: string | null;
  kind: PaymentKind;
  status: PaymentStatus;
  amount_cents: number;
  currency: string | null;
  captured_cents: number;
  refunded_cents: number;
  customer_ref: string | null;
  provider_customer_id: string | null;
  payment_method: string;
  provider_payment_method: string | null;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
  next_action: NextAction | null;
  created_at: Date;
  updated_at: Date;
}

function toRecord(r: PaymentRow): PaymentRecord {
  return {
    id: r.id,
    businessKey: r.business_key,
    provider: r.provider,
    providerPaymentId: r.provider_payment_id,
    kind: r.kind,
    status: r.status,
    amountCents: r.amount_cents,
    currency: r.currency,
    capturedCents: r.captured_cents,
    refundedCents: r.refunded_cents,
    customerRef: r.customer_ref,
    providerCustomerId: r.provider_customer_id,
    paymentMethod: r.payment_method,
    providerPaymentMethod: r.provider_payment_method,
    failureCode: r.failure_code,
    declineCode: r.decline_code,
    failureMessage: r.failure_message,
    nextAction: r.next_action,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export interface ApplyOutcome {
  record: PaymentRecord;
  /** False when nothing changed, or when the report was stale (the state machine forbids going back). */
  applied: boolean;
}

export class PaymentRecords {
  /** `db` may be a transaction: the webhook handler records its dedupe row and the change atomically. */
  constructor(private readonly db: Knex) {}

  async findByBusinessKey(businessKey: string): Promise<PaymentRecord | undefined> {
    const row = (await this.db('payments').where({ business_key: businessKey }).first()) as PaymentRow | undefined;
    return row && toRecord(row);
  }

  async findByProviderId(provider: PaymentRecord['provider'], providerPaymentId: string): Promise<PaymentRecord | undefined> {
    const row = (await this.db('payments').where({ provider, provider_payment_id: providerPaymentId }).first()) as PaymentRow | undefined;
    return row && toRecord(row);
  }

  /**
   * The row for this business key, created `pending` on first use. The same key with different terms is a
   * caller bug (two payments sharing a key), refused rather than silently merged.
   */
  async ensure(p: NewPayment): Promise<PaymentRecord> {
    return this.db.transaction(async (trx) => {
      const inserted = await trx.raw<{ rows: PaymentRow[] }>(
        `INSERT INTO payments (business_key, provider, kind, amount_cents, currency, status, payment_method, customer_ref, provider_customer_id)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)
         ON CONFLICT (business_key) DO NOTHING RETURNING *`,
        [p.businessKey, p.provider, p.kind, p.amountCents, p.currency, p.paymentMethod, p.customerRef ?? null, p.providerCustomerId ?? null],
      );
      const created = inserted.rows[0];
      if (created) {
        await this.append(trx, created.id, 'created', null, 'pending', { kind: p.kind });
        return toRecord(created);
      }
      const existing = (await trx('payments').where({ business_key: p.businessKey }).first()) as PaymentRow;
      const differs =
        existing.provider !== p.provider ||
        existing.kind !== p.kind ||
        existing.amount_cents !== p.amountCents ||
        existing.currency !== p.currency ||
        existing.payment_method !== p.paymentMethod;
      if (differs) {
        throw new PaymentRequestError(
          `Business key '${p.businessKey}' already belongs to a ${existing.kind} of ${existing.amount_cents} ${existing.currency ?? ''} with ${existing.payment_method} (${existing.provider}); use a new key for a different payment.`,
          'idempotency_key_reused',
        );
      }
      return toRecord(existing);
    });
  }

  /**
   * Records what the provider reported. Stale reports (a late webhook after a newer state) change nothing:
   * the state machine only moves forward.
   */
  async apply(
    paymentId: string,
    state: ProviderState,
    event: { type: string; data?: Record<string, unknown> },
    opts: { alwaysLog?: boolean } = {},
  ): Promise<ApplyOutcome> {
    return this.db.transaction(async (trx) => {
      const row = (await trx('payments').where({ id: paymentId }).forUpdate().first()) as PaymentRow | undefined;
      if (!row) throw new PaymentRequestError(`No payment ${paymentId}.`, 'resource_missing');
      const to = paymentStatusFrom(state.providerStatus, state);
      const unchanged =
        to === row.status &&
        state.capturedCents === row.captured_cents &&
        state.refundedCents === row.refunded_cents &&
        state.providerPaymentId === row.provider_payment_id;
      if (unchanged || (to !== row.status && !canTransition(row.status, to))) {
        if (opts.alwaysLog) {
          await this.append(trx, paymentId, event.type, row.status, row.status, { ...event.data, provider_status: state.providerStatus, applied: false });
        }
        return { record: toRecord(row), applied: false };
      }

      const failing = to === 'failed' || to === 'requires_action';
      const [updated] = (await trx('payments')
        .where({ id: paymentId })
        .update({
          status: to,
          // A report never lowers money already recorded (partial snapshots, out-of-order webhooks).
          captured_cents: Math.max(row.captured_cents, state.capturedCents),
          refunded_cents: Math.max(row.refunded_cents, state.refundedCents),
          provider_payment_id: state.providerPaymentId,
          provider_customer_id: state.providerCustomerId ?? row.provider_customer_id,
          provider_payment_method: state.providerPaymentMethod ?? row.provider_payment_method,
          failure_code: failing ? (state.failureCode ?? null) : null,
          decline_code: failing ? (state.declineCode ?? null) : null,
          failure_message: failing ? (state.failureMessage ?? null) : null,
          next_action: to === 'requires_action' && state.nextAction ? JSON.stringify(state.nextAction) : null,
          updated_at: trx.fn.now(),
        })
        .returning('*')) as PaymentRow[];
      await this.append(trx, paymentId, event.type, row.status, to, {
        provider_payment_id: state.providerPaymentId,
        captured_cents: updated!.captured_cents,
        refunded_cents: updated!.refunded_cents,
        ...(failing && state.failureCode ? { failure_code: state.failureCode, decline_code: state.declineCode } : {}),
        ...event.data,
      });
      return { record: toRecord(updated!), applied: true };
    });
  }

  /** Marks a payment voided without a provider call: only for rows the provider never saw. */
  async cancelUnstarted(paymentId: string, reason: string): Promise<ApplyOutcome> {
    return this.db.transaction(async (trx) => {
      const row = (await trx('payments').where({ id: paymentId }).forUpdate().first()) as PaymentRow;
      if (row.status !== 'pending' || row.provider_payment_id) return { record: toRecord(row), applied: false };
      const [updated] = (await trx('payments').where({ id: paymentId }).update({ status: 'canceled', updated_at: trx.fn.now() }).returning('*')) as PaymentRow[];
      await this.append(trx, paymentId, 'cancel', 'pending', 'canceled', { reason, provider_call: false });
      return { record: toRecord(updated!), applied: true };
    });
  }

  /** Whether an event of this type already carries this idempotency key (a refund already recorded). */
  async hasEvent(paymentId: string, type: string, idempotencyKey: string): Promise<boolean> {
    const row = await this.db('payment_events')
      .where({ payment_id: paymentId, type })
      .whereRaw("data->>'idempotency_key' = ?", [idempotencyKey])
      .first('id');
    return Boolean(row);
  }

  async events(paymentId: string): Promise<PaymentEvent[]> {
    const rows = (await this.db('payment_events').where({ payment_id: paymentId }).orderBy('id')) as Array<{
      id: number;
      payment_id: string;
      type: string;
      from_status: PaymentStatus | null;
      to_status: PaymentStatus;
      data: Record<string, unknown>;
      created_at: Date;
    }>;
    return rows.map((r) => ({
      id: r.id,
      paymentId: r.payment_id,
      type: r.type,
      fromStatus: r.from_status,
      toStatus: r.to_status,
      data: r.data,
      createdAt: r.created_at.toISOString(),
    }));
  }

  /** The Stripe adapter's view of these records: which PaymentIntent a business key already has. */
  intentLookup(): KnownIntentLookup {
    return {
      find: async (businessKey) => {
        const row = (await this.db('payments').where({ business_key: businessKey, provider: 'stripe' }).first('provider_payment_id')) as
          | { provider_payment_id: string | null }
          | undefined;
        return row?.provider_payment_id ?? undefined;
      },
      remember: async (businessKey, paymentIntentId) => {
        await this.db('payments')
          .where({ business_key: businessKey, provider: 'stripe' })
          .whereNull('provider_payment_id')
          .update({ provider_payment_id: paymentIntentId, updated_at: this.db.fn.now() });
      },
    };
  }

  private async append(
    trx: Knex.Transaction,
    paymentId: string,
    type: string,
    from: PaymentStatus | null,
    to: PaymentStatus,
    data: Record<string, unknown>,
  ): Promise<void> {
    await trx('payment_events').insert({ payment_id: paymentId, type, from_status: from, to_status: to, data: JSON.stringify(data) });
  }
}
