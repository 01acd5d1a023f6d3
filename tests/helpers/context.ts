import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Express } from 'express';
import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import type { AppDeps } from '../../src/api/deps';
import { loadConfig, type Config } from '../../src/config';
import { createDb, dbTimeouts } from '../../src/infra/db';
import { Metrics } from '../../src/infra/metrics';
import { createRedis } from '../../src/infra/redis';
import { createLogger } from '../../src/logger';
import { createPaymentGateway } from '../../src/payments';
import { TemporalClientProvider } from '../../src/temporal/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWorkers, type WorkerSet } from '../../src/workers/worker';
import { readTestEnvironment } from './testEnv';

/**
 * Real dependencies for a test file: the run's test database, Redis, Temporal dev server and stripe-mock.
 * Each context gets its own task queue, so a test file's worker only ever runs that file's workflows.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const env = readTestEnvironment();
  const caller = path.basename(expect.getState().testPath ?? 'test').replace(/\.test\.ts$/, '');
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: env.databaseUrl,
    DATABASE_POOL_MAX: '20',
    REDIS_URL: env.redisUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TASK_QUEUE: `test-${caller}-${randomUUID().slice(0, 8)}`,
    WORKER_SHUTDOWN_GRACE_SECONDS: '2',
    // Every test request comes from 127.0.0.1 and the run shares one Redis: without this the whole suite
    // would trip the per-IP login limit. Rate-limit tests override it (and use X-Forwarded-For).
    LOGIN_MAX_ATTEMPTS_PER_IP: '1000000',
    REGISTER_MAX_PER_IP: '1000000',
    ACCOUNT_EMAILS_MAX_PER_IP: '1000000',
    ...overrides,
  });
}

export interface TestContext {
  deps: AppDeps;
  app: Express;
  http: supertest.Agent;
  close(): Promise<void>;
}

export function createTestDeps(config: Config = testConfig()): AppDeps {
  const logger = createLogger(config.LOG_LEVEL);
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX, logger, dbTimeouts(config));
  const redis = createRedis(config.REDIS_URL);
  return {
    config,
    db,
    redis,
    logger,
    metrics: new Metrics(),
    temporal: new TemporalClientProvider(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE),
    payments: createPaymentGateway({ config, db, logger, redis }),
  };
}

export async function closeDeps(deps: AppDeps): Promise<void> {
  await deps.temporal.close();
  // QUIT lets replies still in flight arrive (a bare disconnect rejects them with "Connection is closed.", which
  // surfaced once as an unhandled rejection after the Redis outage test); bounded, since Redis may be gone.
  if (deps.redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([deps.redis.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
  }
  deps.redis.disconnect();
  await deps.db.destroy();
}

export function createTestContext(config: Config = testConfig()): TestContext {
  const deps = createTestDeps(config);
  const app = createApp(deps);
  return { deps, app, http: supertest.agent(app), close: () => closeDeps(deps) };
}

/** Worker SDK logs at WARN (INFO drowns the test output); once per jest process, which owns one Runtime. */
function quietTemporalRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN'), shutdownSignals: [] });
  } catch {
    // Already installed by an earlier test file in this process.
  }
}

/** Starts this file's workers on its own task queues; `stop()` shuts them down gracefully. */
export async function startTestWorker(deps: AppDeps): Promise<{ workers: WorkerSet; running: Promise<void>; stop(): Promise<void> }> {
  quietTemporalRuntime();
  const workers = await createWorkers(deps, { workflowBundlePath: readTestEnvironment().workflowBundlePath, outboxDispatcher: false });
  const running = workers.run();
  return {
    workers,
    running,
    stop: async () => {
      workers.shutdown();
      await running;
      await workers.connection.close();
    },
  };
}

/** A unique, valid email for a throwaway account. */
export const uniqueEmail = (prefix = 'user') => `${prefix}-${randomUUID()}@example.test`;
