import { IANAZone } from 'luxon';

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

/** Known-good zones: checking builds an Intl formatter, too slow to repeat on every slot request. */
const validZones = new Set<string>();

export function isValidTimeZone(zone: string): boolean {
  if (validZones.has(zone)) return true;
  const valid = typeof zone === 'string' && zone.length > 0 && IANAZone.isValidZone(zone);
  if (valid) validZones.add(zone);
  return valid;
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

/**
 * Local wall time (its fields read as UTC, in ms) → epoch ms in the zone: a time in a spring-forward gap moves
 * forward by the gap (as luxon does), one in a fall-back overlap takes the earlier instant.
 */
function localToEpoch(zone: IANAZone, wall: number): number {
  // The zone's offsets a day either side cover every transition nearby (no real zone has two within two days).
  const before = zone.offset(wall - DAY) * MINUTE;
  const after = zone.offset(wall + DAY) * MINUTE;
  let best: number | null = null;
  for (const off of before === after ? [before] : [before, after]) {
    const t = wall - off;
    if (zone.offset(t) * MINUTE === off && (best === null || t < best)) best = t;
  }
  // In a gap: read with the offset before the transition, which lands after it.
  return best ?? wall - before;
}

/** Offsets run from UTC-12 to UTC+14: a local date's instants lie in [midnight - 14 h, next midnight + 12 h]. */
const EAST_MARGIN = 14 * 60 * MINUTE;

/** Openings (epoch ms) of every local date that can hold a slot in [from, to), sorted by start. */
export function openingsOf(timeZone: string, weekly: WeeklyHours[], exceptions: DateException[], from: number, to: number): Interval[] {
  const zone = IANAZone.create(timeZone);
  const exByDate = new Map<string, [number, number][]>();
  const closed = new Set<string>();
  for (const e of exceptions) {
    const list = exByDate.get(e.date) ?? [];
    exByDate.set(e.date, list);
    if ('closed' in e && e.closed) closed.add(e.date);
    else if ('start' in e) list.push([minutesOf(e.start, false) ?? -1, minutesOf(e.end, true) ?? -1]);
  }
  const byWeekday: [number, number][][] = [[], [], [], [], [], [], []];
  for (const w of weekly) byWeekday[w.weekday]?.push([minutesOf(w.start, false) ?? -1, minutesOf(w.end, true) ?? -1]);

  // Local dates from the day before `from`'s to `to`'s, as wall-clock midnights.
  const localDay = (t: number) => Math.floor((t + zone.offset(t) * MINUTE) / DAY) * DAY;
  const firstDay = localDay(from) - DAY;
  const lastDay = localDay(to);
  // One offset sample per date (at midnight - 14 h); when the four samples spanning a date's instants agree, the
  // date has one offset throughout and converts by plain arithmetic: the exact conversion only runs near transitions.
  const samples: number[] = [];
  for (let t = firstDay - EAST_MARGIN; t <= lastDay + 3 * DAY; t += DAY) samples.push(zone.offset(t) * MINUTE);

  const openings: Interval[] = [];
  for (let day = firstDay, k = 0; day <= lastDay; day += DAY, k++) {
    const offset = samples[k]!;
    const uniform = samples[k + 1] === offset && samples[k + 2] === offset && samples[k + 3] === offset;
    const iso = new Date(day).toISOString().slice(0, 10);
    if (closed.has(iso)) continue;
    const ranges = exByDate.get(iso) ?? byWeekday[new Date(day).getUTCDay()] ?? [];
    for (const [s, e] of ranges) {
      if (s < 0 || e < 0 || s >= e) continue; // invalid entries are refused on save; never guessed at here
      const wallStart = day + s * MINUTE;
      const wallEnd = day + e * MINUTE; // "24:00" is the next midnight
      const start = uniform ? wallStart - offset : localToEpoch(zone, wallStart);
      const end = uniform ? wallEnd - offset : localToEpoch(zone, wallEnd);
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
