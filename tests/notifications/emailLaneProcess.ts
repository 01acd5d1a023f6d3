import { loadConfig } from '../../src/config';
import { createDb } from '../../src/infra/db';
import { Metrics } from '../../src/infra/metrics';
import { createLogger } from '../../src/logger';
import { startEmailLane } from '../../src/notifications/email/emailLane';
import type { ActivityDeps } from '../../src/workers/deps';

/**
 * Run as its own process by emailCrash.test.ts: an email lane (one message at a time, short lease) over
 * SMTP_URL for the rows under the given key prefix, until the test kills it.
 */
const [keyPrefix] = process.argv.slice(2) as [string];
const config = loadConfig(process.env);
const logger = createLogger('silent');
const deps = { config, db: createDb(config.DATABASE_URL, 2), logger, metrics: new Metrics() } as unknown as ActivityDeps;
startEmailLane(deps, { keyPrefix, concurrency: 1, batchSize: 10, leaseMs: 2_000, pollIntervalMs: 50 });
console.log('started');
