import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { validateAvailability, type DateException, type WeeklyHours } from '../domain/slots';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { providerCalendarChanged } from './availabilityCache';
import { managedProvider, visibleProvider } from './providers';
import type { ProviderRow } from './rows';

/**
 * A provider's opening hours: weekly ranges and date exceptions in the provider's own time zone (slots are
 * computed from them in src/domain/slots.ts). A change replaces both lists and makes every cached slot day of
 * the provider stale at once.
 */

export interface AvailabilityJson {
  time_zone: string;
  weekly: WeeklyHours[];
  exceptions: DateException[];
}

const availabilityOf = (row: Pick<ProviderRow, 'time_zone' | 'weekly_hours' | 'exceptions'>): AvailabilityJson => ({
  time_zone: row.time_zone,
  weekly: row.weekly_hours,
  exceptions: row.exceptions,
});

/** Sorted as a person reads a week and a calendar: by weekday then start, by date then start. */
const byWeek = (a: WeeklyHours, b: WeeklyHours) => a.weekday - b.weekday || a.start.localeCompare(b.start);
const byDate = (a: DateException, b: DateException) => a.date.localeCompare(b.date) || ('start' in a ? a.start : '').localeCompare('start' in b ? b.start : '');

export async function setAvailability(
  deps: { db: Db; redis: RedisClient; logger?: Logger },
  caller: Principal,
  providerId: string,
  body: { weekly: WeeklyHours[]; exceptions?: DateException[] },
): Promise<AvailabilityJson> {
  const row = await managedProvider(deps.db, providerId, caller);
  const weekly = body.weekly.map(({ weekday, start, end }) => ({ weekday, start, end })).sort(byWeek);
  const exceptions = (body.exceptions ?? [])
    .map((e): DateException => ('closed' in e && e.closed ? { date: e.date, closed: true } : { date: e.date, start: (e as { start: string }).start, end: (e as { end: string }).end }))
    .sort(byDate);
  const errors = validateAvailability(body.weekly, body.exceptions ?? []);
  if (errors.length > 0) throw refusals.invalid(errors.map((e) => ({ ...e, path: `body.${e.path}` })), 'The opening hours are not valid.');
  const [updated] = (await deps.db('providers')
    .where({ id: row.id })
    .update({ weekly_hours: JSON.stringify(weekly), exceptions: JSON.stringify(exceptions), updated_at: deps.db.fn.now() })
    .returning(['time_zone', 'weekly_hours', 'exceptions'])) as Array<Pick<ProviderRow, 'time_zone' | 'weekly_hours' | 'exceptions'>>;
  await providerCalendarChanged(deps, row.id);
  return availabilityOf(updated!);
}

/** Public for active providers; the owner's and operators' only otherwise. */
export async function getAvailability(db: Db, providerId: string, viewer?: Principal): Promise<AvailabilityJson> {
  return availabilityOf(await visibleProvider(db, providerId, viewer));
}
