import fc from 'fast-check';
import { prorate, prorateSequence } from '../../src/domain/proration';

const start = new Date('2027-01-31T10:00:00Z');
const end = new Date('2027-02-28T10:00:00Z');
const periodSeconds = (end.getTime() - start.getTime()) / 1000; // 28 days
const at = (secondsIn: number) => new Date(start.getTime() + secondsIn * 1000);

describe('prorate', () => {
  it('a change at the period start is a full swap', () => {
    expect(prorate({ periodStart: start, periodEnd: end, paidCents: 3_900, paidFrom: start, newPriceCents: 10_500, at: start })).toEqual({
      creditCents: 3_900,
      chargeCents: 10_500,
      netCents: 6_600,
      remainingSeconds: periodSeconds,
      periodSeconds,
    });
  });

  it('a change at the period end changes nothing', () => {
    const r = prorate({ periodStart: start, periodEnd: end, paidCents: 3_900, paidFrom: start, newPriceCents: 10_500, at: end });
    expect([r.creditCents, r.chargeCents, r.netCents, r.remainingSeconds]).toEqual([0, 0, 0, 0]);
  });

  it('halfway: half back, half charged; to the second, credit rounded down and charge rounded up', () => {
    const half = prorate({ periodStart: start, periodEnd: end, paidCents: 3_900, paidFrom: start, newPriceCents: 10_500, at: at(periodSeconds / 2) });
    expect([half.creditCents, half.chargeCents, half.netCents]).toEqual([1_950, 5_250, 3_300]);
    // One second later: 3900 × 1209599 / 2419200 = 1949.9991… → 1949; 10500 × 1209599 / 2419200 = 5249.9978… → 5250.
    const later = prorate({ periodStart: start, periodEnd: end, paidCents: 3_900, paidFrom: start, newPriceCents: 10_500, at: at(periodSeconds / 2 + 1) });
    expect([later.creditCents, later.chargeCents]).toEqual([1_949, 5_250]);
    // Milliseconds do not count: the instant is truncated to its second.
    const sameSecond = prorate({ periodStart: start, periodEnd: end, paidCents: 3_900, paidFrom: start, newPriceCents: 10_500, at: new Date(at(periodSeconds / 2 + 1).getTime() + 999) });
    expect(sameSecond).toEqual(later);
  });

  it('is exact for amounts whose products exceed 2^53', () => {
    const yearEnd = new Date('2028-01-31T10:00:00Z');
    const big = 9_000_000_000_000; // 90 billion in major units, × ~31.5M seconds ≈ 2.8e20
    const r = prorate({ periodStart: start, periodEnd: yearEnd, paidCents: big, paidFrom: start, newPriceCents: big, at: new Date(start.getTime() + 1000) });
    const secs = BigInt((yearEnd.getTime() - start.getTime()) / 1000);
    expect(BigInt(r.creditCents)).toBe((BigInt(big) * (secs - 1n)) / secs);
    expect(BigInt(r.chargeCents)).toBe((BigInt(big) * (secs - 1n) + secs - 1n) / secs);
  });

  it('refuses changes outside the paid part, bad periods and non-integer or negative amounts', () => {
    const base = { periodStart: start, periodEnd: end, paidCents: 100, paidFrom: start, newPriceCents: 200, at: at(10) };
    for (const bad of [
      { at: new Date(start.getTime() - 1000) },
      { at: new Date(end.getTime() + 1000) },
      { periodEnd: start },
      { paidFrom: at(20) },
      { paidCents: -1 },
      { paidCents: 1.5 },
      { newPriceCents: Number.NaN },
      { at: new Date(Number.NaN) },
    ]) {
      expect(() => prorate({ ...base, ...bad })).toThrow(RangeError);
    }
  });
});

/** Random sequences: a period of 1 s to 1 year, a first plan and up to 8 changes at sorted instants (ms) within it. */
const scenario = fc
  .record({
    seconds: fc.integer({ min: 1, max: 366 * 86_400 }),
    firstPrice: fc.integer({ min: 0, max: 10_000_000 }),
    changes: fc.array(fc.record({ fraction: fc.double({ min: 0, max: 1, noNaN: true }), price: fc.integer({ min: 0, max: 10_000_000 }) }), { maxLength: 8 }),
  })
  .map(({ seconds, firstPrice, changes }) => {
    const periodEnd = new Date(start.getTime() + seconds * 1000);
    const instants = changes.map((c) => start.getTime() + Math.floor(c.fraction * seconds * 1000)).sort((a, b) => a - b);
    return { seconds, periodEnd, firstPrice, changes: changes.map((c, i) => ({ at: new Date(instants[i]!), newPriceCents: c.price })) };
  });

describe('properties over random plan-change sequences', () => {
  it('total credits never exceed what was paid; every credit and charge is a non-negative integer', () => {
    fc.assert(
      fc.property(scenario, ({ periodEnd, firstPrice, changes }) => {
        const s = prorateSequence({ start, end: periodEnd }, firstPrice, changes);
        expect(s.totalCreditCents).toBeLessThanOrEqual(s.totalPaidCents);
        expect(s.totalPaidCents).toBe(firstPrice + s.totalChargeCents);
        let paid = firstPrice;
        for (const r of s.changes) {
          for (const v of [r.creditCents, r.chargeCents]) {
            expect(Number.isSafeInteger(v)).toBe(true);
            expect(v).toBeGreaterThanOrEqual(0);
          }
          expect(r.netCents).toBe(r.chargeCents - r.creditCents);
          // Each credit gives back at most what the part it ends was paid.
          expect(r.creditCents).toBeLessThanOrEqual(paid);
          paid = r.chargeCents;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('what is kept is the exact time-weighted price, rounded in the platform’s favour by less than 2 cents per part', () => {
    fc.assert(
      fc.property(scenario, ({ seconds, periodEnd, firstPrice, changes }) => {
        const s = prorateSequence({ start, end: periodEnd }, firstPrice, changes);
        // Exact cost × period length: each plan's price × the whole seconds it was in force.
        const sec = (d: Date) => Math.floor(d.getTime() / 1000);
        const bounds = [sec(start), ...changes.map((c) => sec(c.at)), sec(periodEnd)];
        const prices = [firstPrice, ...changes.map((c) => c.newPriceCents)];
        const exactTimesL = prices.reduce((sum, p, i) => sum + BigInt(p) * BigInt(bounds[i + 1]! - bounds[i]!), 0n);
        const keptTimesL = BigInt(s.totalPaidCents - s.totalCreditCents) * BigInt(seconds);
        expect(keptTimesL >= exactTimesL).toBe(true);
        expect(keptTimesL < exactTimesL + 2n * BigInt(prices.length) * BigInt(seconds)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a change at the period start is a full swap and one at the end is nothing, whatever came before', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 10_000_000 }), ({ periodEnd, firstPrice, changes }, price) => {
        const first = prorateSequence({ start, end: periodEnd }, firstPrice, [{ at: start, newPriceCents: price }]).changes[0]!;
        expect([first.creditCents, first.chargeCents]).toEqual([firstPrice, price]);
        const s = prorateSequence({ start, end: periodEnd }, firstPrice, [...changes, { at: periodEnd, newPriceCents: price }]);
        const last = s.changes.at(-1)!;
        expect([last.creditCents, last.chargeCents, last.netCents]).toEqual([0, 0, 0]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses changes out of time order', () => {
    expect(() =>
      prorateSequence({ start, end }, 100, [
        { at: at(20), newPriceCents: 1 },
        { at: at(10), newPriceCents: 2 },
      ]),
    ).toThrow(RangeError);
  });
});
