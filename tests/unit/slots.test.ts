import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import {
  computeSlots,
  isValidTimeZone,
  MAX_SLOT_WINDOW_DAYS,
  validateAvailability,
  type DateException,
  type Interval,
  type Slot,
  type SlotInput,
  type WeeklyHours,
} from '../../src/domain/slots';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const at = (zone: string, iso: string): number => DateTime.fromISO(iso, { zone }).toMillis();
const local = (zone: string, t: number): string => DateTime.fromMillis(t, { zone }).toFormat("yyyy-MM-dd'T'HH:mmZZ");
const everyDay = (start: string, end: string): WeeklyHours[] => [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, start, end }));

function slotsOf(input: Partial<SlotInput> & Pick<SlotInput, 'timeZone' | 'from' | 'to'>): Slot[] {
  return computeSlots({ weekly: [], exceptions: [], durationMinutes: 60, bufferMinutes: 0, busy: [], ...input });
}

describe('computeSlots examples', () => {
  const berlin = 'Europe/Berlin';

  it('lays a Berlin 09:00-17:00 day with 60 min + 15 min buffer on the grid 09:00, 10:15, ... and stops before 17:00', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('09:00', '17:00'), durationMinutes: 60, bufferMinutes: 15, from: at(berlin, '2026-12-02T00:00'), to: at(berlin, '2026-12-03T00:00') });
    expect(slots.map((s) => local(berlin, s.start))).toEqual(
      ['09:00', '10:15', '11:30', '12:45', '14:00', '15:15'].map((t) => `2026-12-02T${t}+01:00`),
    );
    for (const s of slots) expect(s.end - s.start).toBe(HOUR);
  });

  it('on the spring-forward day an opening 01:00-05:00 is three real hours: 01:00 CET, 03:00 and 04:00 CEST', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('01:00', '05:00'), from: at(berlin, '2026-03-29T00:00'), to: at(berlin, '2026-03-30T00:00') });
    expect(slots.map((s) => local(berlin, s.start))).toEqual(['2026-03-29T01:00+01:00', '2026-03-29T03:00+02:00', '2026-03-29T04:00+02:00']);
  });

  it('a start inside the spring-forward gap moves forward by the gap (02:30 → 03:30 CEST)', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('02:30', '06:00'), from: at(berlin, '2026-03-29T00:00'), to: at(berlin, '2026-03-30T00:00') });
    expect(slots.map((s) => local(berlin, s.start))).toEqual(['2026-03-29T03:30+02:00', '2026-03-29T04:30+02:00']);
  });

  it('when a range ending in the spring-forward gap overlaps the next range in real time, no two listed slots overlap', () => {
    // 00:00-02:30 ends at 03:30 CEST (01:30Z); 03:00-05:00 starts at 01:00Z: the later opening's first slot is left out.
    const slots = slotsOf({ timeZone: berlin, weekly: [{ weekday: 0, start: '00:00', end: '02:30' }, { weekday: 0, start: '03:00', end: '05:00' }], durationMinutes: 45, from: at(berlin, '2026-03-29T00:00'), to: at(berlin, '2026-03-30T00:00') });
    expect(slots.map((s) => local(berlin, s.start))).toEqual(['2026-03-29T00:00+01:00', '2026-03-29T00:45+01:00', '2026-03-29T01:30+01:00', '2026-03-29T03:45+02:00']);
  });

  it('on the fall-back day an opening 01:00-05:00 is five real hours, 02:00 appearing twice', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('01:00', '05:00'), from: at(berlin, '2026-10-25T00:00'), to: at(berlin, '2026-10-26T00:00') });
    expect(slots.map((s) => local(berlin, s.start))).toEqual([
      '2026-10-25T01:00+02:00',
      '2026-10-25T02:00+02:00',
      '2026-10-25T02:00+01:00',
      '2026-10-25T03:00+01:00',
      '2026-10-25T04:00+01:00',
    ]);
  });

  it('a start inside the fall-back overlap takes the earlier instant (02:30 CEST)', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('02:30', '04:00'), durationMinutes: 30, from: at(berlin, '2026-10-25T00:00'), to: at(berlin, '2026-10-26T00:00') });
    expect(local(berlin, slots[0]!.start)).toBe('2026-10-25T02:30+02:00');
    expect(slots).toHaveLength(5); // 02:30 CEST → 04:00 CET is 2.5 real hours
  });

  it('a closed exception removes the weekly hours of that date only', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: everyDay('09:00', '12:00'), exceptions: [{ date: '2026-12-02', closed: true }], from: at(berlin, '2026-12-01T00:00'), to: at(berlin, '2026-12-04T00:00') });
    expect(new Set(slots.map((s) => local(berlin, s.start).slice(0, 10)))).toEqual(new Set(['2026-12-01', '2026-12-03']));
    expect(slots).toHaveLength(6);
  });

  it('special-hours exceptions replace the weekly hours of their date, several ranges allowed', () => {
    const slots = slotsOf({
      timeZone: berlin,
      weekly: everyDay('09:00', '17:00'),
      exceptions: [
        { date: '2026-12-02', start: '07:00', end: '08:00' },
        { date: '2026-12-02', start: '20:00', end: '22:00' },
      ],
      from: at(berlin, '2026-12-02T00:00'),
      to: at(berlin, '2026-12-03T00:00'),
    });
    expect(slots.map((s) => local(berlin, s.start))).toEqual(['2026-12-02T07:00+01:00', '2026-12-02T20:00+01:00', '2026-12-02T21:00+01:00']);
  });

  it('an end of "24:00" is the next midnight', () => {
    const slots = slotsOf({ timeZone: berlin, weekly: [{ weekday: 3, start: '22:00', end: '24:00' }], from: at(berlin, '2026-12-02T00:00'), to: at(berlin, '2026-12-04T00:00') });
    expect(slots.map((s) => local(berlin, s.end))).toEqual(['2026-12-02T23:00+01:00', '2026-12-03T00:00+01:00']);
  });

  it('leaves out slots that, with their buffer, touch a busy interval, that start before notBefore, or outside [from, to)', () => {
    const day = (t: string) => at(berlin, `2026-12-02T${t}`);
    const slots = slotsOf({
      timeZone: berlin,
      weekly: everyDay('09:00', '17:00'),
      durationMinutes: 60,
      bufferMinutes: 15,
      // 11:30 slot's buffer ends 12:45: a busy interval from 12:40 blocks it; 14:00 and 15:15 are free again.
      busy: [{ start: day('12:40'), end: day('13:50') }],
      notBefore: day('09:30'),
      from: day('00:00'),
      to: day('15:15'),
    });
    expect(slots.map((s) => local(berlin, s.start).slice(11, 16))).toEqual(['10:15', '14:00']);
  });

  it('refuses a window longer than 31 days and accepts exactly 31', () => {
    const from = at(berlin, '2026-01-01T00:00');
    expect(() => slotsOf({ timeZone: berlin, weekly: everyDay('09:00', '10:00'), from, to: from + MAX_SLOT_WINDOW_DAYS * DAY + 1 })).toThrow(RangeError);
    expect(slotsOf({ timeZone: berlin, weekly: everyDay('09:00', '10:00'), from, to: from + MAX_SLOT_WINDOW_DAYS * DAY })).toHaveLength(31);
  });

  it('refuses an unknown zone and a non-positive duration; an empty window has no slots', () => {
    const from = at(berlin, '2026-01-01T00:00');
    expect(() => slotsOf({ timeZone: 'Mars/Olympus', from, to: from + DAY })).toThrow(RangeError);
    expect(() => slotsOf({ timeZone: berlin, durationMinutes: 0, from, to: from + DAY })).toThrow(RangeError);
    expect(slotsOf({ timeZone: berlin, weekly: everyDay('00:00', '24:00'), from, to: from })).toEqual([]);
  });

  it('Chile skips midnight on its spring-forward date: an opening from 00:00 starts at 01:00', () => {
    const zone = 'America/Santiago';
    const slots = slotsOf({ timeZone: zone, weekly: everyDay('00:00', '03:00'), from: at(zone, '2026-09-06T01:00'), to: at(zone, '2026-09-07T00:00') });
    expect(slots.map((s) => local(zone, s.start))).toEqual(['2026-09-06T01:00-03:00', '2026-09-06T02:00-03:00']);
  });
});

describe('validateAvailability', () => {
  it('accepts well-formed hours and exceptions, several ranges on one date included', () => {
    expect(
      validateAvailability(
        [{ weekday: 1, start: '09:00', end: '12:00' }, { weekday: 1, start: '12:00', end: '24:00' }, { weekday: 0, start: '00:00', end: '23:59' }],
        [{ date: '2026-12-24', closed: true }, { date: '2026-12-31', start: '10:00', end: '12:00' }, { date: '2026-12-31', start: '14:00', end: '16:00' }],
      ),
    ).toEqual([]);
  });

  it('names each bad field by its path', () => {
    const errors = validateAvailability(
      [
        { weekday: 7, start: '09:00', end: '10:00' },
        { weekday: 2, start: '9:00', end: '10:00' },
        { weekday: 2, start: '11:00', end: '10:00' },
        { weekday: 3, start: '24:00', end: '24:00' },
        { weekday: 4, start: '09:00', end: '12:00' },
        { weekday: 4, start: '11:00', end: '13:00' },
      ],
      [
        { date: '2026-02-30', closed: true },
        { date: '2026-12-24', closed: true },
        { date: '2026-12-24', start: '10:00', end: '11:00' },
        { date: '2026-12-31', start: '10:00', end: '12:00' },
        { date: '2026-12-31', start: '11:30', end: '12:30' },
        { date: '2026-12-30', start: '10:60', end: '24:01' },
      ],
    );
    expect(errors.map((e) => e.path).sort()).toEqual(
      [
        'weekly[0].weekday',
        'weekly[1].start',
        'weekly[2].end',
        'weekly[3].start',
        'weekly[5]',
        'exceptions[0].date',
        'exceptions[2]',
        'exceptions[4]',
        'exceptions[5].start',
        'exceptions[5].end',
      ].sort(),
    );
    for (const e of errors) expect(e.message).toEqual(expect.any(String));
  });

  it('refuses a closed entry that also carries hours', () => {
    expect(validateAvailability([], [{ date: '2026-12-24', closed: true, start: '10:00', end: '11:00' } as unknown as DateException]).map((e) => e.path)).toEqual(['exceptions[0]']);
  });
});

describe('validateAvailability properties', () => {
  const range = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 95 }), fc.integer({ min: 1, max: 96 })).filter(([, s, e]) => s < e);

  it('reports an overlap exactly when two ranges of one weekday overlap (brute force), and nothing else for well-formed ranges', () => {
    fc.assert(
      fc.property(fc.array(range, { maxLength: 8 }), (ranges) => {
        const weekly = ranges.map(([weekday, s, e]) => ({ weekday, start: hhmm(s * 15), end: hhmm(e * 15) }));
        const overlapping = ranges.some(([d, s, e], i) => ranges.some(([d2, s2, e2], j) => i !== j && d === d2 && s < e2 && s2 < e));
        const errors = validateAvailability(weekly, []);
        expect(errors.every((x) => x.message.startsWith('overlaps'))).toBe(true);
        expect(errors.length > 0).toBe(overlapping);
      }),
    );
  });
});

describe('isValidTimeZone', () => {
  it('knows IANA zones and nothing else', () => {
    for (const z of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC']) expect(isValidTimeZone(z)).toBe(true);
    for (const z of ['', 'Mars/Olympus', 'Europe/Berlin ', '+02:00garbage']) expect(isValidTimeZone(z)).toBe(false);
  });
});

// ---- Properties around every DST transition of 2026 -------------------------------------------------------

/** Every instant of 2026 where the zone's offset changes, found by an hourly scan refined to the minute. */
function transitionsOf(zone: string): number[] {
  const z = IANAZone.create(zone);
  const found: number[] = [];
  const end = Date.UTC(2027, 0, 1);
  for (let t = Date.UTC(2026, 0, 1); t < end; t += HOUR) {
    if (z.offset(t) === z.offset(t + HOUR)) continue;
    let lo = t;
    let hi = t + HOUR;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (z.offset(mid) === z.offset(t)) lo = mid;
      else hi = mid;
    }
    found.push(hi);
  }
  return found;
}

/** Local wall clock of an instant as UTC fields (ms), to compare wall times across offsets. */
function wallOf(zone: string, t: number): number {
  const d = DateTime.fromMillis(t, { zone });
  return Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute);
}

/** The spec's conversion, written independently: luxon's instant, moved to the earliest instant with the same wall clock. */
function oracleInstant(zone: string, date: string, minutes: number): number {
  const w = DateTime.fromISO(date, { zone: 'UTC' }).plus({ minutes });
  const wall = w.toMillis();
  const t = DateTime.fromObject({ year: w.year, month: w.month, day: w.day, hour: w.hour, minute: w.minute }, { zone }).toMillis();
  if (wallOf(zone, t) !== wall) return t; // a gap: luxon moved it forward
  for (const back of [120, 60, 30]) if (wallOf(zone, t - back * MINUTE) === wall) return t - back * MINUTE;
  return t;
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** Local dates (YYYY-MM-DD) from the day before `from` to the day of `to`. */
function datesAround(zone: string, from: number, to: number): string[] {
  // Calendar dates, not local midnights: in Chile some dates have no 00:00.
  const dates: string[] = [];
  const last = DateTime.fromMillis(to, { zone }).toISODate()!;
  for (let d = DateTime.fromISO(DateTime.fromMillis(from, { zone }).toISODate()!, { zone: 'UTC' }).minus({ days: 1 }); d.toISODate()! <= last; d = d.plus({ days: 1 })) dates.push(d.toISODate()!);
  return dates;
}

function rangesOn(date: string, weekly: WeeklyHours[], exceptions: DateException[]): [number, number][] {
  const ex = exceptions.filter((e) => e.date === date);
  if (ex.length > 0) return ex.some((e) => 'closed' in e) ? [] : ex.map((e) => [toMinutes((e as { start: string }).start), toMinutes((e as { end: string }).end)]);
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  return weekly.filter((w) => w.weekday === weekday).map((w) => [toMinutes(w.start), toMinutes(w.end)]);
}

function oracleOpenings(input: SlotInput): Interval[] {
  const openings: Interval[] = [];
  for (const date of datesAround(input.timeZone, input.from, input.to)) {
    for (const [s, e] of rangesOn(date, input.weekly, input.exceptions)) {
      const start = oracleInstant(input.timeZone, date, s);
      const end = oracleInstant(input.timeZone, date, e);
      if (end > start) openings.push({ start, end });
    }
  }
  return openings;
}

/** 0-3 non-overlapping ranges at 5-minute marks, "24:00" possible as an end. */
const dayRanges = fc
  .uniqueArray(fc.integer({ min: 0, max: 288 }), { minLength: 0, maxLength: 6 })
  .map((marks) => {
    const sorted = [...marks].sort((a, b) => a - b);
    const ranges: [string, string][] = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) ranges.push([hhmm(sorted[i]! * 5), hhmm(sorted[i + 1]! * 5)]);
    return ranges;
  });

const weeklyArb = fc.array(dayRanges, { minLength: 7, maxLength: 7 }).map((days) => days.flatMap((ranges, weekday) => ranges.map(([start, end]) => ({ weekday, start, end }))));

function exceptionsArb(dates: string[]): fc.Arbitrary<DateException[]> {
  const one = fc.tuple(fc.constantFrom(...dates), fc.oneof(fc.constant('closed' as const), dayRanges.filter((r) => r.length > 0)));
  return fc.array(one, { maxLength: 2 }).map((picked) => {
    const seen = new Set<string>();
    const out: DateException[] = [];
    for (const [date, what] of picked) {
      if (seen.has(date)) continue;
      seen.add(date);
      if (what === 'closed') out.push({ date, closed: true });
      else for (const [start, end] of what) out.push({ date, start, end });
    }
    return out;
  });
}

/** Random inputs whose window surrounds `pivot` (a transition, or any instant for zones without one). */
function inputAround(zone: string, pivot: number, withBusy: boolean): fc.Arbitrary<SlotInput> {
  const pivotDate = DateTime.fromMillis(pivot, { zone });
  const dates = [-1, 0, 1].map((d) => pivotDate.plus({ days: d }).toISODate()!);
  return fc
    .record({
      weekly: weeklyArb,
      exceptions: exceptionsArb(dates),
      durationMinutes: fc.integer({ min: 1, max: 48 }).map((x) => x * 5),
      bufferMinutes: fc.integer({ min: 0, max: 12 }).map((x) => x * 5),
      fromOffset: fc.integer({ min: 0, max: 3 * 24 * 4 }).map((q) => q * 15 * MINUTE),
      toOffset: fc.integer({ min: 0, max: 3 * 24 * 4 }).map((q) => q * 15 * MINUTE),
      busy: withBusy
        ? fc.array(fc.tuple(fc.integer({ min: -4 * 24 * 12, max: 4 * 24 * 12 }), fc.integer({ min: 1, max: 60 })), { maxLength: 12 })
        : fc.constant([] as [number, number][]),
      notBefore: withBusy ? fc.option(fc.integer({ min: -3 * 24 * 4, max: 3 * 24 * 4 }), { nil: undefined }) : fc.constant(undefined),
    })
    .map((r) => ({
      timeZone: zone,
      weekly: r.weekly,
      exceptions: r.exceptions,
      durationMinutes: r.durationMinutes,
      bufferMinutes: r.bufferMinutes,
      from: pivot - r.fromOffset,
      to: pivot + r.toOffset,
      busy: r.busy.map(([s, len]) => ({ start: pivot + s * 5 * MINUTE, end: pivot + (s + len) * 5 * MINUTE })),
      notBefore: r.notBefore === undefined ? undefined : pivot + r.notBefore * 15 * MINUTE,
    }));
}

const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kolkata'];

const pivots: [string, string, number][] = ZONES.flatMap((zone) => {
  const found = transitionsOf(zone);
  // A zone without DST still gets checked, around two ordinary instants.
  const pivots = found.length > 0 ? found : [Date.UTC(2026, 2, 29, 1), Date.UTC(2026, 9, 25, 1)];
  return pivots.map((t): [string, string, number] => [zone, new Date(t).toISOString(), t]);
});

describe('computeSlots properties around every 2026 DST transition', () => {
  it('finds the transitions it means to test (two a year in each DST zone, none in Kolkata)', () => {
    for (const zone of ZONES) expect(transitionsOf(zone)).toHaveLength(zone === 'Asia/Kolkata' ? 0 : 2);
    // Lord Howe moves by 30 minutes.
    const [t] = transitionsOf('Australia/Lord_Howe');
    const z = IANAZone.create('Australia/Lord_Howe');
    expect(Math.abs(z.offset(t!) - z.offset(t! - 1))).toBe(30);
  });

  it.each(pivots)('%s around %s: slots are inside openings, on the grid, exact, disjoint, free and complete', (_zone, _iso, pivot) => {
    fc.assert(
      fc.property(inputAround(_zone, pivot, true), (input) => {
        const slots = computeSlots(input);
        const openings = oracleOpenings(input);
        const duration = input.durationMinutes * MINUTE;
        const buffer = input.bufferMinutes * MINUTE;
        const step = duration + buffer;
        const free = (s: number) => input.busy.every((b) => !(s < b.end && b.start < s + duration + buffer));
        const eligible = (s: number) => s >= input.from && s < input.to && s >= (input.notBefore ?? -Infinity) && free(s);
        for (let i = 0; i < slots.length; i++) {
          const s = slots[i]!;
          expect(s.end - s.start).toBe(duration);
          expect(eligible(s.start)).toBe(true);
          if (i > 0) expect(s.start).toBeGreaterThanOrEqual(slots[i - 1]!.end);
          const home = openings.find((o) => o.start <= s.start && s.end <= o.end && (s.start - o.start) % step === 0);
          expect(home).toBeDefined();
        }
        // Complete: every free grid point in the window is listed, or overlaps one that is (overlapping openings).
        const listed = new Set(slots.map((s) => s.start));
        for (const o of openings) {
          for (let s = o.start; s + duration <= o.end; s += step) {
            if (!eligible(s) || listed.has(s)) continue;
            expect(slots.some((l) => l.start < s + duration && s < l.end)).toBe(true);
          }
        }
      }),
      { numRuns: 120 },
    );
  });

  it.each(pivots)('%s around %s: on days without a transition, the count per day follows from the hours alone', (zone, _iso, pivot) => {
    fc.assert(
      fc.property(inputAround(zone, pivot, false), (input) => {
        const slots = computeSlots(input);
        const step = input.durationMinutes + input.bufferMinutes;
        for (const date of datesAround(zone, input.from, input.to)) {
          const start = DateTime.fromISO(date, { zone });
          const end = start.plus({ days: 1 });
          const normal = start.offset === end.offset && end.toMillis() - start.toMillis() === DAY && start.hour === 0;
          if (!normal || start.toMillis() < input.from || end.toMillis() > input.to) continue;
          const expected = rangesOn(date, input.weekly, input.exceptions).reduce(
            (n, [s, e]) => n + (e - s >= input.durationMinutes ? Math.floor((e - s - input.durationMinutes) / step) + 1 : 0),
            0,
          );
          const actual = slots.filter((s) => DateTime.fromMillis(s.start, { zone }).toISODate() === date).length;
          expect(actual).toBe(expected);
        }
      }),
      { numRuns: 120 },
    );
  });
});
