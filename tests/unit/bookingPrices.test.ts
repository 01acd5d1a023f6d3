import fc from 'fast-check';
import { demandMultiplier, dynamicPrice, experienceMultiplier, type PriceBounds, type PriceFactors } from '../../src/domain/bookingPrices';

const defaults: PriceBounds = { min: 1, max: 2 };
const quiet: PriceFactors = { demandShare: 0, weekDemandShare: 0, completedBookings: 0, ratingAverage: null, ratingCount: 0, locationMultiplier: 1 };

const factorsArb = fc.record({
  demandShare: fc.double({ min: 0, max: 1, noNaN: true }),
  weekDemandShare: fc.double({ min: 0, max: 1, noNaN: true }),
  completedBookings: fc.integer({ min: 0, max: 10_000 }),
  ratingAverage: fc.option(fc.double({ min: 1, max: 5, noNaN: true }), { nil: null }),
  ratingCount: fc.integer({ min: 0, max: 1000 }),
  locationMultiplier: fc.double({ min: 0.5, max: 3, noNaN: true }),
});
const boundsArb = fc
  .tuple(fc.integer({ min: 5000, max: 15_000 }), fc.integer({ min: 0, max: 20_000 }))
  .map(([min, extra]): PriceBounds => ({ min: min / 10_000, max: (min + extra) / 10_000 }));
const baseArb = fc.integer({ min: 0, max: 10_000_000 });

describe('dynamicPrice examples', () => {
  it('is the base price with every multiplier at 1 when nothing is booked, the provider is new and the city neutral', () => {
    expect(dynamicPrice(5000, quiet, defaults)).toEqual({
      priceCents: 5000,
      breakdown: { base_cents: 5000, multipliers: { demand: 1, experience: 1, location: 1 }, total_multiplier: 1 },
    });
  });

  it('rises with the day’s and the week’s booked share', () => {
    expect(dynamicPrice(5000, { ...quiet, demandShare: 1 }, defaults).breakdown.multipliers.demand).toBe(1.5);
    expect(dynamicPrice(5000, { ...quiet, weekDemandShare: 1 }, defaults).breakdown.multipliers.demand).toBe(1.25);
    expect(dynamicPrice(5000, { ...quiet, demandShare: 0.5, weekDemandShare: 0.5 }, defaults)).toMatchObject({ priceCents: 5000 * 1.375 });
  });

  it('rewards experience and a good rating only with enough reviews, capped at +25 %', () => {
    expect(experienceMultiplier({ completedBookings: 100, ratingAverage: null, ratingCount: 0 })).toBeCloseTo(1.15, 9);
    expect(experienceMultiplier({ completedBookings: 100_000, ratingAverage: 5, ratingCount: 500 })).toBeCloseTo(1.25, 9);
    expect(experienceMultiplier({ completedBookings: 0, ratingAverage: 5, ratingCount: 4 })).toBe(1);
    expect(experienceMultiplier({ completedBookings: 0, ratingAverage: 5, ratingCount: 5 })).toBeCloseTo(1.1, 9);
    expect(experienceMultiplier({ completedBookings: 0, ratingAverage: 3, ratingCount: 50 })).toBe(1);
  });

  it('clamps each multiplier and their product to the bounds', () => {
    const busy = { ...quiet, demandShare: 1, weekDemandShare: 1, completedBookings: 1000, ratingAverage: 5, ratingCount: 100, locationMultiplier: 1.8 };
    const { priceCents, breakdown } = dynamicPrice(1000, busy, defaults);
    expect(breakdown.multipliers).toEqual({ demand: 1.75, experience: 1.25, location: 1.8 });
    expect(breakdown.total_multiplier).toBe(2);
    expect(priceCents).toBe(2000);
    expect(dynamicPrice(1000, { ...quiet, locationMultiplier: 0.7 }, defaults).breakdown.multipliers.location).toBe(1);
    expect(dynamicPrice(1000, { ...quiet, locationMultiplier: 0.7 }, { min: 0.8, max: 2 })).toMatchObject({ priceCents: 800 });
  });

  it('rounds multipliers to 4 decimals and the price half to even, in whole cents, never below 1', () => {
    const { breakdown } = dynamicPrice(100, { ...quiet, demandShare: 1 / 3 }, defaults);
    expect(breakdown.multipliers.demand).toBe(1.1667);
    expect(dynamicPrice(1, { ...quiet, locationMultiplier: 1.5 }, defaults).priceCents).toBe(2); // 1.5 → 2
    expect(dynamicPrice(5, { ...quiet, locationMultiplier: 1.5 }, defaults).priceCents).toBe(8); // 7.5 → 8
    expect(dynamicPrice(3, { ...quiet, locationMultiplier: 1.5 }, defaults).priceCents).toBe(4); // 4.5 → 4
    expect(dynamicPrice(0, quiet, defaults).priceCents).toBe(1);
    expect(dynamicPrice(1, quiet, { min: 0.5, max: 0.5 }).priceCents).toBe(1); // 0.5 → 0 → at least 1
  });

  it('refuses a non-integer or negative base and inverted bounds', () => {
    expect(() => dynamicPrice(10.5, quiet, defaults)).toThrow(RangeError);
    expect(() => dynamicPrice(-1, quiet, defaults)).toThrow(RangeError);
    expect(() => dynamicPrice(100, quiet, { min: 2, max: 1 })).toThrow(RangeError);
    expect(() => dynamicPrice(100, quiet, { min: 0, max: 1 })).toThrow(RangeError);
  });
});

describe('dynamicPrice properties', () => {
  it('is monotone in the day’s and the week’s demand', () => {
    fc.assert(
      fc.property(baseArb, factorsArb, boundsArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (base, f, bounds, dx, wx) => {
        const lower = dynamicPrice(base, f, bounds);
        const higher = dynamicPrice(base, { ...f, demandShare: Math.min(1, f.demandShare + dx), weekDemandShare: Math.min(1, f.weekDemandShare + wx) }, bounds);
        expect(higher.priceCents).toBeGreaterThanOrEqual(lower.priceCents);
        expect(higher.breakdown.multipliers.demand).toBeGreaterThanOrEqual(lower.breakdown.multipliers.demand);
      }),
    );
    expect(demandMultiplier({ demandShare: 0.2, weekDemandShare: 0.2 })).toBeLessThan(demandMultiplier({ demandShare: 0.3, weekDemandShare: 0.2 }));
  });

  it('never falls with more completed bookings or a better rating, and stays within +25 %', () => {
    fc.assert(
      fc.property(factorsArb, fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 4, noNaN: true }), fc.integer({ min: 0, max: 100 }), (f, more, better, reviews) => {
        const rated = { ...f, ratingAverage: f.ratingAverage ?? 1 };
        const up = { ...rated, completedBookings: rated.completedBookings + more, ratingAverage: Math.min(5, rated.ratingAverage + better), ratingCount: rated.ratingCount + reviews };
        expect(experienceMultiplier(up)).toBeGreaterThanOrEqual(experienceMultiplier(rated));
        expect(experienceMultiplier(up)).toBeLessThanOrEqual(1.25 + 1e-12);
      }),
    );
  });

  it('gives an integer price of at least 1 cent, each multiplier and the product within the bounds, 4 decimals each', () => {
    fc.assert(
      fc.property(baseArb, factorsArb, boundsArb, (base, f, bounds) => {
        const { priceCents, breakdown } = dynamicPrice(base, f, bounds);
        expect(Number.isSafeInteger(priceCents)).toBe(true);
        expect(priceCents).toBeGreaterThanOrEqual(1);
        expect(breakdown.base_cents).toBe(base);
        for (const m of [...Object.values(breakdown.multipliers), breakdown.total_multiplier]) {
          expect(m).toBeGreaterThanOrEqual(bounds.min);
          expect(m).toBeLessThanOrEqual(bounds.max);
          expect(Math.round(m * 10_000) / 10_000).toBe(m);
        }
        // The price is the base times the shown total, to the cent.
        expect(Math.abs(priceCents - Math.max(1, base * breakdown.total_multiplier))).toBeLessThanOrEqual(0.5 + 1e-6);
      }),
    );
  });

  it('never goes below the base price with the default bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), factorsArb, (base, f) => {
        const { priceCents } = dynamicPrice(base, f, defaults);
        expect(priceCents).toBeGreaterThanOrEqual(base);
        expect(priceCents).toBeLessThanOrEqual(2 * base);
      }),
    );
  });

  it('treats shares outside 0..1 and a non-finite location as their nearest sensible value', () => {
    expect(dynamicPrice(1000, { ...quiet, demandShare: 7, weekDemandShare: -3 }, defaults).breakdown.multipliers.demand).toBe(1.5);
    expect(dynamicPrice(1000, { ...quiet, demandShare: Number.NaN, locationMultiplier: Number.NaN }, defaults).priceCents).toBe(1000);
  });
});
