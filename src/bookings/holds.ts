import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { DomainError, refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { computeSlots } from '../domain/slots';
import { CustomerId, ProviderId, Status } from '../temporal/searchAttributes';
import { providerCalendarChanged } from './availabilityCache';
import { BOOKING_WORKFLOW, bookingChangedSignal, bookingWorkflowId, type BookingStatus, type BookingWorkflow, type BookingWorkflowInput } from './contract';
import { expireStaleHolds } from './holdRelease';
import { quoteSigningKey, verifyQuote } from './quotes';
import { loadProvider, loadService, policyOf, recordBookingStatus, type CancellationPolicy, type ProviderRow, type ServiceRow } from './rows';
import type { BookingsDeps } from './deps';


/**
 * Slot holds (POST /v1/bookings/holds). A hold is a `bookings` row in status `held` plus its `booking:<id>`
 * workflow, the durable timer that releases it. The exclusion constraint `bookings_no_overlap` is the only gate:
 * two racing holds of overlapping intervals (whatever their lengths) cannot both be inserted, so no pre-check
 * decides anything; a 23P01 is the answer `slot_unavailable`.
 *
 * A row never exists without its timer: the workflow is started inside the inserting transaction, before COMMIT.
 * A failed start rolls the row back; a crash or failed COMMIT after the start leaves a workflow that finds no row
 * once its grace has passed and ends (contract.ts, `rowGraceMs`). Losers of a race fail at the INSERT, before any
 * start, so they cost Temporal nothing.
 */

/** A customer may hold this many slots at once (live holds), so nobody can hoard a provider's week. */
export const MAX_LIVE_HOLDS = 5;

export interface NewHold {
  service_id: string;
  start: string;
  quote_id: string;
}

/** The exclusion constraint refused the row: another live hold or booking of the provider overlaps it. */
export function isOverlap(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23P01' && e.constraint === 'bookings_no_overlap';
}

export const slotUnavailable = () => refusals.conflict('slot_unavailable', 'The slot is no longer free: another hold or booking of this provider overlaps it.');

const DEADLOCK_RETRIES = 5;

/**
 * Runs a write that goes through the exclusion gate: its refusal (23P01) is 409 slot_unavailable. Two writers of
 * overlapping intervals that are both still uncommitted each wait for the other in the constraint's check, which
 * Postgres ends as a deadlock (40P01) of one of them: nothing was written, so that one runs again (and then meets
 * the other's committed row, or finds the slot free if the other rolled back).
 */
export async function throughTheGate<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (isOverlap(err)) throw slotUnavailable();
      if ((err as { code?: string })?.code !== '40P01' || attempt >= DEADLOCK_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

/** `[start, end + buffer)`: the interval a row keeps its provider busy, as the exclusion constraint sees it. */
export const blockedRange = (db: Knex | Knex.Transaction, start: Date, end: Date, bufferMinutes: number) =>
  db.raw(`tstzrange(?::timestamptz, ?::timestamptz + make_interval(mins => ?::int), '[)')`, [start, end, bufferMinutes]);

export interface BookingJson {
  id: string;
  status: BookingStatus;
  service_id: string;
  provider_id: string;
  customer_id: string;
  start: string;
  end: string;
  price_cents: number;
  currency: string;
  policy: CancellationPolicy;
  hold_expires_at: string;
  payment_method: string | null;
  notes: string;
  confirmed_at: string | null;
  created_at: string;
}

/** The row as the hold, book, reschedule and move answers show it. */
export function bookingJson(row: Record<string, unknown>): BookingJson {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
  return {
    id: String(row.id),
    status: row.status as BookingStatus,
    service_id: String(row.service_id),
    provider_id: String(row.provider_id),
    customer_id: String(row.customer_id),
    start: iso(row.starts_at),
    end: iso(row.ends_at),
    price_cents: Number(row.price_cents),
    currency: String(row.currency).trim(),
    policy: row.policy as CancellationPolicy,
    hold_expires_at: iso(row.hold_expires_at),
    payment_method: (row.payment_method as string | null) ?? null,
    notes: String(row.notes ?? ''),
    confirmed_at: row.confirmed_at ? iso(row.confirmed_at) : null,
    created_at: iso(row.created_at),
  };
}

/**
 * Tells `booking:<id>` its row changed (confirmed, moved, released). Best effort: the workflow re-reads its row
 * at its next timer anyway, so a Temporal hiccup only delays what it does next; the log says so.
 */
export async function signalBookingChanged(deps: Pick<BookingsDeps, 'config' | 'temporal' | 'logger'>, bookingId: string): Promise<void> {
  try {
    await deps.temporal.withDeadline(deps.config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle(bookingWorkflowId(bookingId)).signal(bookingChangedSignal));
  } catch (err) {
    deps.logger.warn({ err, bookingId }, 'booking workflow not signalled; it re-reads the booking at its next timer');
  }
}

/** Whether [start, end) is one of the service's slots by the provider's opening hours (ignoring other bookings). */
function onOpeningGrid(provider: ProviderRow, service: ServiceRow, start: number, end: number): boolean {
  const slots = computeSlots({
    timeZone: provider.time_zone,
    weekly: provider.weekly_hours,
    exceptions: provider.exceptions,
    durationMinutes: service.duration_minutes,
    bufferMinutes: service.buffer_minutes,
    // Openings are whole (from the day before `from`), so the grid is anchored at the opening's start, not here.
    from: start,
    to: end,
    busy: [],
  });
  return slots.some((s) => s.start === start && s.end === end);
}

export function createHolds(deps: BookingsDeps) {
  const { db, config, logger } = deps;
  const signingKey = quoteSigningKey(config);

  async function startTimer(input: BookingWorkflowInput, serviceTitle: string): Promise<void> {
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.start<BookingWorkflow>(BOOKING_WORKFLOW, {
          workflowId: bookingWorkflowId(input.bookingId),
          taskQueue: config.TASK_QUEUE,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: ProviderId, value: input.providerId },
            { key: CustomerId, value: input.customerId },
            { key: Status, value: 'held' },
          ],
          staticSummary: `Booking of "${serviceTitle}" ${input.startsAt} – ${input.endsAt}`,
          staticDetails: `provider ${input.providerId}, customer ${input.customerId}, service ${input.serviceId}; held until ${input.holdExpiresAt}`,
        }),
      );
    } catch (err) {
      logger.error({ err, bookingId: input.bookingId }, 'could not start the booking workflow');
      throw refusals.dependencyDown('temporal', 'The hold could not be given its timer right now; nothing was held. Retry shortly.');
    }
  }

  /** The customer's live holds, counted under a per-customer lock so concurrent holds cannot pass the cap together. */
  async function checkHoldCap(trx: Knex.Transaction, customerId: string): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 12))', [`booking-holds:${customerId}`]);
    const [{ n }] = (await trx('bookings').where({ customer_id: customerId, status: 'held' }).andWhere('hold_expires_at', '>', trx.fn.now()).count('* as n')) as [{ n: string }];
    if (Number(n) >= MAX_LIVE_HOLDS) {
      throw refusals.conflict('too_many_holds', `You already hold ${MAX_LIVE_HOLDS} slots; book or let one go before holding another.`, { max_live_holds: MAX_LIVE_HOLDS });
    }
  }

  /**
   * A live row (committed, not a hold past its end) already overlapping: not the gate, only a shortcut that spares
   * the many losers of a race an INSERT, a wait on the winner's transaction and a deadlock between themselves.
   */
  async function visiblyTaken(providerId: string, range: { start: Date; end: Date; buffer: number }): Promise<boolean> {
    const { rows } = await db.raw(
      `SELECT 1 FROM bookings
        WHERE provider_id = ? AND status IN ('held', 'confirmed') AND blocked && tstzrange(?::timestamptz, ?::timestamptz + make_interval(mins => ?::int), '[)')
          AND NOT (status = 'held' AND hold_expires_at <= now())
        LIMIT 1`,
      [providerId, range.start, range.end, range.buffer],
    );
    return rows.length > 0;
  }

  async function insertHold(row: Record<string, unknown>, range: { start: Date; end: Date; buffer: number }, input: BookingWorkflowInput, title: string) {
    return db.transaction(async (trx) => {
      await checkHoldCap(trx, input.customerId);
      const [inserted] = (await trx('bookings')
        .insert({ ...row, blocked: blockedRange(trx, range.start, range.end, range.buffer) })
        .returning('*')) as Record<string, unknown>[];
      await recordBookingStatus(trx, input.bookingId, 'held', 'customer', { quote_price_cents: row.price_cents });
      await startTimer(input, title);
      return inserted!;
    });
  }

  return {
    async hold(caller: Principal, body: NewHold): Promise<BookingJson> {
      const now = Date.now();
      const quote = verifyQuote(signingKey, body.quote_id, now);
      const start = Date.parse(body.start);
      if (quote.serviceId !== body.service_id) {
        throw new DomainError('invalid', 'quote_mismatch', 'The quote is for another service.', { errors: [{ path: 'body.quote_id', message: 'quoted for another service' }] });
      }
      if (Date.parse(quote.start) !== start) {
        throw refusals.conflict('quote_mismatch', 'The quote is for another start; ask for a quote of this slot.', { quoted_start: quote.start });
      }
      const service = await loadService(db, body.service_id);
      if (!service || !service.active || service.provider_id !== quote.providerId) throw refusals.notFound('service');
      const provider = await loadProvider(db, service.provider_id);
      if (!provider || provider.status !== 'active') throw refusals.notFound('service');
      if (provider.user_id === caller.id) throw refusals.unprocessable('cannot_book_own_service', 'Providers cannot book their own services.');
      if (start <= now) throw refusals.unprocessable('slot_in_past', 'The slot has already started.');
      const end = start + service.duration_minutes * 60_000;
      // Hours may have changed since the quote: the slot must still be one the provider offers.
      if (Date.parse(quote.end) !== end || !onOpeningGrid(provider, service, start, end)) {
        throw refusals.conflict('slot_unavailable', 'The provider no longer offers this slot.');
      }

      const id = randomUUID();
      const holdExpiresAt = new Date(now + config.SLOT_HOLD_TTL);
      const input: BookingWorkflowInput = {
        bookingId: id,
        providerId: provider.id,
        customerId: caller.id,
        serviceId: service.id,
        holdExpiresAt: holdExpiresAt.toISOString(),
        startsAt: new Date(start).toISOString(),
        endsAt: new Date(end).toISOString(),
      };
      const row = {
        id,
        service_id: service.id,
        provider_id: provider.id,
        customer_id: caller.id,
        status: 'held',
        starts_at: new Date(start),
        ends_at: new Date(end),
        buffer_minutes: service.buffer_minutes,
        hold_expires_at: holdExpiresAt,
        price_cents: quote.priceCents,
        currency: quote.currency,
        quote: JSON.stringify({ id: body.quote_id, ...quote }),
        policy: JSON.stringify(policyOf(service)),
      };
      const range = { start: new Date(start), end: new Date(end), buffer: service.buffer_minutes };
      if (await visiblyTaken(provider.id, range)) throw slotUnavailable();
      let inserted: Record<string, unknown>;
      try {
        inserted = await throughTheGate(() => insertHold(row, range, input, service.title));
      } catch (err) {
        if (!(err instanceof DomainError && err.code === 'slot_unavailable')) throw err;
        // A hold past its end whose timer has not run yet (a worker down) must not keep the slot: expire the
        // overlapping stale ones and try once more. Live rows still refuse.
        if ((await expireStaleHolds(deps, { providerId: provider.id, start: range.start, end: new Date(end + range.buffer * 60_000) })) === 0) throw err;
        inserted = await throughTheGate(() => insertHold(row, range, input, service.title));
      }
      await providerCalendarChanged(deps, provider.id);
      return bookingJson(inserted);
    },
  };
}

export type Holds = ReturnType<typeof createHolds>;
