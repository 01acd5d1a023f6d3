import { cursorTimeSql, decodeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { sideOf } from './bookingOutcomes';
import { managedProvider, renderProviderSummary, type ProviderSummary } from './providers';
import { bookingFromRow, type BookingRow, type ProviderRow } from './rows';

/**
 * Bookings as the API shows them: one booking with its status history (its customer, its provider's owner and
 * operators; anyone else gets the 404 an unknown id gets), and the customer's and the provider's lists, newest
 * start first, by status and start range, with keyset cursors. Holds (held, expired, released) are not bookings
 * and never listed.
 */

export const BOOKING_LIST_STATUSES = ['confirmed', 'completed', 'cancelled', 'no_show'] as const;
export type ListedBookingStatus = (typeof BOOKING_LIST_STATUSES)[number];

export interface BookingServiceJson {
  id: string;
  title: string;
  category: string;
  duration_minutes: number;
  buffer_minutes: number;
}

export interface BookingJson {
  id: string;
  status: string;
  start: string;
  end: string;
  price_cents: number;
  currency: string;
  customer_id: string;
  service: BookingServiceJson;
  provider: ProviderSummary;
  policy: BookingRow['policy'];
  refund_cents: number;
  fee_cents: number;
  captured_cents: number;
  cancelled_by: string | null;
  notes: string;
  created_at: string;
  ended_at: string | null;
}

export interface StatusHistoryJson {
  status: string;
  at: string;
  actor: string;
  detail: Record<string, unknown>;
}

type ServiceColumns = { s_id: string; s_title: string; s_category: string; s_duration_minutes: number; s_buffer_minutes: number };
const SERVICE_COLUMNS = ['s.id as s_id', 's.title as s_title', 's.category as s_category', 's.duration_minutes as s_duration_minutes', 's.buffer_minutes as s_buffer_minutes'];

// The service as a booking shows it (rendered here: the services module has no summary renderer of its own yet).
const serviceJson = (r: ServiceColumns): BookingServiceJson => ({
  id: r.s_id,
  title: r.s_title,
  category: r.s_category,
  duration_minutes: r.s_duration_minutes,
  buffer_minutes: r.s_buffer_minutes,
});

function bookingJson(b: BookingRow, service: BookingServiceJson, provider: ProviderSummary): BookingJson {
  return {
    id: b.id,
    status: b.status,
    start: b.starts_at.toISOString(),
    end: b.ends_at.toISOString(),
    price_cents: b.price_cents,
    currency: b.currency,
    customer_id: b.customer_id,
    service,
    provider,
    policy: b.policy,
    refund_cents: b.refund_cents,
    fee_cents: b.fee_cents,
    captured_cents: b.captured_cents,
    cancelled_by: b.cancelled_by,
    notes: b.notes,
    created_at: b.created_at.toISOString(),
    ended_at: b.ended_at ? b.ended_at.toISOString() : null,
  };
}

async function providersById(db: Db, ids: string[]): Promise<Map<string, ProviderSummary>> {
  const rows = (await db('providers').whereIn('id', [...new Set(ids)]).select('*')) as ProviderRow[];
  return new Map(rows.map((p) => [p.id, renderProviderSummary(p)]));
}

async function statusHistory(db: Db, bookingId: string): Promise<StatusHistoryJson[]> {
  const rows = (await db('booking_status_history').where({ booking_id: bookingId }).orderBy('id').select('status', 'actor', 'detail', 'created_at')) as Array<{
    status: string;
    actor: string;
    detail: Record<string, unknown>;
    created_at: Date;
  }>;
  return rows.map((h) => ({ status: h.status, at: h.created_at.toISOString(), actor: h.actor, detail: h.detail }));
}

/** A booking with its status history (it must exist). */
export async function bookingView(db: Db, bookingId: string): Promise<BookingJson & { status_history: StatusHistoryJson[] }> {
  const row = (await db('bookings as b').join('services as s', 's.id', 'b.service_id').where('b.id', bookingId).first('b.*', ...SERVICE_COLUMNS)) as Record<string, unknown> &
    ServiceColumns;
  const b = bookingFromRow(row);
  const providers = await providersById(db, [b.provider_id]);
  return { ...bookingJson(b, serviceJson(row), providers.get(b.provider_id)!), status_history: await statusHistory(db, bookingId) };
}

/** The booking for its customer, its provider's owner or an operator; a hold, or anyone else: 404. */
export async function bookingFor(db: Db, bookingId: string, caller: Principal) {
  const p = (await db('bookings as b')
    .join('providers as p', 'p.id', 'b.provider_id')
    .where('b.id', bookingId)
    .whereIn('b.status', BOOKING_LIST_STATUSES)
    .first('b.customer_id', 'p.user_id as provider_user_id')) as { customer_id: string; provider_user_id: string } | undefined;
  if (!p || !sideOf(caller, p)) throw refusals.notFound('booking');
  return bookingView(db, bookingId);
}

export interface BookingListQuery {
  status?: ListedBookingStatus;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

const invalidCursor = () => refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);

async function listBookings(db: Db, scope: { customerId: string } | { providerId: string }, query: BookingListQuery) {
  if (query.from && query.to && Date.parse(query.from) >= Date.parse(query.to)) {
    throw refusals.invalid([{ path: 'query.to', message: '`to` must be after `from`.' }]);
  }
  const q = db('bookings as b')
    .join('services as s', 's.id', 'b.service_id')
    .select('b.*', ...SERVICE_COLUMNS, db.raw(`${cursorTimeSql('b.starts_at')} AS cursor_time`));
  if ('customerId' in scope) q.where('b.customer_id', scope.customerId);
  else q.where('b.provider_id', scope.providerId);
  if (query.status) q.where('b.status', query.status);
  else q.whereIn('b.status', BOOKING_LIST_STATUSES);
  if (query.from) q.where('b.starts_at', '>=', query.from);
  if (query.to) q.where('b.starts_at', '<', query.to);
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    if (!after) throw invalidCursor();
    q.whereRaw('(b.starts_at, b.id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'b.starts_at', order: 'desc' }, { column: 'b.id', order: 'desc' }]).limit(query.limit + 1)) as Array<
    Record<string, unknown> & ServiceColumns & { cursor_time: string; id: string }
  >;
  const page = keysetPage(rows, query.limit);
  const providers = await providersById(db, page.rows.map((r) => r.provider_id as string));
  return {
    data: page.rows.map((r) => {
      const b = bookingFromRow(r);
      return bookingJson(b, serviceJson(r), providers.get(b.provider_id)!);
    }),
    next_cursor: page.nextCursor,
  };
}

/** The caller's own bookings (as customer). */
export const listMyBookings = (db: Db, caller: Principal, query: BookingListQuery) => listBookings(db, { customerId: caller.id }, query);

/** A provider's bookings: its owner and operators only (404 otherwise, as for an unknown provider). */
export async function listProviderBookings(db: Db, caller: Principal, providerId: string, query: BookingListQuery) {
  const provider = await managedProvider(db, providerId, caller);
  return listBookings(db, { providerId: provider.id }, query);
}
