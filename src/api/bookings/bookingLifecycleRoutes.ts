import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { longText, text } from '../http/text';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { endBookingFor, type Outcome } from '../../bookings/bookingOutcomes';
import { BOOKING_LIST_STATUSES, bookingFor, bookingView, listMyBookings, listProviderBookings } from '../../bookings/bookingViews';
import { giveFeedback, listReviews } from '../../bookings/feedback';
import { ProviderSummarySchema, ServiceSchema } from './providerRoutes';

/**
 * A booking once confirmed (API.md, "Service bookings"): reading it (its customer, its provider's owner, operators;
 * anyone else 404), the customer's and the provider's lists, cancellation by either side under the policy frozen at
 * booking, the provider's completion and no-show, and feedback. The outcome routes decide once
 * (src/bookings/bookingOutcomes.ts): a second outcome, or one racing the first, is a 409 naming the current status.
 * Holds, booking and moves are bookingRoutes.ts.
 */

const described = (description: string) => ({ description });

const bookingFields = {
  id: z.uuid(),
  status: z.enum(BOOKING_LIST_STATUSES),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  price_cents: z.number().int(),
  currency: z.string(),
  customer_id: z.uuid(),
  customer_name: z.string().openapi({ description: "The customer's name, so the provider knows who is coming" }),
  service: ServiceSchema,
  provider: ProviderSummarySchema,
  policy: z
    .object({ free_until_hours: z.number().int(), late_fee_percent: z.number().int(), no_show_fee_percent: z.number().int() })
    .openapi({ description: 'The cancellation terms frozen at booking' }),
  refund_cents: z.number().int().openapi({ description: 'What the outcome gave back (released or voided)' }),
  fee_cents: z.number().int().openapi({ description: 'What a late cancellation or a no-show kept' }),
  captured_cents: z.number().int().openapi({ description: 'What was actually taken from the card' }),
  cancelled_by: z.enum(['customer', 'provider', 'operator', 'system']).nullable(),
  notes: z.string(),
  created_at: z.iso.datetime(),
  ended_at: z.iso.datetime().nullable(),
};

const BookingListItemSchema = z.object(bookingFields).openapi('Booking');
const BookingSchema = z
  .object({
    ...bookingFields,
    status_history: z.array(z.object({ status: z.string(), at: z.iso.datetime(), actor: z.string(), detail: z.record(z.string(), z.unknown()) })),
  })
  .openapi('BookingWithHistory');
const BookingListSchema = z.object({ data: z.array(BookingListItemSchema), next_cursor: z.string().nullable() }).openapi('BookingList');

const ListQuery = z.object({
  status: z.enum(BOOKING_LIST_STATUSES).optional(),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Bookings starting at or after this instant' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Bookings starting before this instant' }),
  ...pageQuery,
});

const CancelBody = z.strictObject({ reason: text(1, 500).optional() }).openapi('CancelBookingRequest');

const FeedbackBody = z
  .strictObject({
    booking_id: z.uuid(),
    rating: z.number().int().min(1).max(5),
    comment: longText(5_000).optional(),
  })
  .openapi('FeedbackRequest');

const ReviewSchema = z
  .object({
    id: z.uuid(),
    booking_id: z.uuid(),
    provider_id: z.uuid(),
    rating: z.number().int(),
    comment: z.string(),
    customer_name: z.string(),
    created_at: z.iso.datetime(),
  })
  .openapi('Review');
const ReviewListSchema = z.object({ data: z.array(ReviewSchema), next_cursor: z.string().nullable() }).openapi('ReviewList');

const OUTCOME_ROUTES: Array<{ path: string; to: Outcome; operationId: string; summary: string; extra: Record<number, { description: string }> }> = [
  {
    path: '/v1/bookings/{id}/cancel',
    to: 'cancelled',
    operationId: 'cancelBooking',
    summary: 'Cancel a confirmed booking (customer, provider or operator): the frozen policy decides fee and refund',
    extra: { 409: described('`booking_not_cancellable`: the booking is no longer confirmed (`current_status` says what it is)') },
  },
  {
    path: '/v1/bookings/{id}/complete',
    to: 'completed',
    operationId: 'completeBooking',
    summary: 'Mark a booking completed after its start (provider or operator): the price is captured',
    extra: {
      403: described('The customer may not complete their own booking'),
      409: described('`illegal_transition` with `from`, `to` and `current_status`: the booking is no longer confirmed'),
      422: described('`booking_not_started`'),
    },
  },
  {
    path: '/v1/bookings/{id}/no-show',
    to: 'no_show',
    operationId: 'markBookingNoShow',
    summary: 'Mark the customer a no-show after the start (provider or operator): the no-show fee is captured, the rest released',
    extra: {
      403: described('The customer may not mark their own booking'),
      409: described('`illegal_transition` with `from`, `to` and `current_status`: the booking is no longer confirmed'),
      422: described('`booking_not_started`'),
    },
  },
];

export function registerBookingLifecycleRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/bookings/{id}',
      operationId: 'getBooking',
      summary: 'A booking with its status history (its customer, the provider’s owner or an operator)',
      tags: ['bookings'],
      auth: 'user',
      params: uuidParam(),
      responses: { 200: { description: 'The booking', schema: BookingSchema }, 404: described('No such booking, or not yours') },
    },
    async ({ params, principal }) => ({ status: 200, body: await bookingFor(db, params.id, requirePrincipal(principal)) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/bookings',
      operationId: 'listMyBookings',
      summary: 'Your bookings as a customer, latest start first, by status and start range',
      tags: ['bookings'],
      auth: 'user',
      query: ListQuery,
      responses: { 200: { description: 'A page of bookings', schema: BookingListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyBookings(db, requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/providers/{id}/bookings',
      operationId: 'listProviderBookings',
      summary: 'A provider’s bookings (its owner or an operator), latest start first, by status and start range',
      tags: ['bookings'],
      auth: 'user',
      params: uuidParam(),
      query: ListQuery,
      responses: { 200: { description: 'A page of bookings', schema: BookingListSchema }, 404: described('No such provider, or not yours') },
    },
    async ({ params, query, principal }) => ({ status: 200, body: await listProviderBookings(db, requirePrincipal(principal), params.id, query) }),
  );

  for (const r of OUTCOME_ROUTES) {
    api.route(
      {
        method: 'post',
        path: r.path,
        operationId: r.operationId,
        summary: r.summary,
        tags: ['bookings'],
        auth: 'user',
        params: uuidParam(),
        ...(r.to === 'cancelled' ? { body: CancelBody } : {}),
        responses: { 200: { description: 'The booking, ended', schema: BookingSchema }, 404: described('No such booking, or not yours'), ...r.extra },
      },
      async ({ params, body, principal }) => {
        const reason = (body as z.infer<typeof CancelBody> | undefined)?.reason;
        await endBookingFor(deps, requirePrincipal(principal), { bookingId: params.id, to: r.to, reason });
        return { status: 200, body: await bookingView(db, params.id) };
      },
    );
  }

  api.route(
    {
      method: 'post',
      path: '/v1/feedback',
      operationId: 'giveFeedback',
      summary: 'Rate a completed booking (its customer, once)',
      tags: ['bookings'],
      auth: 'user',
      body: FeedbackBody,
      responses: {
        201: { description: 'The review', schema: ReviewSchema },
        404: described('No such booking, or not yours'),
        409: described('`feedback_exists`'),
        422: described('`booking_not_completed`'),
      },
    },
    async ({ body, principal }) => ({ status: 201, body: await giveFeedback(db, requirePrincipal(principal), body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/providers/{id}/reviews',
      operationId: 'listProviderReviews',
      summary: 'A provider’s reviews, newest first',
      tags: ['bookings'],
      auth: 'optional',
      params: uuidParam(),
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of reviews', schema: ReviewListSchema }, 404: described('No such provider') },
    },
    async ({ params, query, principal }) => ({ status: 200, body: await listReviews(db, params.id, principal, query) }),
  );
}
