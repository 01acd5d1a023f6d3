import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import type { TemporalClientProvider } from '../temporal/client';

/** What the drops services use of the outside world; the API and the workers each pass their own. */
export interface DropsDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  temporal: TemporalClientProvider;
  payments: PaymentGateway;
}
