import { DateTime } from 'luxon';

/**
 * Billing periods kept on a billing-cycle anchor (pure; luxon for calendars and time zones).
 *
 * The anchor rule: period boundaries are the anchor's day of month and local time of day, in the subscription's
 * time zone, every month (or every year, in the anchor's month). A month without that day ends the period on its
 * last day, and the next period returns to the anchor day: anchor Jan 31 → Feb 28 (29 in leap years) → Mar 31 →
 * Apr 30 → May 31, never drifting to the 28th; a yearly Feb 29 anchor → Feb 28 in non-leap years → Feb 29 again.
 * A boundary whose local time does not exist (spring-forward gap) moves forward by the gap; one that occurs twice
 * (fall-back overlap) takes the earlier instant, as slots do (src/domain/slots.ts).
 */

export type BillingInterval = 'month' | 'year';

export interface BillingPeriod {
  start: Date;
  end: Date;
}

/** Most periods periodsBetween lists (a guard against a runaway range: 1000 years of months). */
export const MAX_PERIODS = 12_000;

const daysIn = (year: number, month: number) => DateTime.utc(year, month, 1).daysInMonth!;

/** The k-th boundary after the anchor (k = 0 is the anchor itself; k may be negative). */
function boundary(anchor: DateTime, k: number, interval: BillingInterval): DateTime {
  const months = anchor.year * 12 + (anchor.month - 1) + (interval === 'month' ? k : 12 * k);
  const year = Math.floor(months / 12);
  const month = (months % 12) + 1;
  const day = Math.min(anchor.day, daysIn(year, month));
  const at = DateTime.fromObject(
    { year, month, day, hour: anchor.hour, minute: anchor.minute, second: anchor.second, millisecond: anchor.millisecond },
    { zone: anchor.zone },
  );
  // luxon takes the later of two instants with this wall time; take the earlier one when there are two.
  const shift = at.minus({ days: 1 }).offset - at.offset;
  if (shift > 0) {
    const earlier = at.minus({ minutes: shift });
    if (earlier.day === at.day && earlier.hour === at.hour && earlier.minute === at.minute) return earlier;
  }
  return at;
}

function localAnchor(anchor: Date, timeZone: string): DateTime {
  const local = DateTime.fromJSDate(anchor, { zone: timeZone });
  if (!local.isValid) throw new RangeError(`not a valid anchor instant or IANA time zone: ${timeZone}`);
  return local;
}

/**
 * The end of the period that starts at `periodStart`: the first anchor boundary strictly after it. A start on
 * the cycle gives the next boundary; a start off the cycle (a first partial period) gives the next anchor date.
 */
export function nextPeriodEnd(anchor: Date, periodStart: Date, interval: BillingInterval, timeZone = 'UTC'): Date {
  const a = localAnchor(anchor, timeZone);
  const start = DateTime.fromJSDate(periodStart, { zone: timeZone });
  if (!start.isValid) throw new RangeError('periodStart is not a valid instant');
  const monthsApart = (start.year - a.year) * 12 + (start.month - a.month);
  // One boundary before the start's month (or year), then forward: at most a few steps.
  let k = (interval === 'month' ? monthsApart : Math.floor(monthsApart / 12)) - 1;
  while (boundary(a, k, interval).toMillis() <= periodStart.getTime()) k++;
  return boundary(a, k, interval).toJSDate();
}

/**
 * The contiguous periods covering [from, to): the first starts at `from`, each ends at nextPeriodEnd of its start
 * and the next starts there; the last one contains the instant before `to`. Empty when to <= from.
 */
export function periodsBetween(anchor: Date, from: Date, to: Date, interval: BillingInterval, timeZone = 'UTC'): BillingPeriod[] {
  const periods: BillingPeriod[] = [];
  let start = from;
  while (start.getTime() < to.getTime()) {
    if (periods.length >= MAX_PERIODS) throw new RangeError(`more than ${MAX_PERIODS} periods between ${from.toISOString()} and ${to.toISOString()}`);
    const end = nextPeriodEnd(anchor, start, interval, timeZone);
    periods.push({ start, end });
    start = end;
  }
  return periods;
}
