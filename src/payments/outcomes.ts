import { PaymentRequestError } from './gateway';
import type { PaymentRecord } from './paymentRecords';
import { PaymentNotAllowedError } from './paymentService';

/**
 * What a payment record means for the request that produced it: the one reading of a record's kind and
 * status that checkout, pledges, card replacement and settlement all act on. Pure, so any layer may use it.
 */
export type PaymentOutcome =
  /** A setup: the card is saved for charges later. */
  | 'saved'
  /** An authorization: the funds are held until captured or voided. */
  | 'held'
  /** Money was taken (refunds given back since do not change that). */
  | 'paid'
  /** The payer must authenticate (3-D Secure) before the provider decides. */
  | 'requires_action'
  /** The provider has not decided yet; ask again under the same business key. */
  | 'pending'
  | 'declined'
  | 'canceled';

export function paymentOutcome(record: Pick<PaymentRecord, 'kind' | 'status'>): PaymentOutcome {
  switch (record.status) {
    case 'succeeded':
      return record.kind === 'setup' ? 'saved' : 'paid';
    case 'partially_refunded':
    case 'refunded':
      return 'paid';
    case 'requires_capture':
      return 'held';
    case 'requires_action':
      return 'requires_action';
    case 'pending':
    case 'processing':
      return 'pending';
    case 'failed':
      return 'declined';
    case 'canceled':
      return 'canceled';
  }
}

/** The card is in place for what a pledge or checkout asked: saved for later, or its funds held. */
export function isInPlace(outcome: PaymentOutcome): boolean {
  return outcome === 'saved' || outcome === 'held';
}

/** The provider's most specific reason for a refusal: the bank's decline code when it gave one, else its failure code. */
export function declineReason(record: Pick<PaymentRecord, 'declineCode' | 'failureCode'>): string | null {
  return record.declineCode ?? record.failureCode;
}

/**
 * A payment call that threw, read the same way: a refusal of the request itself (by the provider, or by our
 * payment state machine) is a business answer with a code; anything else (network, outage) is undefined here,
 * and its outcome unknown until the call is repeated under the same business key.
 */
export function refusedRequest(err: unknown): { code: string; message: string } | undefined {
  if (err instanceof PaymentRequestError) return { code: err.code, message: err.message };
  if (err instanceof PaymentNotAllowedError) return { code: 'payment_not_allowed', message: err.message };
  return undefined;
}
