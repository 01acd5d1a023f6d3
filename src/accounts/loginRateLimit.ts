import { createHash } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config';
import type { RedisClient } from '../infra/redis';
import { consumeOrTooMany, sharedLimiter } from '../infra/rateLimits';

type LimitConfig = Pick<Config, 'LOGIN_MAX_FAILURES_PER_ACCOUNT' | 'LOGIN_MAX_ATTEMPTS_PER_IP' | 'LOGIN_RATE_WINDOW_SECONDS'>;

/**
 * Brute-force protection for login, shared by every API replica through Redis:
 * - per IP: every attempt counts, so one client cannot spray many accounts;
 * - per account: failures count and a successful login clears them, so one account cannot be guessed at
 *   from many IPs. Addresses with no account are limited identically, so the limit reveals nothing.
 * Points are taken *before* the password check, so parallel guesses cannot slip past the limit.
 */
export class LoginRateLimiter {
  private readonly perIp: RateLimiterAbstract;
  private readonly perAccount: RateLimiterAbstract;

  constructor(redis: RedisClient, config: LimitConfig) {
    const window = config.LOGIN_RATE_WINDOW_SECONDS;
    this.perIp = sharedLimiter(redis, 'login:ip', config.LOGIN_MAX_ATTEMPTS_PER_IP, window);
    this.perAccount = sharedLimiter(redis, 'login:fail:account', config.LOGIN_MAX_FAILURES_PER_ACCOUNT, window);
  }

  /** Takes one point from the IP and one from the account; a 429 refusal with Retry-After when either is spent. */
  async beginAttempt(ip: string, normalizedEmail: string): Promise<void> {
    await consumeOrTooMany(this.perIp, ip, 'Too many login attempts from this address; try again later.');
    await consumeOrTooMany(this.perAccount, accountKey(normalizedEmail), 'Too many failed logins for this account; try again later.');
  }

  /** A correct password: the account's failure count starts over (the IP's attempts do not). */
  async succeeded(normalizedEmail: string): Promise<void> {
    await this.perAccount.delete(accountKey(normalizedEmail));
  }
}

/** Addresses are hashed so Redis holds no email addresses, and keys stay short whatever was typed. */
export function accountKey(normalizedEmail: string): string {
  return createHash('sha256').update(normalizedEmail).digest('hex');
}
