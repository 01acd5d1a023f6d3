import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { notifyMany } from '../notifications/notify';
import { providerCalendarChanged } from './availabilityCache';
import type { BookingStatus } from './contract';

/**
 * A hold's end: `held` → `expired` once hold_expires_at has passed (Postgres' clock), with its history line and
 * the customer's `booking_hold_expired` notice in the same transaction, then the provider's cached calendar
 * dropped. Run by the hold's `booking:<id>` timer, and for any overlapping hold already past its end when a new
 * hold meets it (a late timer never keeps a slot). Conditional on `status = 'held'`, so a hold booked, moved or
 * expired meanwhile is left alone and a retried release does nothing twice.
 */

interface ReleaseDeps {
  db: Db;
  redis: RedisClient;
  logger?: Logger;
}

interface ExpiredRow {
  id: string;
  customer_id: string;
  provider_id: string;
  starts_at: Date;
}

async function expireWhere(trx: Knex.Transaction, where: (q: Knex.QueryBuilder) => void): Promise<ExpiredRow[]> {
  const expired = (await trx('bookings')
    .where({ status: 'held' })
    .andWhere('hold_expires_at', '<=', trx.fn.now())
    .andWhere(where)
    .update({ status: 'expired', ended_at: trx.fn.now(), updated_at: trx.fn.now() })
    .returning(['id', 'customer_id', 'provider_id', 'starts_at'])) as ExpiredRow[];
  if (expired.length === 0) return expired;
  await trx('booking_status_history').insert(expired.map((r) => ({ booking_id: r.id, status: 'expired', actor: 'system', detail: JSON.stringify({ reason: 'hold_expired' }) })));
  await notifyMany(
    trx,
    expired.map((r) => ({
      userId: r.customer_id,
      type: 'booking_hold_expired',
      title: 'Your held slot was released',
      body: `You did not book the slot at ${r.starts_at.toISOString()} in time, so it was released. Hold it again if it is still free.`,
      data: { booking_id: r.id, provider_id: r.provider_id, start: r.starts_at.toISOString() },
      dedupeKey: `booking_hold_expired:${r.id}`,
    })),
  );
  return expired;
}

export interface HoldState {
  status: BookingStatus | 'missing';
  holdExpiresAt: string | null;
}

/** The hold's timer fired: expire it if it is still held and past its end; either way, what the row is now. */
export async function releaseExpiredHold(deps: ReleaseDeps, bookingId: string): Promise<HoldState> {
  const { state, expired } = await deps.db.transaction(async (trx) => {
    const expired = await expireWhere(trx, (q) => q.where({ id: bookingId }));
    const row = (await trx('bookings').where({ id: bookingId }).first('status', 'hold_expires_at')) as { status: BookingStatus; hold_expires_at: Date } | undefined;
    return { expired, state: row ? { status: row.status, holdExpiresAt: row.hold_expires_at.toISOString() } : { status: 'missing' as const, holdExpiresAt: null } };
  });
  for (const r of expired) await providerCalendarChanged(deps, r.provider_id);
  return state;
}

/** Expires the provider's holds past their end that overlap [start, end); how many there were. */
export async function expireStaleHolds(deps: ReleaseDeps, where: { providerId: string; start: Date; end: Date }): Promise<number> {
  const expired = await deps.db.transaction((trx) =>
    expireWhere(trx, (q) => q.where({ provider_id: where.providerId }).andWhereRaw(`blocked && tstzrange(?::timestamptz, ?::timestamptz, '[)')`, [where.start, where.end])),
  );
  if (expired.length > 0) await providerCalendarChanged(deps, where.providerId);
  return expired.length;
}
