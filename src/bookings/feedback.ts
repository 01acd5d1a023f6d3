import type { Knex } from 'knex';
import { cursorTimeSql, decodeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { visibleProvider } from './providers';

/**
 * Feedback: one rating (1-5) and comment per completed booking, by its customer. The review row and the provider's
 * aggregates (rating_sum, rating_count) are written in one transaction; UNIQUE(booking_id) is the once-only gate,
 * so of two concurrent submissions one is stored and the other answered 409 `feedback_exists`.
 */

export interface ReviewJson {
  id: string;
  booking_id: string;
  provider_id: string;
  rating: number;
  comment: string;
  /** The reviewer as the public sees them: a first name only. */
  customer_name: string;
  created_at: string;
}

interface ReviewRow {
  id: string;
  booking_id: string;
  provider_id: string;
  rating: number;
  comment: string;
  created_at: Date;
  customer_name: string;
}

const firstName = (name: string) => name.trim().split(/\s+/)[0] ?? '';

const reviewJson = (r: ReviewRow): ReviewJson => ({
  id: r.id,
  booking_id: r.booking_id,
  provider_id: r.provider_id,
  rating: r.rating,
  comment: r.comment,
  customer_name: firstName(r.customer_name),
  created_at: r.created_at.toISOString(),
});

export interface NewFeedback {
  booking_id: string;
  rating: number;
  comment?: string;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

/** Stores the customer's review of their completed booking and counts it in the provider's rating. */
export async function giveFeedback(db: Db, caller: Principal, input: NewFeedback): Promise<ReviewJson> {
  try {
    return await db.transaction(async (trx: Knex.Transaction) => {
      // Shared lock: the booking cannot change status under the review (nothing moves a completed one anyway).
      const booking = (await trx('bookings').where({ id: input.booking_id }).forShare().first('id', 'customer_id', 'provider_id', 'status')) as
        | { id: string; customer_id: string; provider_id: string; status: string }
        | undefined;
      if (!booking || booking.customer_id !== caller.id) throw refusals.notFound('booking');
      if (booking.status !== 'completed') {
        throw refusals.unprocessable('booking_not_completed', `The booking is ${booking.status}; feedback can be given once it is completed.`, { current_status: booking.status });
      }
      const [review] = (await trx('reviews')
        .insert({ booking_id: booking.id, provider_id: booking.provider_id, customer_id: caller.id, rating: input.rating, comment: input.comment ?? '' })
        .onConflict('booking_id')
        .ignore()
        .returning(['id', 'booking_id', 'provider_id', 'rating', 'comment', 'created_at'])) as Array<Omit<ReviewRow, 'customer_name'>>;
      if (!review) throw feedbackExists();
      await trx('providers')
        .where({ id: booking.provider_id })
        .update({ rating_sum: trx.raw('rating_sum + ?', [input.rating]), rating_count: trx.raw('rating_count + 1'), updated_at: trx.fn.now() });
      const { name } = (await trx('users').where({ id: caller.id }).first('name')) as { name: string };
      return reviewJson({ ...review, customer_name: name });
    });
  } catch (err) {
    // ON CONFLICT covers the committed case; a concurrent insert still in flight surfaces as the violation itself.
    if (isUniqueViolation(err)) throw feedbackExists();
    throw err;
  }
}

const feedbackExists = () => refusals.conflict('feedback_exists', 'This booking has feedback already; it can be given once.');

/** A provider's reviews, newest first (the provider must be visible to the caller, as its page is). */
export async function listReviews(db: Db, providerId: string, viewer: Principal | undefined, query: { limit: number; cursor?: string }) {
  const provider = await visibleProvider(db, providerId, viewer);
  const q = db('reviews as r')
    .join('users as u', 'u.id', 'r.customer_id')
    .where('r.provider_id', provider.id)
    .select('r.id', 'r.booking_id', 'r.provider_id', 'r.rating', 'r.comment', 'r.created_at', 'u.name as customer_name', db.raw(`${cursorTimeSql('r.created_at')} AS cursor_time`));
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    if (!after) throw refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
    q.whereRaw('(r.created_at, r.id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'r.created_at', order: 'desc' }, { column: 'r.id', order: 'desc' }]).limit(query.limit + 1)) as Array<ReviewRow & { cursor_time: string }>;
  const page = keysetPage(rows, query.limit);
  return { data: page.rows.map(reviewJson), next_cursor: page.nextCursor };
}
