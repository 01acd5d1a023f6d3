import fs from 'node:fs';
import path from 'node:path';
import {
  allowedTransitions,
  assertTransition,
  awaitsProvider,
  canTransition,
  IllegalPaymentTransitionError,
  isFinal,
  operationBlocked,
  PAYMENT_STATUSES,
  paymentStatusFrom,
  refundableCents,
  refundBlocked,
} from '../../src/domain/payments';

describe('payment state machine', () => {
  it('walks the authorize → capture → refund path', () => {
    expect(canTransition('pending', 'requires_capture')).toBe(true);
    expect(canTransition('requires_capture', 'succeeded')).toBe(true);
    expect(canTransition('succeeded', 'partially_refunded')).toBe(true);
    expect(canTransition('partially_refunded', 'partially_refunded')).toBe(true);
    expect(canTransition('partially_refunded', 'refunded')).toBe(true);
  });

  it('lets 3-D Secure finish into a hold or a charge', () => {
    expect(canTransition('requires_action', 'requires_capture')).toBe(true);
    expect(canTransition('requires_action', 'succeeded')).toBe(true);
    expect(canTransition('requires_action', 'failed')).toBe(true);
  });

  it('never un-takes money: a captured payment cannot be voided or go back to a hold', () => {
    expect(canTransition('succeeded', 'canceled')).toBe(false);
    expect(canTransition('succeeded', 'requires_capture')).toBe(false);
    expect(canTransition('refunded', 'succeeded')).toBe(false);
  });

  it('never captures a voided or declined payment', () => {
    expect(canTransition('canceled', 'succeeded')).toBe(false);
    expect(canTransition('failed', 'succeeded')).toBe(false);
    expect(canTransition('failed', 'canceled')).toBe(true);
  });

  it('has exactly the final states canceled and refunded', () => {
    expect(PAYMENT_STATUSES.filter(isFinal).sort()).toEqual(['canceled', 'refunded']);
    for (const s of PAYMENT_STATUSES) expect(allowedTransitions(s).every((t) => PAYMENT_STATUSES.includes(t))).toBe(true);
  });

  it('says which states the provider may still move by itself', () => {
    expect(PAYMENT_STATUSES.filter(awaitsProvider)).toEqual(['pending', 'requires_action', 'processing']);
  });

  it('assertTransition throws a typed error naming both states', () => {
    expect(() => assertTransition('canceled', 'succeeded')).toThrow(IllegalPaymentTransitionError);
    expect(() => assertTransition('canceled', 'succeeded')).toThrow(/canceled to succeeded/);
    expect(() => assertTransition('requires_capture', 'canceled')).not.toThrow();
  });

  it('explains blocked operations, with a hint at what to do instead', () => {
    expect(operationBlocked('capture', 'requires_capture')).toBeUndefined();
    expect(operationBlocked('capture', 'canceled')).toMatch(/voided/);
    expect(operationBlocked('cancel', 'succeeded')).toMatch(/refund instead/);
    expect(operationBlocked('refund', 'requires_capture')).toMatch(/cancel the hold/);
    expect(operationBlocked('refund', 'partially_refunded')).toBeUndefined();
  });

  it('never refunds more than was captured', () => {
    expect(refundableCents({ capturedCents: 1000, refundedCents: 300 })).toBe(700);
    expect(refundBlocked({ capturedCents: 1000, refundedCents: 300 }, 700)).toBeUndefined();
    expect(refundBlocked({ capturedCents: 1000, refundedCents: 300 }, 701)).toMatch(/only 700 of 1000/);
    expect(refundBlocked({ capturedCents: 1000, refundedCents: 1000 }, 1)).toMatch(/already been refunded/);
    expect(refundBlocked({ capturedCents: 0, refundedCents: 0 }, 1)).toMatch(/Nothing was captured/);
    expect(refundBlocked({ capturedCents: 1000, refundedCents: 0 }, 0)).toMatch(/positive/);
    expect(refundBlocked({ capturedCents: 1000, refundedCents: 0 }, 10.5)).toMatch(/whole number/);
  });

  it('imports nothing, so Temporal workflow code can use it', () => {
    const source = fs.readFileSync(path.resolve(__dirname, '../../src/domain/payments.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/require\(/);
  });

  it('derives refund states from the money', () => {
    expect(paymentStatusFrom('succeeded', { capturedCents: 1000, refundedCents: 0 })).toBe('succeeded');
    expect(paymentStatusFrom('succeeded', { capturedCents: 1000, refundedCents: 400 })).toBe('partially_refunded');
    expect(paymentStatusFrom('succeeded', { capturedCents: 1000, refundedCents: 1000 })).toBe('refunded');
    expect(paymentStatusFrom('requires_capture', { capturedCents: 0, refundedCents: 0 })).toBe('requires_capture');
  });
});
