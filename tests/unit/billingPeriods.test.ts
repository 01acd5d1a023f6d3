import fc from 'fast-check';
import { DateTime } from 'luxon';
import { nextPeriodEnd, periodsBetween, type BillingInterval } from '../../src/domain/billingPeriods';

const iso = (s: string) => new Date(s);
const utcDays = (dates: Date[]) => dates.map((d) => d.toISOString().slice(0, 10));

/** The ends of the first n periods from the anchor. */
function chain(anchor: Date, n: number, interval: BillingInterval, zone = 'UTC'): Date[] {
  const ends: Date[] = [];
  let start = anchor;
  for (let i = 0; i < n; i++) ends.push((start = nextPeriodEnd(anchor, start, interval, zone)));
  return ends;
}

const daysIn = (year: number, month: number) => DateTime.utc(year, month, 1).daysInMonth!;

describe('nextPeriodEnd: monthly, the anchor day kept', () => {
  it('Jan 31 → Feb 28 → Mar 31 → Apr 30 → May 31, never drifting to the 28th', () => {
    const anchor = iso('2027-01-31T10:00:00Z');
    expect(utcDays(chain(anchor, 6, 'month'))).toEqual(['2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31', '2027-06-30', '2027-07-31']);
    expect(chain(anchor, 1, 'month')[0]!.toISOString()).toBe('2027-02-28T10:00:00.000Z');
  });

  it('Feb 29 in a leap year', () => {
    expect(utcDays(chain(iso('2028-01-31T00:00:00Z'), 2, 'month'))).toEqual(['2028-02-29', '2028-03-31']);
  });

  it('a start off the cycle ends at the next anchor date (a first partial period)', () => {
    const anchor = iso('2027-01-31T00:00:00Z');
    expect(nextPeriodEnd(anchor, iso('2027-02-10T08:00:00Z'), 'month').toISOString()).toBe('2027-02-28T00:00:00.000Z');
    expect(nextPeriodEnd(anchor, iso('2027-02-28T00:00:00.001Z'), 'month').toISOString()).toBe('2027-03-31T00:00:00.000Z');
  });
});

describe('nextPeriodEnd: yearly', () => {
  it('Feb 29 anchor → Feb 28 in non-leap years → Feb 29 in the next leap year', () => {
    expect(utcDays(chain(iso('2028-02-29T12:00:00Z'), 5, 'year'))).toEqual(['2029-02-28', '2030-02-28', '2031-02-28', '2032-02-29', '2033-02-28']);
  });

  it('a plain anchor keeps its date', () => {
    expect(utcDays(chain(iso('2026-12-05T00:00:00Z'), 2, 'year'))).toEqual(['2027-12-05', '2028-12-05']);
  });
});

describe('nextPeriodEnd across DST in a non-UTC zone', () => {
  it('keeps the local time of day (New York, 09:30 across March and November)', () => {
    const anchor = DateTime.fromISO('2026-01-15T09:30:00', { zone: 'America/New_York' }).toJSDate();
    const ends = chain(anchor, 12, 'month', 'America/New_York').map((d) => DateTime.fromJSDate(d, { zone: 'America/New_York' }));
    for (const e of ends) expect(e.toFormat('dd HH:mm')).toBe('15 09:30');
    expect(ends[2]!.offset).toBe(-240); // April: EDT
    expect(ends[10]!.offset).toBe(-300); // December: EST
  });

  it('a local time that does not exist moves forward by the gap; a repeated one takes the earlier instant', () => {
    const zone = 'America/New_York';
    const spring = DateTime.fromISO('2026-02-08T02:30:00', { zone }).toJSDate();
    expect(DateTime.fromJSDate(nextPeriodEnd(spring, spring, 'month', zone), { zone }).toISO()).toBe('2026-03-08T03:30:00.000-04:00');
    const fall = DateTime.fromISO('2026-10-01T01:30:00', { zone }).toJSDate();
    expect(DateTime.fromJSDate(nextPeriodEnd(fall, fall, 'month', zone), { zone }).toISO()).toBe('2026-11-01T01:30:00.000-04:00');
  });
});

// Anchors between 2000 and 2090, any day and time of day (to the millisecond).
const anyAnchor = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true });
const zones = fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'Pacific/Chatham');

describe('properties', () => {
  it('periods are contiguous, each month ends on min(anchor day, days in month), no drift over 10 years (UTC)', () => {
    fc.assert(
      fc.property(anyAnchor, (anchor) => {
        const a = DateTime.fromJSDate(anchor, { zone: 'UTC' });
        const to = a.plus({ years: 10 }).toJSDate();
        const periods = periodsBetween(anchor, anchor, to, 'month');
        expect(periods).toHaveLength(120);
        expect(periods[0]!.start).toEqual(anchor);
        for (let i = 0; i < periods.length; i++) {
          const p = periods[i]!;
          if (i > 0) expect(p.start.getTime()).toBe(periods[i - 1]!.end.getTime());
          expect(p.end.getTime()).toBeGreaterThan(p.start.getTime());
          const e = DateTime.fromJSDate(p.end, { zone: 'UTC' });
          expect(e.day).toBe(Math.min(a.day, daysIn(e.year, e.month)));
          expect(e.toFormat('HH:mm:ss.SSS')).toBe(a.toFormat('HH:mm:ss.SSS'));
          // The i-th end is i + 1 calendar months after the anchor's month: no month skipped or repeated.
          expect((e.year - a.year) * 12 + e.month - a.month).toBe(i + 1);
        }
        expect(periods.at(-1)!.end).toEqual(to); // 120 periods end exactly 10 years on
      }),
      { numRuns: 60 },
    );
  });

  it('in any zone the local day is min(anchor day, days in month) and the local time of day is kept unless it does not exist', () => {
    fc.assert(
      fc.property(anyAnchor, zones, fc.constantFrom<BillingInterval>('month', 'year'), (anchor, zone, interval) => {
        const a = DateTime.fromJSDate(anchor, { zone });
        const periods = periodsBetween(anchor, anchor, a.plus({ years: interval === 'month' ? 3 : 12 }).toJSDate(), interval, zone);
        let prev = anchor;
        periods.forEach((p, i) => {
          expect(p.start).toEqual(prev);
          prev = p.end;
          const e = DateTime.fromJSDate(p.end, { zone });
          const monthsAfter = (e.year - a.year) * 12 + e.month - a.month;
          expect(monthsAfter).toBe(interval === 'month' ? i + 1 : 12 * (i + 1));
          expect(e.day).toBe(Math.min(a.day, daysIn(e.year, e.month)));
          const wanted = DateTime.fromObject({ year: e.year, month: e.month, day: e.day, hour: a.hour, minute: a.minute, second: a.second, millisecond: a.millisecond }, { zone });
          // Kept exactly, or (in a spring-forward gap) moved forward by less than the gap.
          const kept = e.toFormat('HH:mm:ss.SSS') === a.toFormat('HH:mm:ss.SSS');
          expect(kept || e.toMillis() === wanted.toMillis()).toBe(true);
          if (!kept) expect(e.hour * 60 + e.minute - (a.hour * 60 + a.minute)).toBeLessThanOrEqual(60);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('nextPeriodEnd from any instant is the first boundary after it, and periodsBetween covers [from, to)', () => {
    fc.assert(
      fc.property(anyAnchor, fc.integer({ min: 0, max: 5 * 365 * 86_400_000 }), fc.integer({ min: 1, max: 800 * 86_400_000 }), zones, (anchor, offset, span, zone) => {
        const from = new Date(anchor.getTime() + offset);
        const to = new Date(from.getTime() + span);
        const periods = periodsBetween(anchor, from, to, 'month', zone);
        expect(periods[0]!.start).toEqual(from);
        expect(periods.at(-1)!.start.getTime()).toBeLessThan(to.getTime());
        expect(periods.at(-1)!.end.getTime()).toBeGreaterThanOrEqual(to.getTime());
        // Every end after the first is on the cycle: the cycle from the anchor reaches it.
        const onCycle = new Set(periodsBetween(anchor, anchor, periods.at(-1)!.end, 'month', zone).map((p) => p.end.getTime()));
        for (const p of periods) expect(onCycle.has(p.end.getTime())).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('periodsBetween is empty for an empty range', () => {
    const t = iso('2027-03-01T00:00:00Z');
    expect(periodsBetween(t, t, t, 'month')).toEqual([]);
  });
});
