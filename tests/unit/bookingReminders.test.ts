import fc from 'fast-check';
import { loadConfig } from '../../src/config';
import { planReminders, reminderDedupeKey } from '../../src/bookings/bookingReminders';
import { paymentGraceMs } from '../../src/bookings/bookingPlan';

/** Which reminder a booking owes, from its row alone (src/bookings/bookingReminders.ts), and the payment grace. */

const HOUR = 3_600_000;
const start = new Date('2026-12-10T12:00:00Z');
const id = 'b1';
const plan = (nowOffsetMs: number, opts: { plannedAt?: Date; sent?: string[] } = {}) =>
  planReminders({
    bookingId: id,
    startsAt: start,
    plannedAt: opts.plannedAt ?? new Date(start.getTime() - 7 * 24 * HOUR),
    offsetsMs: [24 * HOUR, HOUR],
    sent: new Set(opts.sent ?? []),
    now: new Date(start.getTime() + nowOffsetMs),
  });

it('parses BOOKING_REMINDERS into offsets, largest first, and refuses a bad entry at start-up', () => {
  const offsets = (v: string) => loadConfig({ BOOKING_REMINDERS: v }).BOOKING_REMINDERS;
  expect(offsets('24h,1h')).toEqual([24 * HOUR, HOUR]);
  expect(offsets(' 1h , 2d, 1h,30m ,0s')).toEqual([2 * 24 * HOUR, HOUR, 30 * 60_000]);
  expect(offsets('4s,1.5s')).toEqual([4_000, 1_500]);
  expect(loadConfig({}).BOOKING_REMINDERS).toEqual([24 * HOUR, HOUR]);
  expect(() => offsets('24h,soon')).toThrow(/BOOKING_REMINDERS: must be comma-separated durations/);
});

it('owes each reminder from its instant until the start, the nearest one only when several are owed', () => {
  expect(plan(-30 * HOUR)).toEqual({ due: null, nextAt: new Date(start.getTime() - 24 * HOUR) });
  expect(plan(-24 * HOUR)).toEqual({ due: { offsetMs: 24 * HOUR, startsAt: start.toISOString() }, nextAt: new Date(start.getTime() - HOUR) });
  // The workers were down through both instants: only the 1 h reminder is sent.
  expect(plan(-30 * 60_000).due).toEqual({ offsetMs: HOUR, startsAt: start.toISOString() });
  expect(plan(0)).toEqual({ due: null, nextAt: null });
});

it('never owes a reminder twice for one start, but owes it again for a new start', () => {
  expect(plan(-20 * HOUR, { sent: [reminderDedupeKey(id, 24 * HOUR, start)] }).due).toBeNull();
  expect(plan(-20 * HOUR, { sent: [reminderDedupeKey(id, 24 * HOUR, new Date(start.getTime() + HOUR))] }).due).toEqual({ offsetMs: 24 * HOUR, startsAt: start.toISOString() });
});

it('owes no reminder whose instant came before the booking (or the move) that set this start', () => {
  const bookedThreeHoursAhead = new Date(start.getTime() - 3 * HOUR);
  expect(plan(-2 * HOUR, { plannedAt: bookedThreeHoursAhead })).toEqual({ due: null, nextAt: new Date(start.getTime() - HOUR) });
});

it('owes at most one reminder at any moment, never after the start', () => {
  fc.assert(
    fc.property(fc.integer({ min: -48 * HOUR, max: 2 * HOUR }), fc.subarray([24 * HOUR, HOUR]), (now, sentOffsets) => {
      const p = plan(now, { sent: sentOffsets.map((o) => reminderDedupeKey(id, o, start)) });
      if (now >= 0) expect(p.due).toBeNull();
      if (p.due) {
        expect(now).toBeGreaterThanOrEqual(-p.due.offsetMs);
        expect(sentOffsets).not.toContain(p.due.offsetMs);
      }
      if (p.nextAt) expect(p.nextAt.getTime()).toBeGreaterThan(start.getTime() + now);
    }),
  );
});

it('gives a customer whose off-session authorization failed half the time left, at most a day', () => {
  expect(paymentGraceMs(start, new Date(start.getTime() - 6 * 24 * HOUR))).toBe(24 * HOUR);
  expect(paymentGraceMs(start, new Date(start.getTime() - 6 * HOUR))).toBe(3 * HOUR);
  expect(paymentGraceMs(start, new Date(start.getTime() + HOUR))).toBe(0);
});
