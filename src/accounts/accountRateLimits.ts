import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config';
import type { RedisClient } from '../infra/redis';
import { consumeOrTooMany, sharedLimiter } from '../infra/rateLimits';
import { accountKey } from './loginRateLimit';

type LimitConfig = Pick<
  Config,
  'REGISTER_MAX_PER_IP' | 'ACCOUNT_EMAILS_MAX_PER_ACCOUNT' | 'ACCOUNT_EMAILS_MAX_PER_IP' | 'ACCOUNT_RATE_WINDOW_SECONDS'
>;

/**
 * Limits on what costs us mail or hashing and could be used to flood someone's inbox: registrations per client
 * IP, and verification/reset emails per address and per IP. Shared by every replica through Redis. Addresses
 * without an account are limited exactly like real ones, so a 429 reveals nothing either.
 */
export class AccountRateLimits {
  private readonly registrations: RateLimiterAbstract;
  private readonly emailsPerAccount: RateLimiterAbstract;
  private readonly emailsPerIp: RateLimiterAbstract;

  constructor(redis: RedisClient, config: LimitConfig) {
    const window = config.ACCOUNT_RATE_WINDOW_SECONDS;
    this.registrations = sharedLimiter(redis, 'register:ip', config.REGISTER_MAX_PER_IP, window);
    this.emailsPerAccount = sharedLimiter(redis, 'account-email:account', config.ACCOUNT_EMAILS_MAX_PER_ACCOUNT, window);
    this.emailsPerIp = sharedLimiter(redis, 'account-email:ip', config.ACCOUNT_EMAILS_MAX_PER_IP, window);
  }

  register(ip: string): Promise<void> {
    return consumeOrTooMany(this.registrations, ip, 'Too many accounts registered from this address; try again later.');
  }

  /** One verification or reset email for `normalizedEmail`, asked for from `ip`. */
  async accountEmail(ip: string, normalizedEmail: string): Promise<void> {
    await consumeOrTooMany(this.emailsPerIp, ip, 'Too many email requests from this address; try again later.');
    await consumeOrTooMany(this.emailsPerAccount, accountKey(normalizedEmail), 'Too many emails requested for this account; try again later.');
  }
}
