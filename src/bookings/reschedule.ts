import type { Knex } from 'knex';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { notify } from '../notifications/notify';
import { providerCalendarChanged } from './availabilityCache';
import type { BookingStatus } from './contract';
import { blockedRange, bookingJson, signalBookingChanged, throughTheGate, type BookingJson } from './holds';
import { recordBookingStatus } from './rows';
import type { BookingsDeps } from './deps';

/**
 * Moving a booking to another interval, through the same exclusion gate as every other write.
 *
 * Reschedule (the customer, POST /v1/bookings/{id}/reschedule): the new slot is held first (a hold of theirs, same
 * service), then one transaction locks both rows, ends the hold (`released`, moved_booking_id = the booking) and
 * gives the booking the hold's interval; the constraint re-checks it. Anything wrong: 409 (or 404/410) and nothing
 * changed. The booking keeps the price, policy and payment it was booked with (the hold's quote only reserved the
 * slot), so a move never charges more or less than was agreed.
 *
 * Operator move (POST /v1/operator/bookings/{id}/move, an admin edit): a held or confirmed row to a new start,
 * same duration and buffer; 409 `slot_unavailable` from the same constraint when it overlaps anything live.
 */

type Row = Record<string, unknown> & {
  id: string;
  status: BookingStatus;
  service_id: string;
  provider_id: string;
  customer_id: string;
  starts_at: Date;
  ends_at: Date;
  buffer_minutes: number;
  hold_expires_at: Date;
  payment_key: string | null;
};

const notReschedulable = (detail: string) => refusals.conflict('booking_not_reschedulable', detail);

async function providerUser(trx: Knex.Transaction, providerId: string): Promise<string> {
  return ((await trx('providers').where({ id: providerId }).first('user_id')) as { user_id: string }).user_id;
}

/** The moved row, its history line and both parties' notices, in the caller's transaction; 23P01 when it overlaps. */
async function moveRow(trx: Knex.Transaction, row: Row, to: { start: Date; end: Date; buffer: number }, actor: string, detail: Record<string, unknown>, dedupeKey: string): Promise<Row> {
  const [moved] = (await trx('bookings')
    .where({ id: row.id })
    .update({ starts_at: to.start, ends_at: to.end, buffer_minutes: to.buffer, blocked: blockedRange(trx, to.start, to.end, to.buffer), updated_at: trx.fn.now() })
    .returning('*')) as Row[];
  const change = { from: { start: row.starts_at.toISOString(), end: row.ends_at.toISOString() }, to: { start: to.start.toISOString(), end: to.end.toISOString() } };
  await recordBookingStatus(trx, row.id, 'rescheduled', actor, { ...change, ...detail });
  const data = { booking_id: row.id, ...change };
  const body = `Moved from ${change.from.start} to ${change.to.start}.`;
  await notify(trx, { userId: row.customer_id, type: 'booking_rescheduled', title: 'Your booking was moved', body, data, dedupeKey });
  if (row.status !== 'held') {
    await notify(trx, { userId: await providerUser(trx, row.provider_id), type: 'booking_rescheduled', title: 'A booking was moved', body, data, dedupeKey: `${dedupeKey}:provider` });
  }
  return moved!;
}

export function createBookingMoves(deps: BookingsDeps) {
  const { db, config } = deps;

  async function afterMove(row: Row, ...signalled: string[]): Promise<void> {
    for (const id of signalled) await signalBookingChanged(deps, id);
    await providerCalendarChanged(deps, row.provider_id);
  }

  return {
    async reschedule(caller: Principal, bookingId: string, holdId: string): Promise<BookingJson> {
      const moved = await throughTheGate(() =>
        db.transaction(async (trx) => {
          // Both rows locked in one order, so two moves crossing the same pair cannot deadlock.
          const rows = (await trx('bookings').whereIn('id', [bookingId, holdId]).orderBy('id').forUpdate().select('*')) as Row[];
          const booking = rows.find((r) => r.id === bookingId);
          const hold = rows.find((r) => r.id === holdId);
          if (!booking || booking.customer_id !== caller.id) throw refusals.notFound('booking');
          if (!hold || hold.customer_id !== caller.id || holdId === bookingId) throw refusals.notFound('hold');
          if (booking.status !== 'confirmed') throw notReschedulable(`The booking is ${booking.status}; only a confirmed booking can be rescheduled.`);
          if (booking.starts_at.getTime() <= Date.now()) throw notReschedulable('The booking has already started.');
          if (hold.status !== 'held' || hold.hold_expires_at.getTime() <= Date.now()) {
            throw refusals.gone('hold_expired', 'The hold on the new slot has ended; hold it again if it is still free.');
          }
          if (hold.service_id !== booking.service_id) throw refusals.conflict('hold_mismatch', 'The hold is for another service; hold a slot of the booked service.');
          // Money held on the card lasts only so long: a booking paid by authorization stays within the window.
          if (booking.payment_key?.includes(':authorize') && hold.starts_at.getTime() - Date.now() > config.BOOKING_AUTHORIZATION_WINDOW) {
            throw notReschedulable('This booking was paid by holding the money on the card, which cannot last until the new slot; cancel and book it instead.');
          }
          await trx('bookings').where({ id: hold.id }).update({ status: 'released', moved_booking_id: booking.id, ended_at: trx.fn.now(), updated_at: trx.fn.now() });
          await recordBookingStatus(trx, hold.id, 'released', 'customer', { moved_booking_id: booking.id });
          const to = { start: hold.starts_at, end: hold.ends_at, buffer: hold.buffer_minutes };
          return moveRow(trx, booking, to, 'customer', { hold_id: hold.id }, `booking_rescheduled:${booking.id}:${hold.id}`);
        }),
      );
      await afterMove(moved, moved.id, holdId);
      return bookingJson(moved);
    },

    async operatorMove(bookingId: string, startIso: string): Promise<BookingJson> {
      const start = new Date(startIso);
      if (start.getTime() <= Date.now()) throw refusals.unprocessable('slot_in_past', 'The new start must be in the future.');
      const moved = await throughTheGate(() =>
        db.transaction(async (trx) => {
          const row = (await trx('bookings').where({ id: bookingId }).forUpdate().first()) as Row | undefined;
          if (!row) throw refusals.notFound('booking');
          if (row.status !== 'held' && row.status !== 'confirmed') throw refusals.conflict('booking_not_movable', `The booking is ${row.status}; only a held or confirmed one can be moved.`);
          const end = new Date(start.getTime() + (row.ends_at.getTime() - row.starts_at.getTime()));
          return moveRow(trx, row, { start, end, buffer: row.buffer_minutes }, 'operator', {}, `booking_moved:${row.id}:${start.toISOString()}`);
        }),
      );
      await afterMove(moved, moved.id);
      return bookingJson(moved);
    },
  };
}
