import fc from 'fast-check';
import { bookingsFeeRule, crowdfundingFeeRule, platformFeeCents, sellerShareCents, storeFeeRule } from '../../src/domain/platformFees';

const settings = { PLATFORM_FEE_CROWDFUNDING_BPS: 500, PLATFORM_FEE_BOOKINGS_BPS: 1_000, PLATFORM_FEE_STORE_FIXED_CENTS: 30 };

describe('platform fees', () => {
  it('crowdfunding: 5 % of what was collected, half-even to the cent', () => {
    const rule = crowdfundingFeeRule(settings);
    expect(platformFeeCents(10_000, rule)).toBe(500);
    expect(platformFeeCents(1_234, rule)).toBe(62); // 61.7
    expect(platformFeeCents(1_230, rule)).toBe(62); // 61.5 → even 62
    expect(platformFeeCents(1_250, rule)).toBe(62); // 62.5 → even 62
    expect(platformFeeCents(1_270, rule)).toBe(64); // 63.5 → even 64
    expect(platformFeeCents(10, rule)).toBe(0); // 0.5 → even 0
    expect(platformFeeCents(30, rule)).toBe(2); // 1.5 → even 2
  });

  it('bookings: 10 %', () => {
    expect(platformFeeCents(5_000, bookingsFeeRule(settings))).toBe(500);
    expect(platformFeeCents(2_005, bookingsFeeRule(settings))).toBe(200); // 200.5 → even 200
  });

  it('store: the plan bps plus the fixed fee per order, never above the charge', () => {
    const basic = storeFeeRule(200, settings);
    expect(platformFeeCents(10_000, basic)).toBe(230);
    expect(platformFeeCents(25, basic)).toBe(25); // 0.5 → 0, + 30 → capped at 25
    expect(platformFeeCents(0, basic)).toBe(0);
  });

  it('refuses what is not an amount or a rate', () => {
    expect(() => platformFeeCents(-1, crowdfundingFeeRule(settings))).toThrow(RangeError);
    expect(() => platformFeeCents(1.5, crowdfundingFeeRule(settings))).toThrow(RangeError);
    expect(() => platformFeeCents(100, { bps: 10_001, fixedCents: 0 })).toThrow(RangeError);
    expect(() => platformFeeCents(100, { bps: 100, fixedCents: -1 })).toThrow(RangeError);
  });

  const amount = fc.integer({ min: 0, max: 10_000_000_000 });
  const rule = fc.record({ bps: fc.integer({ min: 0, max: 10_000 }), fixedCents: fc.integer({ min: 0, max: 10_000 }) });

  it('property: 0 ≤ fee ≤ captured, so the seller share is never negative', () => {
    fc.assert(
      fc.property(amount, rule, (captured, r) => {
        const fee = platformFeeCents(captured, r);
        return Number.isSafeInteger(fee) && fee >= 0 && fee <= captured && sellerShareCents(captured, fee) >= 0;
      }),
    );
  });

  it('property: the percentage is the exact half-even rounding (|fee − exact| ≤ ½, ties to even) plus the fixed part, when under the cap', () => {
    fc.assert(
      fc.property(amount, rule, (captured, r) => {
        const fee = platformFeeCents(captured, r);
        if (fee === captured && r.fixedCents > 0) return true; // capped
        const pct = BigInt(fee - r.fixedCents);
        const twice = 2n * BigInt(captured) * BigInt(r.bps); // 2 × exact × 10000
        const diff = 2n * pct * 10_000n - twice; // 2 × (pct − exact) × 10000
        if (diff > 10_000n || diff < -10_000n) return false;
        if (diff === 10_000n || diff === -10_000n) return pct % 2n === 0n;
        return true;
      }),
    );
  });

  it('property: more captured never means a smaller fee', () => {
    fc.assert(fc.property(amount, amount, rule, (a, b, r) => (a <= b ? platformFeeCents(a, r) <= platformFeeCents(b, r) : platformFeeCents(b, r) <= platformFeeCents(a, r))));
  });
});
