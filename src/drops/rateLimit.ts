import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config';
import type { RedisClient } from '../infra/redis';
import { consumeOrTooMany, sharedLimiter } from '../infra/rateLimits';

type LimitConfig = Pick<Config, 'DROP_RATE_LIMIT_PER_ACCOUNT' | 'DROP_RATE_LIMIT_PER_IP' | 'DROP_RATE_WINDOW_SECONDS'>;

/** Which drop endpoint is being hit: each has its own budget, so joining a queue never uses up lottery entries. */
export type DropRateScope = 'entry' | 'queue' | 'claim';

/**
 * Limits drop endpoints per account AND per client IP, shared by every API replica through Redis. A hyped drop
 * draws bots: the account limit stops one account hammering, the IP limit stops one client spraying accounts.
 * Points are taken before any work, so parallel requests cannot slip past the limit.
 */
export class DropRateLimiter {
  private readonly perAccount: RateLimiterAbstract;
  private readonly perIp: RateLimiterAbstract;

  constructor(redis: RedisClient, config: LimitConfig) {
    const window = config.DROP_RATE_WINDOW_SECONDS;
    this.perAccount = sharedLimiter(redis, 'drops:rl:account', config.DROP_RATE_LIMIT_PER_ACCOUNT, window);
    this.perIp = sharedLimiter(redis, 'drops:rl:ip', config.DROP_RATE_LIMIT_PER_IP, window);
  }

  /** Takes one point from the IP and one from the account; a 429 refusal with Retry-After when either is spent. */
  async consume(scope: DropRateScope, who: { userId: string; ip: string | undefined }): Promise<void> {
    await consumeOrTooMany(this.perIp, `${scope}:${who.ip ?? 'unknown'}`, 'Too many drop requests from this address; try again later.');
    await consumeOrTooMany(this.perAccount, `${scope}:${who.userId}`, 'Too many drop requests for this account; try again later.');
  }
}
