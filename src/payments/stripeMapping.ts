import Stripe from 'stripe';
import {
  PaymentRequestError,
  PaymentStateError,
  type ConnectedAccountResult,
  type NextAction,
  type PaymentIntentResult,
  type PaymentIntentStatus,
  type RefundResult,
  type SetupResult,
  type TransferResult,
} from './gateway';

/** Translation between Stripe's objects and errors and the port's vocabulary; shared by the adapter and webhooks. */

const idOf = (v: string | { id: string } | null | undefined): string | undefined => (typeof v === 'string' ? v : v?.id);

function intentStatus(pi: Stripe.PaymentIntent): PaymentIntentStatus {
  switch (pi.status) {
    case 'requires_action':
    case 'processing':
    case 'requires_capture':
    case 'succeeded':
    case 'canceled':
      return pi.status as PaymentIntentStatus;
    default:
      // requires_payment_method / requires_confirmation after a confirm: the attempt failed. An off-session
      // `authentication_required` decline is the customer's to fix on-session, so it is reported as action.
      return pi.last_payment_error?.code === 'authentication_required' ? 'requires_action' : 'failed';
  }
}

function nextAction(clientSecret: string | null, next: { type: string; redirect_to_url?: { url: string | null } | null } | null): NextAction | undefined {
  if (!clientSecret) return undefined;
  const redirect = next?.type === 'redirect_to_url' ? next.redirect_to_url?.url : undefined;
  return redirect ? { type: 'redirect_to_url', client_secret: clientSecret, redirect_url: redirect } : { type: 'use_stripe_sdk', client_secret: clientSecret };
}

export function toIntentResult(pi: Stripe.PaymentIntent): PaymentIntentResult {
  const status = intentStatus(pi);
  const err = pi.last_payment_error;
  const charge = typeof pi.latest_charge === 'object' && pi.latest_charge ? pi.latest_charge : undefined;
  const customerId = idOf(pi.customer);
  const failed = status === 'failed' || (status === 'requires_action' && err);
  return {
    id: pi.id,
    status,
    amountCents: pi.amount,
    currency: pi.currency,
    capturedCents: status === 'succeeded' ? pi.amount_received : 0,
    refundedCents: charge?.amount_refunded ?? 0,
    paymentMethod: idOf(pi.payment_method) ?? err?.payment_method?.id ?? '',
    ...(customerId ? { customerId } : {}),
    ...(failed ? { failureCode: err?.code ?? 'payment_failed' } : {}),
    ...(failed && err?.decline_code ? { declineCode: err.decline_code } : {}),
    ...(failed && err?.message ? { failureMessage: err.message } : {}),
    ...(status === 'requires_action' ? { nextAction: nextAction(pi.client_secret, pi.next_action) } : {}),
  };
}

export function toSetupResult(si: Stripe.SetupIntent): SetupResult {
  const status: SetupResult['status'] = si.status === 'succeeded' ? 'succeeded' : si.status === 'requires_action' ? 'requires_action' : 'failed';
  const err = si.last_setup_error;
  return {
    id: si.id,
    status,
    customerId: idOf(si.customer) ?? '',
    paymentMethod: idOf(si.payment_method) ?? err?.payment_method?.id ?? '',
    ...(status === 'failed' ? { failureCode: err?.code ?? 'setup_failed' } : {}),
    ...(status === 'failed' && err?.decline_code ? { declineCode: err.decline_code } : {}),
    ...(status === 'failed' && err?.message ? { failureMessage: err.message } : {}),
    ...(status === 'requires_action' ? { nextAction: nextAction(si.client_secret, si.next_action) } : {}),
  };
}

export function toRefundResult(r: Stripe.Refund): RefundResult {
  const status: RefundResult['status'] = r.status === 'succeeded' ? 'succeeded' : r.status === 'failed' || r.status === 'canceled' ? 'failed' : 'pending';
  return { id: r.id, paymentIntentId: idOf(r.payment_intent) ?? '', amountCents: r.amount, status };
}

/** A connected account can receive payouts once its owner submitted their details and Stripe enabled payouts. */
export function connectedAccountStatus(account: Stripe.Account): ConnectedAccountResult['status'] {
  return account.details_submitted && account.payouts_enabled ? 'ready' : 'pending';
}

/** A transfer to a connected account is paid once created; a reversed one gave the money back to the platform. */
export function toTransferResult(t: Stripe.Transfer): TransferResult {
  return t.reversed ? { id: t.id, status: 'failed', failureCode: 'transfer_reversed', failureMessage: 'The transfer was reversed.' } : { id: t.id, status: 'paid' };
}

/**
 * Stripe's errors in the port's terms: invalid requests and key misuse become PaymentRequestError, calls
 * refused because of the payment's state become PaymentStateError. Anything else (network, rate limit,
 * authentication, outage) is returned unchanged: retrying with the same key is safe.
 */
export function translateStripeError(err: unknown): unknown {
  if (err instanceof Stripe.errors.StripeIdempotencyError) {
    return new PaymentRequestError(err.message, 'idempotency_key_reused');
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripeCardError) {
    const pi = err.payment_intent;
    if (err.code === 'payment_intent_unexpected_state' && pi) {
      return new PaymentStateError(err.message, pi.id, intentStatus(pi));
    }
    return new PaymentRequestError(err.message, err.code ?? 'invalid_request');
  }
  return err;
}
