import { awaitsProvider, operationBlocked } from '../domain/payments';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import { PaymentRequestError, type AuthorizeInput, type PaymentGateway, type PaymentIntentResult, type SavePaymentMethodInput } from './gateway';
import { PaymentRecords, stateFromIntent, stateFromSetup, type PaymentRecord } from './paymentRecords';
import { normaliseCurrency } from './validation';

/**
 * The platform's payment operations, each keyed by a business key (`pledge:<id>:charge`,
 * `checkout:<key>:authorize`): the payments row is written first, the provider is called with that key, and
 * the answer is recorded with a payment_events row. A retried call finds the row and returns it, or asks the
 * provider again with the same key, so nothing is charged twice.
 *
 * Declines and authentication-required are returned as the record's status (failed, requires_action), which
 * callers read with paymentOutcome (./outcomes.ts); only refusals and infrastructure problems throw. Temporal activities (src/activities/commerce/checkoutPayments.ts) and API routes
 * that must answer at once (a pledge's authorization) both use this.
 */

export interface PaymentServiceDeps {
  db: Db;
  payments: PaymentGateway;
  logger: Logger;
}

/** Refused by the platform's own state machine, before any provider call (capture after void, ...). */
export class PaymentNotAllowedError extends Error {
  constructor(
    readonly record: PaymentRecord,
    message: string,
  ) {
    super(message);
    this.name = 'PaymentNotAllowedError';
  }
}

export interface SavePaymentMethodRequest {
  businessKey: string;
  paymentMethod: string;
  /** Our user id; the provider customer is found or created for it. */
  customerRef: string;
  email?: string;
}

export interface AuthorizeRequest {
  businessKey: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  customerId?: string;
  customerRef?: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface ChargeOffSessionRequest {
  businessKey: string;
  amountCents: number;
  currency: string;
  /** From the setup's PaymentRecord: providerCustomerId and providerPaymentMethod. */
  customerId: string;
  paymentMethod: string;
  customerRef?: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface RefundRequest {
  /** The business key of the payment being refunded. */
  businessKey: string;
  /** Defaults to everything captured and not yet refunded (decided by the provider). */
  amountCents?: number;
  /** Distinguishes several partial refunds of one payment (`<businessKey>:refund:<refundKey>`). */
  refundKey?: string;
}

/**
 * The provider call behind authorizePayment, exactly: a caller that writes the payments row itself (a pledge,
 * in its one statement) calls the gateway with this, so a later retry through authorizePayment replays it.
 */
export function authorizeCall(input: AuthorizeRequest): AuthorizeInput {
  return {
    idempotencyKey: input.businessKey,
    amountCents: input.amountCents,
    currency: input.currency,
    paymentMethod: input.paymentMethod,
    customerId: input.customerId,
    description: input.description,
    metadata: input.metadata,
  };
}

/** The provider call behind savePaymentMethod, exactly (see authorizeCall). */
export function saveCall(input: SavePaymentMethodRequest): SavePaymentMethodInput {
  return { idempotencyKey: input.businessKey, paymentMethod: input.paymentMethod, customerRef: input.customerRef, email: input.email };
}

export function createPaymentService(deps: PaymentServiceDeps) {
  const gateway = deps.payments;
  const records = new PaymentRecords(deps.db);

  async function mustFind(businessKey: string): Promise<PaymentRecord> {
    const p = await records.findByBusinessKey(businessKey);
    if (!p) throw new PaymentRequestError(`No payment with business key '${businessKey}'.`, 'resource_missing');
    return p;
  }

  /** Asks the provider for news when the row may be behind (the customer authenticated, a webhook was missed). */
  async function refreshed(p: PaymentRecord): Promise<PaymentRecord> {
    if (!awaitsProvider(p.status) || !p.providerPaymentId || p.kind === 'setup') return p;
    return (await records.apply(p.id, stateFromIntent(await gateway.retrieve(p.providerPaymentId)), { type: 'refresh' })).record;
  }

  /** Records a new intent; if the row was voided meanwhile (compensation raced us), voids the intent too. */
  async function recordIntent(p: PaymentRecord, result: PaymentIntentResult, type: string): Promise<PaymentRecord> {
    const applied = await records.apply(p.id, stateFromIntent(result), { type });
    const live = result.status === 'requires_capture' || result.status === 'requires_action';
    if (!applied.applied && applied.record.status === 'canceled' && live) {
      deps.logger.warn({ businessKey: p.businessKey, providerPaymentId: result.id }, 'payment voided while being created; voiding the new hold');
      await gateway.cancel({ idempotencyKey: `${p.businessKey}:cancel`, paymentIntentId: result.id });
    }
    return applied.record;
  }

  /**
   * Writes the payments row first, then asks the provider (same key on every retry); a row that already got
   * an answer is refreshed instead of asking again.
   */
  async function startIntent(
    kind: 'authorization' | 'charge',
    input: AuthorizeRequest | ChargeOffSessionRequest,
    call: () => Promise<PaymentIntentResult>,
  ): Promise<PaymentRecord> {
    const p = await records.ensure({
      businessKey: input.businessKey,
      provider: gateway.provider,
      kind,
      amountCents: input.amountCents,
      currency: normaliseCurrency(input.currency),
      paymentMethod: input.paymentMethod,
      customerRef: input.customerRef,
      providerCustomerId: input.customerId,
    });
    if (p.status !== 'pending') return refreshed(p);
    return recordIntent(p, await call(), kind === 'authorization' ? 'authorize' : 'charge');
  }

  return {
    /** Saves a card for off-session charges later (SetupIntent). Returns the record: providerCustomerId + providerPaymentMethod. */
    async savePaymentMethod(input: SavePaymentMethodRequest): Promise<PaymentRecord> {
      let p = await records.ensure({
        businessKey: input.businessKey,
        provider: gateway.provider,
        kind: 'setup',
        amountCents: 0,
        currency: null,
        paymentMethod: input.paymentMethod,
        customerRef: input.customerRef,
      });
      if (p.status === 'pending') {
        const result = await gateway.savePaymentMethod(saveCall(input));
        p = (await records.apply(p.id, stateFromSetup(result), { type: 'setup' })).record;
      }
      return p;
    },

    /** Places a hold (manual capture) for the amount. */
    authorizePayment: (input: AuthorizeRequest): Promise<PaymentRecord> =>
      startIntent('authorization', input, () => gateway.authorize(authorizeCall(input))),

    /** Charges a saved card with the customer absent (automatic capture). */
    chargeOffSession: (input: ChargeOffSessionRequest): Promise<PaymentRecord> =>
      startIntent('charge', input, () =>
        gateway.chargeOffSession({
          idempotencyKey: input.businessKey,
          amountCents: input.amountCents,
          currency: input.currency,
          customerId: input.customerId,
          paymentMethod: input.paymentMethod,
          description: input.description,
          metadata: input.metadata,
        }),
      ),

    /** Captures an authorization (all of it by default). Capturing again returns the captured record. */
    async capturePayment(input: { businessKey: string; amountCents?: number }): Promise<PaymentRecord> {
      const p = await refreshed(await mustFind(input.businessKey));
      if (p.kind !== 'authorization') throw new PaymentRequestError(`Payment '${p.businessKey}' is a ${p.kind}, not an authorization.`, 'not_capturable');
      if (p.status === 'succeeded' || p.status === 'partially_refunded' || p.status === 'refunded') return p;
      const blocked = operationBlocked('capture', p.status);
      if (blocked) throw new PaymentNotAllowedError(p, blocked);
      const result = await gateway.capture({
        idempotencyKey: `${p.businessKey}:capture`,
        paymentIntentId: p.providerPaymentId!,
        amountCents: input.amountCents,
      });
      return (await records.apply(p.id, stateFromIntent(result), { type: 'capture' })).record;
    },

    /** Voids a hold (or an unpaid intent). Idempotent: cancelling a cancelled payment returns it. */
    async cancelPayment(input: { businessKey: string }): Promise<PaymentRecord> {
      let p = await refreshed(await mustFind(input.businessKey));
      if (p.status === 'canceled') return p;
      if (p.kind === 'setup') throw new PaymentRequestError('A saved card is not a payment to cancel.', 'not_cancelable');
      const blocked = operationBlocked('cancel', p.status);
      if (blocked) throw new PaymentNotAllowedError(p, blocked);
      if (!p.providerPaymentId) {
        // A charge in flight cannot be voided, only refunded once it lands.
        if (p.kind !== 'authorization') throw new PaymentNotAllowedError(p, 'This charge has not reached the provider yet; refund it once it has succeeded.');
        // The provider never answered: void locally. An authorize still in flight sees the void and voids its hold.
        const local = await records.cancelUnstarted(p.id, 'canceled before the provider answered');
        if (local.applied) return local.record;
        p = local.record;
        if (!p.providerPaymentId) throw new PaymentNotAllowedError(p, `Cannot cancel a payment that is ${p.status}.`);
      }
      const result = await gateway.cancel({ idempotencyKey: `${p.businessKey}:cancel`, paymentIntentId: p.providerPaymentId });
      return (await records.apply(p.id, stateFromIntent(result), { type: 'cancel' })).record;
    },

    /** Refunds captured money; never more than captured minus already refunded. */
    async refundPayment(input: RefundRequest): Promise<PaymentRecord> {
      const p = await mustFind(input.businessKey);
      const key = input.refundKey ? `${p.businessKey}:refund:${input.refundKey}` : `${p.businessKey}:refund`;
      if (await records.hasEvent(p.id, 'refund', key)) return p;
      if (p.kind === 'setup') throw new PaymentRequestError('A saved card has nothing to refund.', 'not_refundable');
      if (!p.providerPaymentId) throw new PaymentNotAllowedError(p, operationBlocked('refund', p.status) ?? 'Nothing was captured yet.');
      // No pre-check against our row: after a crash a webhook may have recorded this very refund already, and
      // only the provider (replaying the key) can tell. It enforces the same rules (never beyond captured).
      // The amount is passed as given, so a replay sends exactly the first request's parameters.
      const refund = await gateway.refund({ idempotencyKey: key, paymentIntentId: p.providerPaymentId, amountCents: input.amountCents });
      // The provider's totals, not our arithmetic: a replayed refund must not count twice.
      const now = await gateway.retrieve(p.providerPaymentId);
      // Logged even when a webhook recorded the money first: the event is also this refund key's receipt.
      const applied = await records.apply(
        p.id,
        stateFromIntent(now),
        { type: 'refund', data: { idempotency_key: key, refund_id: refund.id, refund_amount_cents: refund.amountCents, refund_status: refund.status } },
        { alwaysLog: true },
      );
      return applied.record;
    },

    /** Re-reads a payment from the provider (after the customer authenticated, or to reconcile). Never throws a decline. */
    async refreshPayment(input: { businessKey: string }): Promise<PaymentRecord> {
      return refreshed(await mustFind(input.businessKey));
    },
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;
