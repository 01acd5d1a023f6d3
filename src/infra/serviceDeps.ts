import type { Config } from '../config';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import type { TemporalClientProvider } from '../temporal/client';
import type { Db } from './db';
import type { RedisClient } from './redis';

/**
 * What a domain's services use of the outside world. The API (AppDeps) and the workers (ActivityDeps) each pass
 * their own; both satisfy this.
 */
export interface ServiceDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  temporal: TemporalClientProvider;
  payments: PaymentGateway;
}
