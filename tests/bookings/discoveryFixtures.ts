import { DateTime } from 'luxon';
import type { AppDeps } from '../../src/api/deps';
import { makeUser } from '../helpers/fixtures';
import type { TestService } from './fixtures';

/**
 * Discovery tests' helpers: local times in a provider's zone, and rows that keep a provider busy, written
 * straight to `bookings` (the hold and booking routes have their own tests). Writing a row does not invalidate
 * the slot cache: tests that listed slots before call providerCalendarChanged, as the booking paths do.
 */

/** The local date `days` from today in the zone, YYYY-MM-DD. */
export const dateAhead = (zone: string, days: number): string => DateTime.now().setZone(zone).plus({ days }).toISODate()!;

/** A local wall time on a local date in the zone, epoch ms. */
export const localTime = (zone: string, date: string, hhmm: string): number => DateTime.fromISO(`${date}T${hhmm}`, { zone }).toMillis();

/** The local "HH:mm" of an instant (ISO string) in the zone. */
export const hhmm = (zone: string, iso: string): string => DateTime.fromISO(iso, { zone }).toFormat('HH:mm');

export interface BusySpec {
  status?: 'held' | 'confirmed' | 'cancelled' | 'completed' | 'expired';
  /** Default: the service's duration and buffer. */
  minutes?: number;
  bufferMinutes?: number;
}

/** A bookings row of `service` from `start` (epoch ms), blocking [start, end + buffer) when held or confirmed. */
export async function occupy(deps: Pick<AppDeps, 'config' | 'db'>, service: TestService, start: number, spec: BusySpec = {}): Promise<string> {
  const customer = await makeUser(deps);
  const end = start + (spec.minutes ?? service.durationMinutes) * 60_000;
  const buffer = spec.bufferMinutes ?? service.bufferMinutes;
  const [row] = await deps.db('bookings')
    .insert({
      service_id: service.id,
      provider_id: service.providerId,
      customer_id: customer.id,
      status: spec.status ?? 'confirmed',
      starts_at: new Date(start),
      ends_at: new Date(end),
      buffer_minutes: buffer,
      blocked: deps.db.raw(`tstzrange(?, ?, '[)')`, [new Date(start), new Date(end + buffer * 60_000)]),
      hold_expires_at: new Date(Date.now() + 300_000),
      price_cents: service.basePriceCents,
      currency: service.currency,
      quote: JSON.stringify({}),
      policy: JSON.stringify({ free_until_hours: 24, late_fee_percent: 50, no_show_fee_percent: 100 }),
    })
    .returning(['id']);
  return row.id as string;
}
