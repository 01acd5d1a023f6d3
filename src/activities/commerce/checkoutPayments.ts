import { ApplicationFailure } from '@temporalio/common';
import type { PaymentFailureDetails, PaymentFailureType } from '../../domain/payments';
import { PaymentRequestError, PaymentStateError } from '../../payments/gateway';
import { declineReason, paymentOutcome } from '../../payments/outcomes';
import type { PaymentRecord } from '../../payments/paymentRecords';
import {
  createPaymentService,
  PaymentNotAllowedError,
  type AuthorizeRequest,
  type ChargeOffSessionRequest,
  type RefundRequest,
  type SavePaymentMethodRequest,
} from '../../payments/paymentService';
import type { ActivityDeps } from '../../workers/deps';

/**
 * Payment provider calls as Temporal activities (served on the rate-limited payments task queue): the
 * payment service's operations, with business outcomes turned into non-retryable typed failures a workflow
 * can switch on (PAYMENT_FAILURE_TYPES in src/domain/payments.ts, importable from workflow code).
 */

function failure(type: PaymentFailureType, message: string, details: PaymentFailureDetails): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
}

/** Port and service refusals become typed failures; anything else (network, outage) stays retryable. */
function translate(err: unknown, businessKey: string): unknown {
  if (err instanceof PaymentNotAllowedError) {
    const p = err.record;
    return failure('PaymentStateError', err.message, { businessKey: p.businessKey, paymentId: p.id, providerPaymentId: p.providerPaymentId, status: p.status });
  }
  if (err instanceof PaymentStateError) {
    return failure('PaymentStateError', err.message, { businessKey, providerPaymentId: err.paymentIntentId, status: err.currentStatus });
  }
  if (err instanceof PaymentRequestError) return failure('PaymentRequestError', err.message, { businessKey, code: err.code });
  return err;
}

/** The record, or the typed failure its outcome stands for (a decline, or the customer's action needed). */
function outcome(p: PaymentRecord): PaymentRecord {
  const details: PaymentFailureDetails = {
    businessKey: p.businessKey,
    paymentId: p.id,
    providerPaymentId: p.providerPaymentId,
    status: p.status,
    failureCode: p.failureCode,
    declineCode: p.declineCode,
  };
  const kind = paymentOutcome(p);
  if (kind === 'declined') {
    throw failure('PaymentDeclined', p.failureMessage ?? `Payment declined (${declineReason(p) ?? 'unknown'}).`, details);
  }
  if (kind === 'requires_action') {
    throw failure('PaymentActionRequired', 'The customer must authenticate this payment.', {
      ...details,
      ...(p.nextAction ? { clientSecret: p.nextAction.client_secret } : {}),
    });
  }
  return p;
}

export function createCheckoutPaymentActivities(deps: ActivityDeps) {
  const service = createPaymentService(deps);

  async function run(businessKey: string, fn: () => Promise<PaymentRecord>, checkOutcome = true): Promise<PaymentRecord> {
    try {
      const p = await fn();
      return checkOutcome ? outcome(p) : p;
    } catch (err) {
      throw translate(err, businessKey);
    }
  }

  return {
    /** Saves a card for off-session charges later (SetupIntent). Returns the record: providerCustomerId + providerPaymentMethod. */
    savePaymentMethod: (input: SavePaymentMethodRequest) => run(input.businessKey, () => service.savePaymentMethod(input)),
    /** Places a hold (manual capture) for the amount. */
    authorizePayment: (input: AuthorizeRequest) => run(input.businessKey, () => service.authorizePayment(input)),
    /** Charges a saved card with the customer absent (automatic capture). */
    chargeOffSession: (input: ChargeOffSessionRequest) => run(input.businessKey, () => service.chargeOffSession(input)),
    /** Captures an authorization (all of it by default). Capturing again returns the captured record. */
    capturePayment: (input: { businessKey: string; amountCents?: number }) =>
      run(input.businessKey, () => service.capturePayment(input), false),
    /** Voids a hold (or an unpaid intent). Idempotent: cancelling a cancelled payment returns it. */
    cancelPayment: (input: { businessKey: string }) => run(input.businessKey, () => service.cancelPayment(input), false),
    /** Refunds captured money; never more than captured minus already refunded. */
    refundPayment: (input: RefundRequest) => run(input.businessKey, () => service.refundPayment(input), false),
    /** Re-reads a payment from the provider (after the customer authenticated, or to reconcile). Never throws a decline. */
    refreshPayment: (input: { businessKey: string }) => run(input.businessKey, () => service.refreshPayment(input), false),
  };
}
