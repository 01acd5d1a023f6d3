import type { AppDeps } from '../../src/api/deps';
import type { DateException, WeeklyHours } from '../../src/bookings/rows';
import { makeUser, type TestUser } from '../helpers/fixtures';

/**
 * Bookings fixtures written straight to the database (the onboarding and approval flows have their own tests):
 * an active provider with weekly hours and one service, ready to be searched, quoted, held and booked.
 */

export interface ProviderSpec {
  displayName?: string;
  categories?: string[];
  timeZone?: string;
  lat?: number;
  lng?: number;
  city?: string;
  country?: string;
  status?: 'pending' | 'active' | 'rejected' | 'expired';
  /** Default: every day 09:00–17:00. */
  weekly?: WeeklyHours[];
  exceptions?: DateException[];
}

export interface ServiceSpec {
  title?: string;
  description?: string;
  category?: string;
  durationMinutes?: number;
  bufferMinutes?: number;
  basePriceCents?: number;
  currency?: string;
  freeUntilHours?: number;
  lateFeePercent?: number;
  noShowFeePercent?: number;
}

export interface TestProvider {
  id: string;
  owner: TestUser;
  timeZone: string;
}

export interface TestService {
  id: string;
  providerId: string;
  durationMinutes: number;
  bufferMinutes: number;
  basePriceCents: number;
  currency: string;
}

export const everyDay = (start = '09:00', end = '17:00'): WeeklyHours[] => [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, start, end }));

export async function makeProvider(deps: Pick<AppDeps, 'config' | 'db'>, spec: ProviderSpec = {}): Promise<TestProvider> {
  const owner = await makeUser(deps, { role: 'provider' });
  const timeZone = spec.timeZone ?? 'Europe/Berlin';
  const [row] = await deps.db('providers')
    .insert({
      user_id: owner.id,
      display_name: spec.displayName ?? `Provider ${owner.id.slice(0, 8)}`,
      categories: spec.categories ?? ['repairs'],
      time_zone: timeZone,
      lat: spec.lat ?? 52.52,
      lng: spec.lng ?? 13.405,
      city: spec.city ?? 'Berlin',
      country: spec.country ?? 'DE',
      status: spec.status ?? 'active',
      approved_at: (spec.status ?? 'active') === 'active' ? new Date() : null,
      weekly_hours: JSON.stringify(spec.weekly ?? everyDay()),
      exceptions: JSON.stringify(spec.exceptions ?? []),
    })
    .returning(['id']);
  return { id: row.id, owner, timeZone };
}

export async function makeService(deps: Pick<AppDeps, 'db'>, provider: { id: string }, spec: ServiceSpec = {}): Promise<TestService> {
  const values = {
    provider_id: provider.id,
    title: spec.title ?? 'Bike repair',
    description: spec.description ?? 'Fixing bikes of every kind',
    category: spec.category ?? 'repairs',
    duration_minutes: spec.durationMinutes ?? 60,
    buffer_minutes: spec.bufferMinutes ?? 0,
    base_price_cents: spec.basePriceCents ?? 5_000,
    currency: spec.currency ?? 'EUR',
    free_until_hours: spec.freeUntilHours ?? 24,
    late_fee_percent: spec.lateFeePercent ?? 50,
    no_show_fee_percent: spec.noShowFeePercent ?? 100,
  };
  const [row] = await deps.db('services').insert(values).returning(['id']);
  return { id: row.id, providerId: provider.id, durationMinutes: values.duration_minutes, bufferMinutes: values.buffer_minutes, basePriceCents: values.base_price_cents, currency: values.currency };
}
