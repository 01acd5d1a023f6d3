import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from './gateway';
// STUB: replaced by the payments work.
export function createPaymentGateway(_deps: { config: Config; db: Db; logger: Logger }): PaymentGateway {
  return { provider: 'simulated' } as PaymentGateway;
}
