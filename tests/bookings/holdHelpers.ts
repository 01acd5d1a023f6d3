import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { AppDeps } from '../../src/api/deps';
import { quoteSigningKey, signQuote } from '../../src/bookings/quotes';
import type { TestContext } from '../helpers/context';
import type { TestUser } from '../helpers/fixtures';
import type { TestService } from './fixtures';

/**
 * Helpers of the hold, booking and move tests: quotes signed with the platform's key (as the quotes route issues
 * them: the route is another part's subject), slot starts on the default 09:00–17:00 grid in the provider's zone,
 * and the HTTP calls under test.
 */

/** Epoch ms of `hh:mm` local time, `days` days from today in `zone`. */
export function localStart(zone: string, days: number, hh: number, mm = 0): number {
  return DateTime.now().setZone(zone).plus({ days }).set({ hour: hh, minute: mm, second: 0, millisecond: 0 }).toMillis();
}

/** A genuine quote of `service` at `start` (base price, neutral multipliers), valid for `ttlMs`. */
export function quoteOf(deps: Pick<AppDeps, 'config'>, service: TestService, start: number, opts: { ttlMs?: number; priceCents?: number } = {}): string {
  return signQuote(quoteSigningKey(deps.config), {
    serviceId: service.id,
    providerId: service.providerId,
    start: new Date(start).toISOString(),
    end: new Date(start + service.durationMinutes * 60_000).toISOString(),
    priceCents: opts.priceCents ?? service.basePriceCents,
    currency: service.currency,
    breakdown: { base_cents: service.basePriceCents, multipliers: { demand: 1, experience: 1, location: 1 }, total_multiplier: 1 },
    expiresAt: new Date(Date.now() + (opts.ttlMs ?? 600_000)).toISOString(),
  });
}

export function holdSlot(ctx: TestContext, user: TestUser, service: TestService, start: number, quoteId = quoteOf(ctx.deps, service, start)) {
  return ctx.http
    .post('/v1/bookings/holds')
    .set('Authorization', user.auth)
    .send({ service_id: service.id, start: new Date(start).toISOString(), quote_id: quoteId });
}

export function book(ctx: TestContext, user: TestUser, holdId: string, paymentMethod = 'pm_card_visa', key: string = randomUUID()) {
  return ctx.http.post('/v1/bookings').set('Authorization', user.auth).set('Idempotency-Key', key).send({ hold_id: holdId, payment_method: paymentMethod });
}

/** A confirmed booking of `user` at `start`: hold, then book with pm_card_visa. */
export async function confirmedBooking(ctx: TestContext, user: TestUser, service: TestService, start: number): Promise<string> {
  const held = await holdSlot(ctx, user, service, start);
  if (held.status !== 201) throw new Error(`hold failed: ${held.status} ${JSON.stringify(held.body)}`);
  const booked = await book(ctx, user, held.body.id);
  if (booked.status !== 201) throw new Error(`booking failed: ${booked.status} ${JSON.stringify(booked.body)}`);
  return held.body.id as string;
}

/** Pairs of live rows of one provider whose blocked intervals overlap: must always be none. */
export async function overlappingLiveRows(deps: Pick<AppDeps, 'db'>, providerId: string): Promise<Array<{ a: string; b: string }>> {
  const { rows } = await deps.db.raw(
    `SELECT a.id AS a, b.id AS b FROM bookings a JOIN bookings b
       ON a.provider_id = b.provider_id AND a.id < b.id AND a.blocked && b.blocked
     WHERE a.provider_id = ? AND a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`,
    [providerId],
  );
  return rows;
}

export async function liveRows(deps: Pick<AppDeps, 'db'>, providerId: string) {
  return (await deps.db('bookings').where({ provider_id: providerId }).whereIn('status', ['held', 'confirmed']).orderBy('starts_at').select('id', 'status', 'customer_id', 'starts_at', 'ends_at')) as Array<{
    id: string;
    status: string;
    customer_id: string;
    starts_at: Date;
    ends_at: Date;
  }>;
}
