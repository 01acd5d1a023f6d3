import { DateTime, IANAZone } from 'luxon';

/**
 * Bookable slots of a provider, computed from opening hours in the provider's IANA time zone (issue 12).
 * Pure: the caller loads the hours, exceptions and the provider's blocked intervals and passes them in.
 */

export interface WeeklyHours {
  /** 0 = Sunday. */
  weekday: number;
  /** "HH:MM", the provider's local time; end after start on the same day ("24:00" allowed as end). */
  start: string;
  end: string;
}

/** A local date either closed all day or with one of (possibly several) special ranges replacing its weekly hours. */
export type DateException = { date: string; closed: true } | { date: string; start: string; end: string };

/** Epoch ms, half-open [start, end). */
export interface Interval {
  start: number;
  end: number;
}

export interface SlotInput {
  timeZone: string;
  weekly: WeeklyHours[];
  exceptions: DateException[];
  durationMinutes: number;
  bufferMinutes: number;
  /** Epoch ms window [from, to), at most MAX_SLOT_WINDOW_DAYS long. */
  from: number;
  to: number;
  /** Blocked intervals of the provider's live holds/bookings (buffers included), any order. */
  busy: Interval[];
  /** No slot starts before this (now). */
  notBefore?: number;
}

/** end = start + duration; the buffer after it is not part of the slot. */
export interface Slot {
  start: number;
  end: number;
}

export const MAX_SLOT_WINDOW_DAYS = 31;

const MINUTE = 60_000;
const DAY = 86_400_000;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && zone.length > 0 && IANAZone.isValidZone(zone);
}

/** Minutes since local midnight, or null; "24:00" only when allowed (an end). */
function minutesOf(hhmm: unknown, allow24: boolean): number | null {
  if (typeof hhmm !== 'string') return null;
  if (hhmm === '24:00') return allow24 ? 1440 : null;
  const m = HHMM.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** [year, month, day] of a real calendar date "YYYY-MM-DD", or null. */
function parseDate(date: unknown): [number, number, number] | null {
  if (typeof date !== 'string') return null;
  const m = DATE.exec(date);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return [y, mo, d];
}

export function validateAvailability(weekly: WeeklyHours[], exceptions: DateException[]): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  const byDay = new Map<number, { start: number; end: number; index: number }[]>();
  weekly.forEach((w, i) => {
    const path = `weekly[${i}]`;
    if (!Number.isInteger(w.weekday) || w.weekday < 0 || w.weekday > 6) errors.push({ path: `${path}.weekday`, message: 'weekday must be an integer 0-6 (0 = Sunday)' });
    const range = checkRange(w, path, errors);
    if (range && Number.isInteger(w.weekday)) {
      const list = byDay.get(w.weekday) ?? [];
      list.push({ ...range, index: i });
      byDay.set(w.weekday, list);
    }
  });
  for (const list of byDay.values()) {
    for (const [earlier, later] of overlapping(list)) errors.push({ path: `weekly[${later}]`, message: `overlaps weekly[${earlier}] on the same weekday` });
  }
  const closedDates = new Set<string>();
  const rangesByDate = new Map<string, { start: number; end: number; index: number }[]>();
  exceptions.forEach((e, i) => {
    const path = `exceptions[${i}]`;
    if (!parseDate(e.date)) errors.push({ path: `${path}.date`, message: 'date must be a valid YYYY-MM-DD date' });
    if ('closed' in e && e.closed !== undefined) {
      if (e.closed !== true) errors.push({ path: `${path}.closed`, message: 'closed must be true (omit it for special hours)' });
      else if ('start' in e || 'end' in e) errors.push({ path, message: 'a closed date has no start or end' });
      else closedDates.add(e.date);
      return;
    }
    const range = checkRange(e as { start: string; end: string }, path, errors);
    if (range) {
      const list = rangesByDate.get(e.date) ?? [];
      list.push({ ...range, index: i });
      rangesByDate.set(e.date, list);
    }
  });
  for (const [date, list] of rangesByDate) {
    if (closedDates.has(date)) {
      for (const r of list) errors.push({ path: `exceptions[${r.index}]`, message: `${date} is also marked closed; a closed date has no ranges` });
      continue;
    }
    for (const [earlier, later] of overlapping(list)) errors.push({ path: `exceptions[${later}]`, message: `overlaps exceptions[${earlier}] on ${date}` });
  }
  return errors;
}

/** Pairs of indexes [earlier, later] of ranges (minutes) that overlap, each later range reported once. */
function overlapping(ranges: { start: number; end: number; index: number }[]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const pairs: [number, number][] = [];
  let reach: { end: number; index: number } | null = null;
  for (const r of sorted) {
    if (reach && r.start < reach.end) pairs.push([reach.index, r.index]);
    if (!reach || r.end > reach.end) reach = { end: r.end, index: r.index };
  }
  return pairs;
}

function checkRange(r: { start: string; end: string }, path: string, errors: { path: string; message: string }[]): { start: number; end: number } | null {
  const start = minutesOf(r.start, false);
  const end = minutesOf(r.end, true);
  if (start === null) errors.push({ path: `${path}.start`, message: 'start must be "HH:MM" (00:00-23:59)' });
  if (end === null) errors.push({ path: `${path}.end`, message: 'end must be "HH:MM" (00:01-24:00)' });
  if (start === null || end === null) return null;
  if (start >= end) {
    errors.push({ path: `${path}.end`, message: 'end must be after start on the same day' });
    return null;
  }
  return { start, end };
}

/** Local wall time → epoch ms in the zone: a time in a spring-forward gap moves forward (as luxon does), one in a fall-back overlap takes the earlier instant. */
function localToEpoch(zone: IANAZone, y: number, mo: number, d: number, minutes: number): number {
  // "24:00" is the next day's midnight.
  const date = new Date(Date.UTC(y, mo - 1, d) + Math.floor(minutes / 1440) * DAY);
  const m = minutes % 1440;
  const wall = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), Math.floor(m / 60), m % 60);
  // Candidate offsets: the zone's offset a day either side covers every transition nearby (none are closer than 2 days).
  const before = zone.offset(wall - DAY) * MINUTE;
  const after = zone.offset(wall + DAY) * MINUTE;
  const candidates = before === after ? [before] : [before, after];
  let best: number | null = null;
  for (const off of candidates) {
    const t = wall - off;
    if (zone.offset(t) * MINUTE === off && (best === null || t < best)) best = t;
  }
  if (best !== null) return best;
  // In a gap: interpret with the offset before the transition, which lands after it (moved forward by the gap).
  return wall - before;
}

interface Opening {
  start: number;
  end: number;
}

/** Openings (epoch ms) of every local date that can hold a slot in [from, to). */
export function openingsOf(timeZone: string, weekly: WeeklyHours[], exceptions: DateException[], from: number, to: number): Opening[] {
  const zone = IANAZone.create(timeZone);
  const exByDate = new Map<string, DateException[]>();
  for (const e of exceptions) {
    const list = exByDate.get(e.date) ?? [];
    list.push(e);
    exByDate.set(e.date, list);
  }
  const byWeekday: [number, number][][] = [[], [], [], [], [], [], []];
  for (const w of weekly) {
    const s = minutesOf(w.start, false);
    const e = minutesOf(w.end, true);
    if (s !== null && e !== null && s < e) byWeekday[w.weekday]?.push([s, e]);
  }
  const first = DateTime.fromMillis(from, { zone }).minus({ days: 1 });
  const last = DateTime.fromMillis(to, { zone });
  const openings: Opening[] = [];
  let day = Date.UTC(first.year, first.month - 1, first.day);
  const lastDay = Date.UTC(last.year, last.month - 1, last.day);
  for (; day <= lastDay; day += DAY) {
    const cal = new Date(day);
    const [y, mo, d] = [cal.getUTCFullYear(), cal.getUTCMonth() + 1, cal.getUTCDate()];
    const iso = cal.toISOString().slice(0, 10);
    let ranges: [number, number][];
    const ex = exByDate.get(iso);
    if (ex) {
      ranges = [];
      if (!ex.some((e) => 'closed' in e && e.closed)) {
        for (const e of ex) {
          if ('closed' in e) continue;
          const s = minutesOf(e.start, false);
          const en = minutesOf(e.end, true);
          if (s !== null && en !== null && s < en) ranges.push([s, en]);
        }
      }
    } else {
      ranges = byWeekday[cal.getUTCDay()] ?? [];
    }
    for (const [s, e] of ranges) {
      const start = localToEpoch(zone, y, mo, d, s);
      const end = localToEpoch(zone, y, mo, d, e);
      if (end > start) openings.push({ start, end });
    }
  }
  return openings.sort((a, b) => a.start - b.start);
}

export function computeSlots(input: SlotInput): Slot[] {
  const { timeZone, weekly, exceptions, durationMinutes, bufferMinutes, from, to, busy } = input;
  if (!isValidTimeZone(timeZone)) throw new RangeError(`unknown time zone ${timeZone}`);
  if (!Number.isInteger(durationMinutes) || durationMinutes <= 0) throw new RangeError('durationMinutes must be a positive integer');
  if (!Number.isInteger(bufferMinutes) || bufferMinutes < 0) throw new RangeError('bufferMinutes must be a non-negative integer');
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RangeError('from and to must be finite epoch ms');
  if (to - from > MAX_SLOT_WINDOW_DAYS * DAY) throw new RangeError(`the window is at most ${MAX_SLOT_WINDOW_DAYS} days`);
  if (to <= from) return [];
  const duration = durationMinutes * MINUTE;
  const buffer = bufferMinutes * MINUTE;
  const step = duration + buffer;
  const lowest = Math.max(from, input.notBefore ?? -Infinity);

  // Candidates on each opening's grid inside the window.
  const candidates: Slot[] = [];
  for (const o of openingsOf(timeZone, weekly, exceptions, from, to)) {
    const k0 = lowest > o.start ? Math.ceil((lowest - o.start) / step) : 0;
    for (let s = o.start + k0 * step; s + duration <= o.end && s < to; s += step) candidates.push({ start: s, end: s + duration });
  }
  candidates.sort((a, b) => a.start - b.start);

  // Busy intervals that can touch the window, merged into a sorted disjoint list.
  const relevant: Interval[] = [];
  const reachEnd = to + step;
  for (const b of busy) if (b.end > lowest && b.start < reachEnd && b.end > b.start) relevant.push(b);
  relevant.sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const b of relevant) {
    const top = merged[merged.length - 1];
    if (top && b.start <= top.end) top.end = Math.max(top.end, b.end);
    else merged.push({ start: b.start, end: b.end });
  }

  // One sweep: slots and merged busy both ascend. Overlapping openings (DST gaps, odd data) never yield overlapping slots.
  const slots: Slot[] = [];
  let j = 0;
  let lastEnd = -Infinity;
  for (const c of candidates) {
    if (c.start < lastEnd) continue;
    while (j < merged.length && merged[j]!.end <= c.start) j++;
    const next = merged[j];
    if (next && next.start < c.end + buffer) continue;
    slots.push(c);
    lastEnd = c.end;
  }
  return slots;
}
