import fc from 'fast-check';
import { divRoundHalfEven, invoiceTotals, lineAmounts, taxRateFor } from '../../src/domain/invoiceMath';

/** Invoice arithmetic: exact integers, half-even per line, totals that add up (property tests over random lines). */

const quantity = fc.integer({ min: 1, max: 10_000 });
const unit = fc.integer({ min: 0, max: 100_000_000 });
const bps = fc.integer({ min: 0, max: 10_000 });

describe('lineAmounts', () => {
  it('gives exact integers: amount = quantity × unit, tax within half a cent of the exact rational, never floats', () => {
    fc.assert(
      fc.property(quantity, unit, bps, (q, u, r) => {
        const { amount_cents, tax_cents } = lineAmounts(q, u, r);
        expect(Number.isSafeInteger(amount_cents) && Number.isSafeInteger(tax_cents)).toBe(true);
        expect(BigInt(amount_cents)).toBe(BigInt(q) * BigInt(u));
        // |tax × 10000 − amount × bps| ≤ 5000 (half a minor unit), exactly in BigInt
        const diff = BigInt(tax_cents) * 10_000n - BigInt(amount_cents) * BigInt(r);
        expect(diff <= 5_000n && diff >= -5_000n).toBe(true);
      }),
    );
  });

  it('rounds ties to the even minor unit', () => {
    // 1 × 50 at 10%: 5.0 → 5; 1 × 25 at 10%: 2.5 → 2; 1 × 35 at 10%: 3.5 → 4; 1 × 15 at 10%: 1.5 → 2; 1 × 5: 0.5 → 0
    expect(lineAmounts(1, 25, 1_000).tax_cents).toBe(2);
    expect(lineAmounts(1, 35, 1_000).tax_cents).toBe(4);
    expect(lineAmounts(1, 15, 1_000).tax_cents).toBe(2);
    expect(lineAmounts(1, 5, 1_000).tax_cents).toBe(0);
    expect(lineAmounts(3, 5, 1_000).tax_cents).toBe(2); // 1.5 → 2
    expect(lineAmounts(1, 1, 5_000).tax_cents).toBe(0); // 0.5 → 0
    expect(lineAmounts(1, 3, 5_000).tax_cents).toBe(2); // 1.5 → 2
    expect(lineAmounts(1, 1, 1_900).tax_cents).toBe(0);
    expect(lineAmounts(2, 1_999, 1_900)).toEqual({ amount_cents: 3_998, tax_cents: 760 }); // 759.62 → 760
    // every exact .5 boundary goes to the even neighbour
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (k) => {
        // amount × 5000 / 10000 = amount / 2: an odd amount is a tie k + 0.5
        const amount = 2 * k + 1;
        const { tax_cents } = lineAmounts(1, amount, 5_000);
        expect(tax_cents % 2).toBe(0);
        expect(Math.abs(tax_cents * 2 - amount)).toBe(1);
      }),
    );
  });

  it('tax is monotone in the amount (at a fixed rate)', () => {
    fc.assert(
      fc.property(unit, unit, bps, (a, b, r) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(lineAmounts(1, lo, r).tax_cents).toBeLessThanOrEqual(lineAmounts(1, hi, r).tax_cents);
      }),
    );
  });

  it('refuses what is not a whole positive quantity, a whole non-negative unit or a rate in 0..10000', () => {
    expect(() => lineAmounts(0, 1, 0)).toThrow(RangeError);
    expect(() => lineAmounts(1.5, 1, 0)).toThrow(RangeError);
    expect(() => lineAmounts(1, -1, 0)).toThrow(RangeError);
    expect(() => lineAmounts(1, 0.1, 0)).toThrow(RangeError);
    expect(() => lineAmounts(1, 1, 10_001)).toThrow(RangeError);
    expect(() => lineAmounts(1, Number.MAX_SAFE_INTEGER, 0)).not.toThrow();
    expect(() => lineAmounts(2, Number.MAX_SAFE_INTEGER, 0)).toThrow(RangeError);
  });
});

describe('divRoundHalfEven', () => {
  it('agrees with rounding the exact quotient to nearest, ties to even', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 6n }), (n, d) => {
        const q = divRoundHalfEven(n, d);
        const twiceDiff = 2n * (n - q * d); // 2 × (n/d − q) × d
        expect(twiceDiff <= d && twiceDiff >= -d).toBe(true);
        if (twiceDiff === d || twiceDiff === -d) expect(q % 2n).toBe(0n);
      }),
    );
  });
});

describe('invoiceTotals', () => {
  it('subtotal + tax = total, each the exact sum of its lines', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(quantity, unit, bps), { minLength: 0, maxLength: 30 }), (specs) => {
        const lines = specs.map(([q, u, r]) => lineAmounts(q, u, r));
        const t = invoiceTotals(lines);
        expect(t.total_cents).toBe(t.subtotal_cents + t.tax_cents);
        expect(BigInt(t.subtotal_cents)).toBe(lines.reduce((s, l) => s + BigInt(l.amount_cents), 0n));
        expect(BigInt(t.tax_cents)).toBe(lines.reduce((s, l) => s + BigInt(l.tax_cents), 0n));
      }),
    );
  });
});

describe('taxRateFor', () => {
  it('takes the issuer’s own rate, else default, else 0', () => {
    const rates = { default: 1_900, platform: 2_000, 'aaaaaaaa-0000-4000-8000-000000000001': 700 };
    expect(taxRateFor(rates, 'AAAAAAAA-0000-4000-8000-000000000001')).toBe(700);
    expect(taxRateFor(rates, 'platform')).toBe(2_000);
    expect(taxRateFor(rates, 'bbbbbbbb-0000-4000-8000-000000000001')).toBe(1_900);
    expect(taxRateFor({}, 'platform')).toBe(0);
  });
});
