import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';

/**
 * The per-provider-day cache of computed slots. Every key carries the provider's calendar version, so one INCR
 * makes every cached day of that provider unreachable at once (O(1), and race-free: a reader that computed from
 * the old calendar writes under the old version, which no later reader asks for). Entries expire on their own.
 */

const versionKey = (providerId: string) => `bookings:calendar:v:${providerId}`;

/** Every cached view of this provider's calendar (slots per day, next availability) is stale: called after any hold, booking, cancellation, reschedule or availability change commits. */
export async function providerCalendarChanged(deps: { redis: RedisClient; logger?: Logger }, providerId: string): Promise<void> {
  try {
    await deps.redis.incr(versionKey(providerId));
  } catch (err) {
    // The caller's write is committed: an outage here must not fail it. Cached days live at most their TTL.
    deps.logger?.warn({ err, providerId }, 'provider calendar version not bumped; cached slots stay until their TTL');
  }
}

/** The provider's current calendar version ("0" before the first change). */
export async function calendarVersion(redis: RedisClient, providerId: string): Promise<string> {
  return (await redis.get(versionKey(providerId))) ?? '0';
}
