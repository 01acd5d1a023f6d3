import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import type { TemporalClientProvider } from '../temporal/client';

/** What activities may touch. Workflows get nothing: they only call activities. */
export interface ActivityDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  metrics: Metrics;
  payments: PaymentGateway;
  /** For activities that start or signal other workflows (e.g. a pledge's dropped-pledge window). */
  temporal: TemporalClientProvider;
}
