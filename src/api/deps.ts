import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import type { TemporalClientProvider } from '../temporal/client';

/** Everything the API needs from the outside world; built once per process by src/main, or per test. */
export interface AppDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  metrics: Metrics;
  temporal: TemporalClientProvider;
  payments: PaymentGateway;
}
