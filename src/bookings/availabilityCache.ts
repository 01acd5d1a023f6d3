import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { redisWithin } from '../commerce/redisDeadline';
import { computeSlots, type Slot } from '../domain/slots';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { ProviderRow, ServiceRow } from './rows';

/**
 * The per-provider-day cache of computed slots (issue 12). A day's entry is the service's grid that local day
 * and which of its slots are free, whatever the time now (readers drop the past), so one entry serves every
 * request until the calendar changes.
 *
 * Every key carries the provider's calendar version, so one INCR makes every cached day of that provider
 * unreachable at once (O(1)), and race-free: a reader takes the version BEFORE it reads the bookings, so what it
 * stores under an old version after a write committed is never asked for again. Entries expire on their own
 * (SLOT_CACHE_TTL_SECONDS), which bounds staleness if a bump is lost to a Redis outage. Postgres stays the
 * gate: the exclusion constraint refuses a hold on a slot a stale entry still lists.
 */

export const SLOT_CACHE_TTL_SECONDS = 600;
/** A Redis slower than this is treated as down for this request: the slots are computed from Postgres instead. */
const REDIS_TIMEOUT_MS = 250;

const versionKey = (providerId: string) => `bookings:calendar:v:${providerId}`;
const dayKey = (service: ServiceRow, inputs: string, version: string, date: string) => `bookings:slots:${service.provider_id}:${version}:${service.id}:${inputs}:${date}`;

/** Every cached view of this provider's calendar (slots per day, next availability) is stale: called after any hold, booking, cancellation, reschedule or availability change commits. */
export async function providerCalendarChanged(deps: { redis: RedisClient; logger?: Logger }, providerId: string): Promise<void> {
  try {
    await redisWithin(deps.redis.incr(versionKey(providerId)), REDIS_TIMEOUT_MS, 'calendar version bump');
  } catch (err) {
    // The caller's write is committed: an outage here must not fail it. Cached days live at most their TTL.
    deps.logger?.warn({ err, providerId }, `provider calendar version not bumped; cached slots stale for at most ${SLOT_CACHE_TTL_SECONDS} s`);
  }
}

/** A provider and one of its services: what a slot grid is computed from. */
export interface Calendar {
  provider: ProviderRow;
  service: ServiceRow;
}

/** One local day of a service's grid. `free` ascending, epoch ms; `total` counts the grid's slots with nothing booked. */
export interface DayEntry {
  total: number;
  free: Slot[];
}

// ---- local days in the provider's zone

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** [start, end) of a local date in the zone, epoch ms (23 or 25 hours long on DST days). */
export function dayBounds(timeZone: string, date: string): { start: number; end: number } {
  const start = DateTime.fromISO(date, { zone: timeZone }).startOf('day');
  return { start: start.toMillis(), end: start.plus({ days: 1 }).toMillis() };
}

/** The local date of an instant in the zone. */
export const localDate = (timeZone: string, t: number): string => DateTime.fromMillis(t, { zone: timeZone }).toISODate()!;

/** The local dates whose days meet [from, to), in order. */
export function localDatesBetween(timeZone: string, from: number, to: number): string[] {
  const dates: string[] = [];
  let day = DateTime.fromMillis(from, { zone: timeZone }).startOf('day');
  while (day.toMillis() < to) {
    dates.push(day.toISODate()!);
    day = day.plus({ days: 1 });
  }
  return dates;
}

/** The seven local dates (Monday first) of the ISO week holding `date`. */
export function weekOf(date: string): string[] {
  const monday = DateTime.fromISO(date, { zone: 'UTC' }).startOf('week');
  return Array.from({ length: 7 }, (_, i) => monday.plus({ days: i }).toISODate()!);
}

export const isIsoDate = (date: string): boolean => ISO_DATE.test(date) && DateTime.fromISO(date, { zone: 'UTC' }).isValid;

// ---- the cache

/**
 * What a grid depends on besides the bookings: a change of hours, exceptions, zone, duration or buffer makes a
 * new key even if the writer forgot to bump the version.
 */
function gridInputs({ provider, service }: Calendar): string {
  const inputs = JSON.stringify([provider.time_zone, provider.weekly_hours, provider.exceptions, service.duration_minutes, service.buffer_minutes]);
  return createHash('sha1').update(inputs).digest('base64url').slice(0, 12);
}

/** The provider's held/confirmed intervals meeting [from, to): one query on the exclusion constraint's gist index. */
async function busyIntervals(db: Db, providerId: string, from: number, to: number): Promise<{ start: number; end: number }[]> {
  const rows = (await db('bookings')
    .where('provider_id', providerId)
    .whereIn('status', ['held', 'confirmed'])
    .whereRaw(`blocked && tstzrange(?, ?, '[)')`, [new Date(from), new Date(to)])
    .select(db.raw('lower(blocked) AS s, upper(blocked) AS e'))) as { s: Date; e: Date }[];
  return rows.map((r) => ({ start: r.s.getTime(), end: r.e.getTime() }));
}

function computeDays(cal: Calendar, dates: string[], busy: { start: number; end: number }[]): DayEntry[] {
  const { provider, service } = cal;
  return dates.map((date) => {
    const { start, end } = dayBounds(provider.time_zone, date);
    const grid = { timeZone: provider.time_zone, weekly: provider.weekly_hours, exceptions: provider.exceptions, durationMinutes: service.duration_minutes, bufferMinutes: service.buffer_minutes, from: start, to: end };
    return { total: computeSlots({ ...grid, busy: [] }).length, free: computeSlots({ ...grid, busy }) };
  });
}

function parseEntry(raw: string | null): DayEntry | undefined {
  if (raw === null) return undefined;
  try {
    const [total, starts, ends] = JSON.parse(raw) as [number, number[], number[]];
    return { total, free: starts.map((start, i) => ({ start, end: ends[i]! })) };
  } catch {
    return undefined;
  }
}

const serializeEntry = (e: DayEntry) => JSON.stringify([e.total, e.free.map((s) => s.start), e.free.map((s) => s.end)]);

/**
 * The service's grid on each of these local dates (cached days from Redis, the rest computed from one query
 * of the provider's bookings and stored). A Redis failure is logged and the days are computed from Postgres.
 */
export async function slotDays(deps: { db: Db; redis: RedisClient; logger?: Logger }, cal: Calendar, dates: string[]): Promise<Map<string, DayEntry>> {
  const days = new Map<string, DayEntry>();
  if (dates.length === 0) return days;
  const inputs = gridInputs(cal);
  let keys: string[] | undefined;
  try {
    // The version first, then the day keys: an entry is only ever read under the version it was stored with.
    const version = (await redisWithin(deps.redis.get(versionKey(cal.provider.id)), REDIS_TIMEOUT_MS, 'calendar version')) ?? '0';
    keys = dates.map((d) => dayKey(cal.service, inputs, version, d));
    const cached = await redisWithin(deps.redis.mget(...keys), REDIS_TIMEOUT_MS, 'slot days');
    cached.forEach((raw, i) => {
      const entry = parseEntry(raw);
      if (entry) days.set(dates[i]!, entry);
    });
  } catch (err) {
    keys = undefined;
    deps.logger?.warn({ err, providerId: cal.provider.id }, 'slot cache unavailable; computing slots from Postgres');
  }

  const missing = dates.filter((d) => !days.has(d));
  if (missing.length === 0) return days;
  const first = dayBounds(cal.provider.time_zone, missing[0]!).start;
  const last = dayBounds(cal.provider.time_zone, missing[missing.length - 1]!).end;
  // A booking starting just after the last day can still block that day's last slot through the slot's buffer.
  const busy = await busyIntervals(deps.db, cal.provider.id, first, last + cal.service.buffer_minutes * 60_000);
  const computed = computeDays(cal, missing, busy);
  missing.forEach((d, i) => days.set(d, computed[i]!));

  if (keys) {
    const pipeline = deps.redis.pipeline();
    for (const [i, d] of missing.entries()) pipeline.set(keys[dates.indexOf(d)]!, serializeEntry(computed[i]!), 'EX', SLOT_CACHE_TTL_SECONDS);
    try {
      await redisWithin(pipeline.exec(), REDIS_TIMEOUT_MS, 'slot days store');
    } catch (err) {
      deps.logger?.warn({ err, providerId: cal.provider.id }, 'slot cache not filled');
    }
  }
  return days;
}
