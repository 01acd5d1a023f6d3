import type { Knex } from 'knex';
import type { BookingStatus } from './contract';

/**
 * What every booking notification carries (the email templates read it, src/notifications/email/templates.ts):
 * `{booking_id, service_title, start, time_zone, price_cents, currency}`, plus who to tell.
 */
export interface BookingNoticeData {
  status: BookingStatus;
  customerId: string;
  providerUserId: string;
  providerName: string;
  row: { booking_id: string; service_title: string; start: string; time_zone: string; price_cents: number; currency: string };
}

export async function bookingNoticeData(db: Knex | Knex.Transaction, bookingId: string, opts: { forShare?: boolean } = {}): Promise<BookingNoticeData | undefined> {
  const q = db('bookings as b')
    .join('services as s', 's.id', 'b.service_id')
    .join('providers as p', 'p.id', 'b.provider_id')
    .where('b.id', bookingId)
    .first('b.status', 'b.customer_id', 'b.starts_at', 'b.price_cents', 'b.currency', 's.title', 'p.user_id', 'p.display_name', 'p.time_zone');
  const r = (await (opts.forShare ? q.forShare('b') : q)) as
    | { status: BookingStatus; customer_id: string; starts_at: Date; price_cents: string | number; currency: string; title: string; user_id: string; display_name: string; time_zone: string }
    | undefined;
  if (!r) return undefined;
  return {
    status: r.status,
    customerId: r.customer_id,
    providerUserId: r.user_id,
    providerName: r.display_name,
    row: { booking_id: bookingId, service_title: r.title, start: r.starts_at.toISOString(), time_zone: r.time_zone, price_cents: Number(r.price_cents), currency: r.currency },
  };
}
