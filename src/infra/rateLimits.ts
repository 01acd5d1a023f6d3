import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { refusals } from '../domain/errors';
import type { RedisClient } from './redis';

/**
 * A limiter shared by every API replica through Redis. When Redis is unreachable each process falls back to its
 * own memory counters: weaker, but the endpoint keeps working and stays limited.
 */
export function sharedLimiter(redis: RedisClient, keyPrefix: string, points: number, durationSeconds: number): RateLimiterAbstract {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration: durationSeconds,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds }),
  });
}

/** Takes one point for `key`; a rate_limited refusal with its Retry-After (whole seconds) when none is left. */
export async function consumeOrTooMany(limiter: RateLimiterAbstract, key: string, detail: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      throw refusals.rateLimited(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)), detail);
    }
    throw rejection;
  }
}
