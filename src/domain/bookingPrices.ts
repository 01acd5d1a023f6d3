/**
 * Dynamic price of a service booking (issue 12): base price × demand × experience × location, each multiplier
 * and their product clamped to the configured bounds (PRICE_MULTIPLIER_MIN/MAX). Pure.
 */

export interface PriceFactors {
  /** 0..1: share of the provider's slots booked that day. */
  demandShare: number;
  /** 0..1: share of the provider's slots booked that week. */
  weekDemandShare: number;
  completedBookings: number;
  ratingAverage: number | null;
  ratingCount: number;
  /** From configuration per city/country; 1 when none. */
  locationMultiplier: number;
}

/** Each multiplier and their product are clamped to [min, max]. */
export interface PriceBounds {
  min: number;
  max: number;
}

export interface PriceBreakdown {
  base_cents: number;
  multipliers: { demand: number; experience: number; location: number };
  total_multiplier: number;
}

/** A fully booked day adds 50 %, a fully booked week 25 % more. */
const DAY_DEMAND_WEIGHT = 0.5;
const WEEK_DEMAND_WEIGHT = 0.25;
/** Experience adds up to 15 % (reached at EXPERIENCE_FULL_AT completed bookings, log-shaped) ... */
const EXPERIENCE_WEIGHT = 0.15;
const EXPERIENCE_FULL_AT = 100;
/** ... and a good rating up to 10 %, only with enough reviews to mean something; 3.5 stars or less adds nothing. */
const RATING_WEIGHT = 0.1;
const RATING_MIN_REVIEWS = 5;
const RATING_NEUTRAL = 3.5;

/** Multipliers are kept to 4 decimals: in ten-thousandths they are exact integers. */
const SCALE = 10_000;

const share = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

export function demandMultiplier(f: Pick<PriceFactors, 'demandShare' | 'weekDemandShare'>): number {
  return 1 + DAY_DEMAND_WEIGHT * share(f.demandShare) + WEEK_DEMAND_WEIGHT * share(f.weekDemandShare);
}

export function experienceMultiplier(f: Pick<PriceFactors, 'completedBookings' | 'ratingAverage' | 'ratingCount'>): number {
  const completed = Number.isFinite(f.completedBookings) ? Math.max(0, f.completedBookings) : 0;
  const experience = Math.min(1, Math.log1p(completed) / Math.log1p(EXPERIENCE_FULL_AT));
  let rating = 0;
  if (f.ratingAverage !== null && Number.isFinite(f.ratingAverage) && f.ratingCount >= RATING_MIN_REVIEWS) {
    rating = share((f.ratingAverage - RATING_NEUTRAL) / (5 - RATING_NEUTRAL));
  }
  return 1 + EXPERIENCE_WEIGHT * experience + RATING_WEIGHT * rating;
}

/** x in ten-thousandths, clamped to the bounds (also in ten-thousandths). */
function scaled(x: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(x * SCALE)));
}

/** Integer a / b rounded half to even (b > 0, a ≥ 0). */
function divideHalfEven(a: number, b: number): number {
  const q = Math.floor(a / b);
  const r = a - q * b;
  if (r * 2 > b) return q + 1;
  if (r * 2 < b) return q;
  return q % 2 === 0 ? q : q + 1;
}

export function dynamicPrice(baseCents: number, factors: PriceFactors, bounds: PriceBounds): { priceCents: number; breakdown: PriceBreakdown } {
  if (!Number.isSafeInteger(baseCents) || baseCents < 0) throw new RangeError('baseCents must be a non-negative integer');
  if (!(bounds.min > 0) || !(bounds.max >= bounds.min) || !Number.isFinite(bounds.max)) throw new RangeError('price bounds must satisfy 0 < min ≤ max');
  const min = Math.ceil(bounds.min * SCALE - 1e-6);
  const max = Math.floor(bounds.max * SCALE + 1e-6);
  const location = Number.isFinite(factors.locationMultiplier) ? factors.locationMultiplier : 1;
  const d = scaled(demandMultiplier(factors), min, max);
  const e = scaled(experienceMultiplier(factors), min, max);
  const l = scaled(location, min, max);
  const total = scaled((d / SCALE) * (e / SCALE) * (l / SCALE), min, max);
  // Exact integer arithmetic: base × total (in ten-thousandths) stays a safe integer up to 9e10 cents at the largest max (10).
  const priceCents = Math.max(1, divideHalfEven(baseCents * total, SCALE));
  return {
    priceCents,
    breakdown: {
      base_cents: baseCents,
      multipliers: { demand: d / SCALE, experience: e / SCALE, location: l / SCALE },
      total_multiplier: total / SCALE,
    },
  };
}
