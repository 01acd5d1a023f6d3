import type { Knex } from 'knex';
import type { CancellationPolicy } from '../domain/cancellationPolicy';
import type { DateException, WeeklyHours } from '../domain/slots';
import type { BookingStatus, ProviderStatus } from './contract';

/**
 * The bookings domain's rows as services read them (migrations/20261204_01_bookings.ts) and their loaders.
 * Money columns are bigint in Postgres; pg returns them as strings, so the loaders give numbers.
 */

// Availability and policy shapes are pure-rule types (src/domain); re-exported for the loaders' users.
export type { CancellationPolicy, DateException, WeeklyHours };

export interface ProviderRow {
  id: string;
  user_id: string;
  display_name: string;
  bio: string;
  categories: string[];
  time_zone: string;
  lat: number;
  lng: number;
  city: string;
  country: string;
  service_radius_km: number | null;
  status: ProviderStatus;
  rejection_reason: string | null;
  payout_account_id: string | null;
  payout_status: 'missing' | 'pending' | 'ready';
  weekly_hours: WeeklyHours[];
  exceptions: DateException[];
  rating_count: number;
  rating_sum: number;
  completed_count: number;
  approved_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ServiceRow {
  id: string;
  provider_id: string;
  title: string;
  description: string;
  category: string;
  duration_minutes: number;
  buffer_minutes: number;
  base_price_cents: number;
  currency: string;
  free_until_hours: number;
  late_fee_percent: number;
  no_show_fee_percent: number;
  active: boolean;
  created_at: Date;
}

export interface BookingRow {
  id: string;
  service_id: string;
  provider_id: string;
  customer_id: string;
  status: BookingStatus;
  starts_at: Date;
  ends_at: Date;
  buffer_minutes: number;
  hold_expires_at: Date;
  price_cents: number;
  currency: string;
  quote: Record<string, unknown>;
  policy: CancellationPolicy;
  payment_method: string | null;
  notes: string;
  captured_cents: number;
  refund_cents: number;
  fee_cents: number;
  cancelled_by: 'customer' | 'provider' | 'operator' | null;
  moved_booking_id: string | null;
  confirmed_at: Date | null;
  ended_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

type Queryable = Knex | Knex.Transaction;

const PROVIDER_COLUMNS = [
  'id', 'user_id', 'display_name', 'bio', 'categories', 'time_zone', 'lat', 'lng', 'city', 'country', 'service_radius_km', 'status',
  'rejection_reason', 'payout_account_id', 'payout_status', 'weekly_hours', 'exceptions', 'rating_count', 'rating_sum',
  'completed_count', 'approved_at', 'created_at', 'updated_at',
];

export async function loadProvider(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<ProviderRow | undefined> {
  const q = db('providers').where({ id }).first(PROVIDER_COLUMNS);
  return (await (opts.forUpdate ? q.forUpdate() : q)) as ProviderRow | undefined;
}

export async function loadProviderOfUser(db: Queryable, userId: string): Promise<ProviderRow | undefined> {
  return (await db('providers').where({ user_id: userId }).first(PROVIDER_COLUMNS)) as ProviderRow | undefined;
}

export const serviceFromRow = (row: Record<string, unknown>): ServiceRow => ({ ...(row as unknown as ServiceRow), base_price_cents: Number(row.base_price_cents) });

export async function loadService(db: Queryable, id: string): Promise<ServiceRow | undefined> {
  const row = await db('services').where({ id }).first();
  return row ? serviceFromRow(row) : undefined;
}

export const bookingFromRow = (row: Record<string, unknown>): BookingRow => ({
  ...(row as unknown as BookingRow),
  price_cents: Number(row.price_cents),
  captured_cents: Number(row.captured_cents),
  refund_cents: Number(row.refund_cents),
  fee_cents: Number(row.fee_cents),
});

export async function loadBooking(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<BookingRow | undefined> {
  const q = db('bookings').where({ id }).first();
  const row = await (opts.forUpdate ? q.forUpdate() : q);
  return row ? bookingFromRow(row) : undefined;
}

/** The policy frozen with a booking: the service's terms at the moment of booking. */
export const policyOf = (service: ServiceRow): CancellationPolicy => ({
  free_until_hours: service.free_until_hours,
  late_fee_percent: service.late_fee_percent,
  no_show_fee_percent: service.no_show_fee_percent,
});

/** One status_history line, in the caller's transaction. */
export async function recordBookingStatus(db: Queryable, bookingId: string, status: string, actor: string, detail: Record<string, unknown> = {}): Promise<void> {
  await db('booking_status_history').insert({ booking_id: bookingId, status, actor, detail: JSON.stringify(detail) });
}
