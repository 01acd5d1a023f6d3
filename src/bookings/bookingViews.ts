import { cursorTimeSql, decodeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { sideOf } from './bookingOutcomes';
import { managedProvider, renderProviderSummary, type ProviderSummary } from './providers';
import { renderService, type ServiceJson } from './services';
import { bookingFromRow, loadBooking, serviceFromRow, type BookingRow, type ProviderRow } from './rows';

/**
 * Bookings as the API shows them: one booking with its status history (its customer, its provider's owner and
 * operators; anyone else gets the 404 an unknown id gets), and the customer's and the provider's lists, newest
 * start first, by status and start range, with keyset cursors. Holds (held, expired, released) are not bookings
 * and never listed.
 */

export const BOOKING_LIST_STATUSES = ['confirmed', 'completed', 'cancelled', 'no_show'] as const;
export type ListedBookingStatus = (typeof BOOKING_LIST_STATUSES)[number];

export interface BookingJson {
  id: string;
  status: string;
  start: string;
  end: string;
  price_cents: number;
  currency: string;
  customer_id: string;
  customer_name: string;
  service: ServiceJson;
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

function bookingJson(b: BookingRow, customerName: string, service: ServiceJson, provider: ProviderSummary): BookingJson {
  return {
    id: b.id,
    status: b.status,
    start: b.starts_at.toISOString(),
    end: b.ends_at.toISOString(),
    price_cents: b.price_cents,
    currency: b.currency,
    customer_id: b.customer_id,
    customer_name: customerName,
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

/** The customers' names, services and providers of some bookings (the provider needs to know who is coming). */
async function partsOf(db: Db, bookings: BookingRow[]) {
  const ids = (key: 'customer_id' | 'service_id' | 'provider_id') => [...new Set(bookings.map((b) => b[key]))];
  // Three independent reads, sent together.
  const [customers, serviceRows, providers] = await Promise.all([
    db('users').whereIn('id', ids('customer_id')).select('id', 'name') as Promise<Array<{ id: string; name: string }>>,
    db('services').whereIn('id', ids('service_id')).select('*'),
    db('providers').whereIn('id', ids('provider_id')).select('*') as Promise<ProviderRow[]>,
  ]);
  const nameById = new Map(customers.map((c) => [c.id, c.name]));
  const services = serviceRows.map(serviceFromRow);
  const serviceById = new Map(services.map((x) => [x.id, renderService(x)]));
  const providerById = new Map(providers.map((p) => [p.id, renderProviderSummary(p)]));
  return (b: BookingRow) => bookingJson(b, nameById.get(b.customer_id) ?? '', serviceById.get(b.service_id)!, providerById.get(b.provider_id)!);
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
  const b = (await loadBooking(db, bookingId))!;
  return { ...(await partsOf(db, [b]))(b), status_history: await statusHistory(db, bookingId) };
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
  const q = db('bookings as b').select('b.*', db.raw(`${cursorTimeSql('b.starts_at')} AS cursor_time`));
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
    Record<string, unknown> & { cursor_time: string; id: string }
  >;
  const page = keysetPage(rows, query.limit);
  const bookings = page.rows.map(bookingFromRow);
  const render = await partsOf(db, bookings);
  return { data: bookings.map(render), next_cursor: page.nextCursor };
}

/** The caller's own bookings (as customer). */
export const listMyBookings = (db: Db, caller: Principal, query: BookingListQuery) => listBookings(db, { customerId: caller.id }, query);

/** A provider's bookings: its owner and operators only (404 otherwise, as for an unknown provider). */
export async function listProviderBookings(db: Db, caller: Principal, providerId: string, query: BookingListQuery) {
  const provider = await managedProvider(db, providerId, caller);
  return listBookings(db, { providerId: provider.id }, query);
}
