import { RateLimiterMemory, RateLimiterQueue, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisClient } from '../infra/redis';
import type { PaymentGateway } from './gateway';

/**
 * Caps calls to the payment provider across every process (API replicas and workers share the Redis
 * budget), queueing callers until a slot frees instead of failing them. The payments task queue's activity
 * rate limit is not enough on its own: one settlement batch activity makes hundreds of provider calls.
 * If Redis is unreachable each process falls back to an equal share of the budget in memory.
 */
export function withCallRateLimit(
  gateway: PaymentGateway,
  opts: { redis: RedisClient; callsPerSecond: number; keyPrefix?: string; processShare?: number },
): PaymentGateway {
  const limiter = new RateLimiterRedis({
    storeClient: opts.redis,
    keyPrefix: opts.keyPrefix ?? `payment-provider-calls:${gateway.provider}`,
    points: opts.callsPerSecond,
    duration: 1,
    insuranceLimiter: new RateLimiterMemory({ points: Math.max(1, Math.floor(opts.callsPerSecond / (opts.processShare ?? 4))), duration: 1 }),
  });
  const queue = new RateLimiterQueue(limiter);
  const limited =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await queue.removeTokens(1);
      return call(...args);
    };
  return {
    provider: gateway.provider,
    savePaymentMethod: limited((i) => gateway.savePaymentMethod(i)),
    authorize: limited((i) => gateway.authorize(i)),
    capture: limited((i) => gateway.capture(i)),
    chargeOffSession: limited((i) => gateway.chargeOffSession(i)),
    cancel: limited((i) => gateway.cancel(i)),
    refund: limited((i) => gateway.refund(i)),
    retrieve: limited((id) => gateway.retrieve(id)),
    createConnectedAccount: limited((i) => gateway.createConnectedAccount(i)),
    retrieveConnectedAccount: limited((id, opts) => gateway.retrieveConnectedAccount(id, opts)),
    transfer: limited((i) => gateway.transfer(i)),
  };
}
