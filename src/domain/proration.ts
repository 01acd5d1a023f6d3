/**
 * Proration of plan changes within one billing period [periodStart, periodEnd) (pure, exact integers).
 *
 * Time counts in whole seconds (each instant truncated to its second). A change at instant t:
 * - credit: the unused part of what was PAID for the current plan, paid for [paidFrom, periodEnd):
 *   floor(paid × (periodEnd − t) / (periodEnd − paidFrom)), rounded DOWN;
 * - charge: the new plan's whole-period price for the time left: ceil(price × (periodEnd − t) / (periodEnd −
 *   periodStart)), rounded UP.
 * The rounding rule: credits round down and charges round up, each by less than one cent, so a credit never exceeds
 * what was paid for the time it gives back, and over any sequence of changes in a period the credits never total
 * more than was paid for it (the first payment plus the charges). Products are BigInt, so nothing overflows.
 * A change at the period start is a full swap (all paid back, the new price in full); at the end, nothing.
 */

export interface PlanChange {
  /** The period being changed within. */
  periodStart: Date;
  periodEnd: Date;
  /** What was actually paid for the current plan's part of the period, which covers [paidFrom, periodEnd). */
  paidCents: number;
  paidFrom: Date;
  /** The new plan's price for a whole period (same interval and currency as the current plan). */
  newPriceCents: number;
  /** When the change takes effect: within [paidFrom, periodEnd]. */
  at: Date;
}

export interface Proration {
  creditCents: number;
  chargeCents: number;
  /** charge − credit: positive is owed now, negative is a credit for the customer. */
  netCents: number;
  /** Seconds left in the period at the change, and the period's length. */
  remainingSeconds: number;
  periodSeconds: number;
}

const seconds = (d: Date) => {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('not a valid instant');
  return Math.floor(ms / 1000);
};

function cents(value: number, name: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer number of cents, got ${value}`);
  return BigInt(value);
}

const floorDiv = (a: bigint, b: bigint) => a / b; // both non-negative
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** One plan change: the credit for the current plan's unused time and the charge for the new plan's remaining time. */
export function prorate(change: PlanChange): Proration {
  const start = seconds(change.periodStart);
  const end = seconds(change.periodEnd);
  const paidFrom = seconds(change.paidFrom);
  const at = seconds(change.at);
  if (end <= start) throw new RangeError('periodEnd must be at least a second after periodStart');
  if (paidFrom < start || paidFrom > end) throw new RangeError('paidFrom must lie within the period');
  if (at < paidFrom || at > end) throw new RangeError('the change must lie between paidFrom and the period end');
  const paid = cents(change.paidCents, 'paidCents');
  const price = cents(change.newPriceCents, 'newPriceCents');

  const remaining = BigInt(end - at);
  const covered = BigInt(end - paidFrom);
  const period = BigInt(end - start);
  const credit = covered === 0n ? 0n : floorDiv(paid * remaining, covered);
  const charge = ceilDiv(price * remaining, period);
  return {
    creditCents: Number(credit),
    chargeCents: Number(charge),
    netCents: Number(charge - credit),
    remainingSeconds: Number(remaining),
    periodSeconds: Number(period),
  };
}

export interface ProrationSequence {
  changes: Proration[];
  /** The first payment plus every charge. */
  totalPaidCents: number;
  totalCreditCents: number;
  totalChargeCents: number;
}

/**
 * Several changes in one period, in time order: each credits what the previous plan's part actually cost and
 * starts a new part paid by its charge. `paidCents` is what was paid for the whole period at its start.
 */
export function prorateSequence(
  period: { start: Date; end: Date },
  paidCents: number,
  changes: readonly { at: Date; newPriceCents: number }[],
): ProrationSequence {
  let paid = paidCents;
  let paidFrom = period.start;
  let totalPaid = BigInt(cents(paidCents, 'paidCents'));
  let totalCredit = 0n;
  let totalCharge = 0n;
  const results: Proration[] = [];
  for (const c of changes) {
    if (c.at.getTime() < paidFrom.getTime()) throw new RangeError('plan changes must be in time order');
    const r = prorate({ periodStart: period.start, periodEnd: period.end, paidCents: paid, paidFrom, newPriceCents: c.newPriceCents, at: c.at });
    results.push(r);
    totalCredit += BigInt(r.creditCents);
    totalCharge += BigInt(r.chargeCents);
    totalPaid += BigInt(r.chargeCents);
    paid = r.chargeCents;
    paidFrom = c.at;
  }
  return { changes: results, totalPaidCents: Number(totalPaid), totalCreditCents: Number(totalCredit), totalChargeCents: Number(totalCharge) };
}
