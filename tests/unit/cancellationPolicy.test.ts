import fc from 'fast-check';
import { cancellationTerms, noShowFee, percentOf, type CancellationPolicy } from '../../src/domain/cancellationPolicy';

const HOUR = 3_600_000;
const policy: CancellationPolicy = { free_until_hours: 24, late_fee_percent: 50, no_show_fee_percent: 100 };
const start = Date.parse('2026-12-10T10:00:00Z');

describe('percentOf', () => {
  it('rounds down, in the customer’s favour', () => {
    expect(percentOf(999, 50)).toBe(499);
    expect(percentOf(1, 99)).toBe(0);
    expect(percentOf(1000, 33.33)).toBe(333);
    expect(percentOf(300, 33.3)).toBe(99); // 99.9 → 99, float noise never rounds it to 100
    expect(percentOf(12345, 0)).toBe(0);
    expect(percentOf(12345, 100)).toBe(12345);
  });

  it('is an integer between 0 and the amount, monotone in the percent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (amount, p, q) => {
        const a = percentOf(amount, Math.min(p, q));
        const b = percentOf(amount, Math.max(p, q));
        expect(Number.isInteger(a)).toBe(true);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(b);
        expect(b).toBeLessThanOrEqual(amount);
        expect(b).toBe(Math.floor((amount * Math.max(p, q)) / 100));
      }),
    );
  });

  it('refuses negative or fractional amounts and percents outside 0-100', () => {
    for (const [amount, percent] of [[-1, 10], [1.5, 10], [100, -1], [100, 101], [100, Number.NaN]] as const) {
      expect(() => percentOf(amount, percent)).toThrow(RangeError);
    }
  });
});

describe('cancellationTerms', () => {
  it('a customer cancelling at least free_until_hours ahead pays nothing', () => {
    expect(cancellationTerms(policy, 5000, start, start - 24 * HOUR, 'customer')).toEqual({ feeCents: 0, refundCents: 5000, late: false });
    expect(cancellationTerms(policy, 5000, start, start - 100 * HOUR, 'customer')).toEqual({ feeCents: 0, refundCents: 5000, late: false });
  });

  it('a customer cancelling later pays the late fee percent, rounded down; the rest is refunded', () => {
    expect(cancellationTerms(policy, 5001, start, start - 24 * HOUR + 1, 'customer')).toEqual({ feeCents: 2500, refundCents: 2501, late: true });
    expect(cancellationTerms(policy, 5000, start, start + HOUR, 'customer')).toEqual({ feeCents: 2500, refundCents: 2500, late: true });
  });

  it('a provider or an operator cancelling costs the customer nothing, however late (late still says so)', () => {
    for (const by of ['provider', 'operator'] as const) {
      expect(cancellationTerms(policy, 5000, start, start - HOUR, by)).toEqual({ feeCents: 0, refundCents: 5000, late: true });
      expect(cancellationTerms(policy, 5000, start, start - 48 * HOUR, by)).toEqual({ feeCents: 0, refundCents: 5000, late: false });
    }
  });

  it('fee + refund is always the price, and the fee never exceeds the policy percent', () => {
    fc.assert(
      fc.property(
        fc.record({ free_until_hours: fc.integer({ min: 0, max: 168 }), late_fee_percent: fc.integer({ min: 0, max: 100 }), no_show_fee_percent: fc.integer({ min: 0, max: 100 }) }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: -200 * HOUR, max: 200 * HOUR }),
        fc.constantFrom('customer' as const, 'provider' as const, 'operator' as const),
        (p, price, ahead, by) => {
          const t = cancellationTerms(p, price, start, start - ahead, by);
          expect(t.feeCents + t.refundCents).toBe(price);
          expect(t.feeCents).toBeGreaterThanOrEqual(0);
          expect(t.feeCents).toBeLessThanOrEqual((price * p.late_fee_percent) / 100);
          expect(t.late).toBe(ahead < p.free_until_hours * HOUR);
          if (by !== 'customer' || !t.late) expect(t.feeCents).toBe(0);
        },
      ),
    );
  });
});

describe('noShowFee', () => {
  it('is the no-show percent of the price, rounded down', () => {
    expect(noShowFee(policy, 5000)).toBe(5000);
    expect(noShowFee({ ...policy, no_show_fee_percent: 25 }, 999)).toBe(249);
    expect(noShowFee({ ...policy, no_show_fee_percent: 0 }, 999)).toBe(0);
  });
});
