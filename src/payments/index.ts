import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { PaymentGateway } from './gateway';
import { PaymentRecords } from './paymentRecords';
import { SimulatedGateway } from './simulatedGateway';
import { createStripeClient, StripeGateway } from './stripeGateway';
import { withCallRateLimit } from './rateLimitedGateway';

/**
 * Stripe when STRIPE_SECRET_KEY is set, else the simulated gateway (state in this database). Stripe calls
 * share one budget of STRIPE_CALLS_PER_SECOND across all processes when Redis is given.
 */
export function createPaymentGateway(deps: { config: Config; db: Db; logger: Logger; redis?: RedisClient }): PaymentGateway {
  const { config, db, logger, redis } = deps;
  if (config.paymentProvider === 'stripe' && config.STRIPE_SECRET_KEY) {
    const stripe = createStripeClient({
      secretKey: config.STRIPE_SECRET_KEY,
      apiUrl: config.STRIPE_API_URL,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
      maxNetworkRetries: config.STRIPE_MAX_RETRIES,
    });
    const gateway = new StripeGateway(stripe, { knownIntents: new PaymentRecords(db).intentLookup(), logger: logger.child({ component: 'stripe' }) });
    return redis ? withCallRateLimit(gateway, { redis, callsPerSecond: config.STRIPE_CALLS_PER_SECOND }) : gateway;
  }
  return new SimulatedGateway(db);
}

export * from './gateway';
export { PaymentRecords, type PaymentRecord, type PaymentEvent } from './paymentRecords';
export { SimulatedGateway } from './simulatedGateway';
export { StripeGateway, createStripeClient, STRIPE_API_VERSION } from './stripeGateway';
export { withCallRateLimit } from './rateLimitedGateway';
