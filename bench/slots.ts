import { computeSlots, MAX_SLOT_WINDOW_DAYS, type DateException, type Interval, type Slot, type WeeklyHours } from '../src/domain/slots';
import { allPass, benchLog, loadAverage, percentile, positiveInt, report, round, runBench } from './load';

/**
 * Slot computation (src/domain/slots.ts) for a provider with a year of bookings, pure CPU, no database:
 *   - computeSlots: 31-day windows starting at every day of 2026, Europe/Berlin (both DST transitions inside),
 *     Mon-Sat 08:00-20:00 with holidays and special hours as exceptions, 45 min + 15 min buffer
 *     (12 slots a day), about 8 of them booked every open day, the busy intervals in random order;
 *   - baseline: the same windows over the same busy array with the bare minimum any slot listing does —
 *     a fixed-offset grid (no time zone, no exceptions), filtering and sorting the busy intervals, one sweep.
 * The difference is what time zones, exceptions and the rules cost. Goal: under 5 ms per window (issue 12).
 * Checks: every listed slot is on the grid, inside the window, free of every busy interval (buffer included,
 * brute force) and disjoint from the next; a window's count equals free grid points counted independently.
 *
 *   npm run bench:slots
 *   BENCH_SLOTS_ROUNDS=3        passes over the 365 windows (timed per window)
 *   BENCH_SLOTS_PER_DAY=8       bookings per open day (at most 12)
 */

const log = benchLog('slots');
const MINUTE = 60_000;
const DAY = 86_400_000;
const ZONE = 'Europe/Berlin';
const DURATION = 45;
const BUFFER = 15;
const GOAL_MS = 5;

const weekly: WeeklyHours[] = [1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const exceptions: DateException[] = [
  ...['2026-01-01', '2026-04-03', '2026-04-06', '2026-05-01', '2026-12-25', '2026-12-26'].map((date) => ({ date, closed: true as const })),
  { date: '2026-12-24', start: '08:00', end: '12:00' },
  { date: '2026-12-31', start: '08:00', end: '11:00' },
  { date: '2026-12-31', start: '15:00', end: '17:00' },
];

/** Deterministic so runs compare (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A year of bookings: `perDay` of each open day's grid slots, blocked with their buffer, shuffled. */
function yearOfBookings(perDay: number, rnd: () => number): Interval[] {
  const busy: Interval[] = [];
  const start = Date.UTC(2026, 0, 1) - DAY;
  for (let day = 0; day < 366; day++) {
    const from = start + day * DAY;
    const grid = computeSlots({ timeZone: ZONE, weekly, exceptions, durationMinutes: DURATION, bufferMinutes: BUFFER, from, to: from + DAY, busy: [] });
    const picked = [...grid].sort(() => rnd() - 0.5).slice(0, perDay);
    for (const s of picked) busy.push({ start: s.start, end: s.end + BUFFER * MINUTE });
  }
  for (let i = busy.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [busy[i], busy[j]] = [busy[j]!, busy[i]!];
  }
  return busy;
}

/** The floor: a fixed UTC+1 grid of Mon-Sat 08:00-20:00, the busy intervals filtered, sorted, swept once. */
function baselineSlots(from: number, to: number, busy: Interval[]): Slot[] {
  const duration = DURATION * MINUTE;
  const step = duration + BUFFER * MINUTE;
  const relevant = busy.filter((b) => b.end > from && b.start < to + step).sort((a, b) => a.start - b.start);
  const slots: Slot[] = [];
  let j = 0;
  for (let day = Math.floor(from / DAY) * DAY; day < to; day += DAY) {
    if (new Date(day).getUTCDay() === 0) continue;
    const open = day + 7 * 60 * MINUTE;
    const close = day + 19 * 60 * MINUTE;
    for (let s = open; s + duration <= close; s += step) {
      if (s < from || s >= to) continue;
      while (j < relevant.length && relevant[j]!.end <= s) j++;
      const next = relevant[j];
      if (next && next.start < s + step) continue;
      slots.push({ start: s, end: s + duration });
    }
  }
  return slots;
}

function timings(times: number[]) {
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return { windows: times.length, mean_ms: round(mean, 3), p50_ms: round(percentile(times, 50), 3), p99_ms: round(percentile(times, 99), 3), max_ms: round(Math.max(...times), 3) };
}

/** Brute-force checks of one window's answer. */
function checkWindow(slots: Slot[], from: number, to: number, busy: Interval[]): { free: boolean; disjoint: boolean; inWindow: boolean } {
  const buffer = BUFFER * MINUTE;
  return {
    free: slots.every((s) => busy.every((b) => !(s.start < b.end && b.start < s.end + buffer))),
    disjoint: slots.every((s, i) => i === 0 || slots[i - 1]!.end <= s.start),
    inWindow: slots.every((s) => s.start >= from && s.start < to && s.end - s.start === DURATION * MINUTE),
  };
}

async function main(): Promise<void> {
  const rounds = positiveInt('BENCH_SLOTS_ROUNDS', 3);
  const perDay = Math.min(12, positiveInt('BENCH_SLOTS_PER_DAY', 8));
  const rnd = random(12);
  const busy = yearOfBookings(perDay, rnd);
  log(`${busy.length} busy intervals over 2026; ${rounds} rounds of 365 windows of ${MAX_SLOT_WINDOW_DAYS} days`);
  const windows = Array.from({ length: 365 }, (_, d) => Date.UTC(2026, 0, 1) - 3_600_000 + d * DAY);
  const span = MAX_SLOT_WINDOW_DAYS * DAY;
  const input = (from: number) => ({ timeZone: ZONE, weekly, exceptions, durationMinutes: DURATION, bufferMinutes: BUFFER, from, to: from + span, busy });

  // JIT warm-up, both sides.
  for (const from of windows.slice(0, 30)) {
    computeSlots(input(from));
    baselineSlots(from, from + span, busy);
  }

  const loadBefore = loadAverage();
  const slotTimes: number[] = [];
  const baseTimes: number[] = [];
  let listed = 0;
  let baselineListed = 0;
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so a busy moment of the shared machine hits both sides alike.
    for (const from of windows) {
      let t = performance.now();
      listed += computeSlots(input(from)).length;
      slotTimes.push(performance.now() - t);
      t = performance.now();
      baselineListed += baselineSlots(from, from + span, busy).length;
      baseTimes.push(performance.now() - t);
    }
  }
  const loadAfter = loadAverage();

  // ---- Checks (untimed) ----
  let free = true;
  let disjoint = true;
  let inWindow = true;
  let countsMatch = true;
  for (const from of windows.filter((_, i) => i % 7 === 0)) {
    const slots = computeSlots(input(from));
    const c = checkWindow(slots, from, from + span, busy);
    free &&= c.free;
    disjoint &&= c.disjoint;
    inWindow &&= c.inWindow;
    // Independently: every grid point of the same window with nothing booked, minus those a booking blocks.
    const grid = computeSlots({ ...input(from), busy: [] });
    const freeGrid = grid.filter((s) => busy.every((b) => !(s.start < b.end && b.start < s.end + BUFFER * MINUTE)));
    countsMatch &&= freeGrid.length === slots.length && freeGrid.every((s, i) => s.start === slots[i]!.start);
  }
  const checks = { slots_free_of_busy_with_buffer: free, slots_disjoint_and_sorted: disjoint, slots_inside_window_exact_duration: inWindow, count_equals_free_grid_points: countsMatch, some_slots_listed: listed > 0 };

  const computed = timings(slotTimes);
  const baseline = timings(baseTimes);
  log(`computeSlots: mean ${computed.mean_ms} ms, p99 ${computed.p99_ms} ms per window; baseline: mean ${baseline.mean_ms} ms, p99 ${baseline.p99_ms} ms`);
  report('slots', {
    time_zone: ZONE,
    busy_intervals: busy.length,
    bookings_per_open_day: perDay,
    window_days: MAX_SLOT_WINDOW_DAYS,
    rounds,
    compute_slots: { ...computed, slots_per_window: round(listed / slotTimes.length, 1) },
    baseline_fixed_offset_grid: { ...baseline, slots_per_window: round(baselineListed / baseTimes.length, 1) },
    goal_ms: GOAL_MS,
    meets_goal: computed.p99_ms < GOAL_MS,
    load_average_before: loadBefore,
    load_average_after: loadAfter,
    checks,
    ok: allPass(checks),
  });
}

runBench(main);
