import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { PaymentMethodToken } from '../http/paymentMethodToken';
import { requirePrincipal } from '../../accounts/authorization';
import { createBookingCreation } from '../../bookings/bookingCreation';
import { createHolds } from '../../bookings/holds';
import { MAX_QUOTE_ID_LENGTH } from '../../bookings/quotes';
import { createBookingMoves } from '../../bookings/reschedule';

/**
 * Holds, booking and moves (API.md, "Service bookings"): a slot held by a signed quote (the row and its
 * `booking:<id>` timer), the booking made from it (Idempotency-Key required), the customer's reschedule onto a new
 * hold, and the operators' move. Every one of them is gated by the bookings_no_overlap exclusion constraint
 * (src/bookings/holds.ts, bookingCreation.ts, reschedule.ts). Reads, cancellation and outcomes are
 * bookingLifecycleRoutes.ts.
 */

const described = (description: string) => ({ description });

const HoldBody = z
  .strictObject({
    service_id: z.uuid(),
    start: z.iso.datetime({ offset: true }),
    quote_id: z.string().min(1).max(MAX_QUOTE_ID_LENGTH).openapi({ description: 'The id of a quote of this service and start (POST /v1/services/{id}/quotes)' }),
  })
  .openapi('HoldRequest');

const BookBody = z
  .strictObject({
    hold_id: z.uuid(),
    payment_method: PaymentMethodToken,
    notes: z.string().max(2_000).optional(),
  })
  .openapi('BookingRequest');

const RescheduleBody = z.strictObject({ hold_id: z.uuid().openapi({ description: 'Your hold on the new slot, of the same service' }) }).openapi('RescheduleRequest');
const MoveBody = z.strictObject({ start: z.iso.datetime({ offset: true }) }).openapi('OperatorMoveRequest');

const STATUSES = ['held', 'confirmed', 'completed', 'cancelled', 'no_show', 'expired', 'released'] as const;

const BookingSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(STATUSES),
    service_id: z.uuid(),
    provider_id: z.uuid(),
    customer_id: z.uuid(),
    start: z.iso.datetime(),
    end: z.iso.datetime(),
    price_cents: z.number().int(),
    currency: z.string(),
    policy: z.object({ free_until_hours: z.number().int(), late_fee_percent: z.number().int(), no_show_fee_percent: z.number().int() }),
    hold_expires_at: z.iso.datetime(),
    payment_method: z.string().nullable(),
    notes: z.string(),
    confirmed_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('BookingSummary');

const HoldSchema = BookingSchema.extend({ expires_at: z.iso.datetime().openapi({ description: 'The slot is held for you until then (SLOT_HOLD_TTL)' }) }).openapi('SlotHold');

export function registerBookingRoutes(api: Api, deps: AppDeps): void {
  const holds = createHolds(deps);
  const creation = createBookingCreation(deps);
  const moves = createBookingMoves(deps);

  api.route(
    {
      method: 'post',
      path: '/v1/bookings/holds',
      operationId: 'holdSlot',
      summary: 'Hold a slot at a quoted price until expires_at (at most 5 live holds per customer)',
      tags: ['bookings'],
      auth: 'user',
      body: HoldBody,
      responses: {
        201: { description: 'Held for you', schema: HoldSchema },
        400: described('Invalid body, a tampered quote, or `quote_mismatch` (quoted for another service)'),
        404: described('No such service, or its provider is not active'),
        409: described('`slot_unavailable` (overlaps a live hold or booking, or no longer offered), `quote_mismatch` (quoted for another start), `too_many_holds`'),
        410: described('`quote_expired`'),
        422: described('`slot_in_past`, `cannot_book_own_service`'),
        503: described('`dependency_unavailable` (temporal): nothing was held; retry'),
      },
    },
    async ({ body, principal }) => {
      const held = await holds.hold(requirePrincipal(principal), body);
      return { status: 201, body: { ...held, expires_at: held.hold_expires_at } };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/bookings',
      operationId: 'createBooking',
      summary: 'Book a held slot at its quoted price: the price is held on the card (or the card saved when the start is far)',
      tags: ['bookings'],
      auth: 'user',
      idempotency: 'required',
      body: BookBody,
      responses: {
        201: { description: 'The booking, confirmed (the same booking for every retry)', schema: BookingSchema },
        402: described('`payment_declined` (with `decline_code`) or `requires_action` (with `next_action.client_secret`); the slot stays held until its expiry, retry with another card'),
        404: described('No such hold of yours'),
        409: described('`already_booked`, or `payment_superseded` (another card was tried on the hold meanwhile; this one was voided)'),
        410: described('`hold_expired`'),
        422: described('`payment_method_rejected`'),
        503: described('`payment_unavailable`: retry the same request'),
      },
    },
    async ({ body, principal }) => ({
      status: 201,
      body: await creation.book(requirePrincipal(principal), { holdId: body.hold_id, paymentMethod: body.payment_method, notes: body.notes }),
    }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/bookings/{id}/reschedule',
      operationId: 'rescheduleBooking',
      summary: 'Move your confirmed booking onto a slot you hold (same service), atomically; the price stays as booked',
      tags: ['bookings'],
      auth: 'user',
      params: uuidParam('id'),
      body: RescheduleBody,
      responses: {
        200: { description: 'The booking, moved', schema: BookingSchema },
        404: described('No such booking or hold of yours'),
        409: described('`slot_unavailable`, `booking_not_reschedulable` (not confirmed, already started, or paid by an authorization that cannot last until the new slot), `hold_mismatch`; nothing changed'),
        410: described('`hold_expired`'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await moves.reschedule(requirePrincipal(principal), params.id, body.hold_id) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/operator/bookings/{id}/move',
      operationId: 'operatorMoveBooking',
      summary: 'Operators: move a held or confirmed booking to a new start (same duration), through the no-overlap gate',
      tags: ['bookings', 'operator'],
      auth: ['operator'],
      params: uuidParam('id'),
      body: MoveBody,
      responses: {
        200: { description: 'The booking, moved', schema: BookingSchema },
        404: described('No such booking'),
        409: described('`slot_unavailable` or `booking_not_movable`; nothing changed'),
        422: described('`slot_in_past`'),
      },
    },
    async ({ params, body }) => ({ status: 200, body: await moves.operatorMove(params.id, body.start) }),
  );
}
