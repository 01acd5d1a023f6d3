import { createHash } from 'node:crypto';
import { PaymentRequestError } from './gateway';

/**
 * Input checks both adapters apply before anything reaches a provider, so the simulated gateway and Stripe
 * reject the same requests with the same codes.
 */

/** A provider payment method token; the API's request schemas use the same pattern. */
export const PAYMENT_METHOD = /^pm_[A-Za-z0-9_]{1,250}$/;
const CURRENCY = /^[a-z]{3}$/;

export function checkIdempotencyKey(key: string): void {
  if (typeof key !== 'string' || key.length < 1 || key.length > 255) {
    throw new PaymentRequestError('An idempotency key must be 1-255 characters.', 'invalid_idempotency_key');
  }
}

/** API.md: payment methods are provider tokens; anything not starting with `pm_` is rejected. */
export function checkPaymentMethod(paymentMethod: string): void {
  if (typeof paymentMethod !== 'string' || !PAYMENT_METHOD.test(paymentMethod)) {
    throw new PaymentRequestError(`No such payment method: '${String(paymentMethod).slice(0, 60)}'.`, 'invalid_payment_method');
  }
}

export function checkAmount(amountCents: number, field = 'amount'): void {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) {
    throw new PaymentRequestError(`The ${field} must be a positive whole number of minor units.`, 'invalid_amount');
  }
}

/** Returns the currency in Stripe's lower-case form. */
export function normaliseCurrency(currency: string): string {
  const c = typeof currency === 'string' ? currency.toLowerCase() : '';
  if (!CURRENCY.test(c)) throw new PaymentRequestError(`Invalid currency: '${String(currency).slice(0, 10)}'.`, 'invalid_currency');
  return c;
}

/** JSON with object keys sorted, so equal requests hash alike whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
