import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from './gateway';
import { PaymentRecords } from './paymentRecords';
import { SimulatedGateway } from './simulatedGateway';
import { createStripeClient, StripeGateway } from './stripeGateway';

/** Stripe when STRIPE_SECRET_KEY is set, else the simulated gateway (state in this database). */
export function createPaymentGateway(deps: { config: Config; db: Db; logger: Logger }): PaymentGateway {
  const { config, db, logger } = deps;
  if (config.paymentProvider === 'stripe' && config.STRIPE_SECRET_KEY) {
    const stripe = createStripeClient({
      secretKey: config.STRIPE_SECRET_KEY,
      apiUrl: config.STRIPE_API_URL,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
      maxNetworkRetries: config.STRIPE_MAX_RETRIES,
    });
    return new StripeGateway(stripe, { knownIntents: new PaymentRecords(db).intentLookup(), logger: logger.child({ component: 'stripe' }) });
  }
  return new SimulatedGateway(db);
}

export * from './gateway';
export { PaymentRecords, type PaymentRecord, type PaymentEvent } from './paymentRecords';
export { SimulatedGateway } from './simulatedGateway';
export { StripeGateway, createStripeClient, STRIPE_API_VERSION } from './stripeGateway';
