import fc from 'fast-check';
import { creditNoteTax } from '../../src/domain/creditNoteMath';

/**
 * The tax part of a credit note (README "Billing"): the receipt's tax in proportion to everything refunded so far,
 * half-even; a note takes the increase, never more than its amount nor than what is left.
 */
describe('creditNoteTax', () => {
  const receipt = { invoiceTotalCents: 12_000, invoiceTaxCents: 2_000 };

  it('credits the receipt’s tax in proportion to what is refunded, half-even, each note the increase', () => {
    expect(creditNoteTax({ ...receipt, amountCents: 3_000, refundedAfterCents: 3_000, creditedTaxCents: 0 })).toBe(500);
    expect(creditNoteTax({ ...receipt, amountCents: 4_001, refundedAfterCents: 7_001, creditedTaxCents: 500 })).toBe(667); // 1,166.83 → 1,167
    expect(creditNoteTax({ ...receipt, amountCents: 4_999, refundedAfterCents: 12_000, creditedTaxCents: 1_167 })).toBe(833); // all of it: the rest
    expect(creditNoteTax({ ...receipt, amountCents: 3, refundedAfterCents: 3, creditedTaxCents: 0 })).toBe(0); // 0.5 → even 0
    expect(creditNoteTax({ ...receipt, amountCents: 6, refundedAfterCents: 9, creditedTaxCents: 0 })).toBe(2); // 1.5 → even 2
  });

  it('never more than its amount, than the tax left, nor below zero', () => {
    expect(creditNoteTax({ invoiceTotalCents: 200, invoiceTaxCents: 100, amountCents: 1, refundedAfterCents: 200, creditedTaxCents: 0 })).toBe(1);
    expect(creditNoteTax({ ...receipt, amountCents: 10, refundedAfterCents: 12_000, creditedTaxCents: 2_000 })).toBe(0);
    expect(creditNoteTax({ ...receipt, amountCents: 100, refundedAfterCents: 600, creditedTaxCents: 1_000 })).toBe(0);
    expect(creditNoteTax({ invoiceTotalCents: 0, invoiceTaxCents: 0, amountCents: 10, refundedAfterCents: 10, creditedTaxCents: 0 })).toBe(0);
    expect(() => creditNoteTax({ ...receipt, amountCents: 1.5, refundedAfterCents: 2, creditedTaxCents: 0 })).toThrow(RangeError);
  });

  it('over any split of a receipt into refunds, the credit notes’ tax adds up to the receipt’s exactly, each within its amount', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 20 }),
        (net, bps, weights) => {
          const tax = Math.round((net * bps) / 10_000);
          const total = net + tax;
          // Split the total into refunds by the weights (the last takes the rest).
          const w = weights.reduce((s, x) => s + x, 0);
          const amounts: number[] = [];
          let left = total;
          for (const [i, x] of weights.entries()) {
            const a = i === weights.length - 1 ? left : Math.min(left, Math.floor((total * x) / w));
            if (a > 0) amounts.push(a);
            left -= a;
          }
          let credited = 0;
          let refunded = 0;
          for (const a of amounts) {
            refunded += a;
            const t = creditNoteTax({ amountCents: a, refundedAfterCents: refunded, invoiceTotalCents: total, invoiceTaxCents: tax, creditedTaxCents: credited });
            expect(t).toBeGreaterThanOrEqual(0);
            expect(t).toBeLessThanOrEqual(a);
            credited += t;
          }
          expect(credited).toBe(tax);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
