import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createDb, ensureDatabase, splitDatabaseUrl } from '../../src/infra/db';
import { migrateLatest } from '../../src/infra/migrate';
import { createRedis } from '../../src/infra/redis';
import { startDevServer } from '../../src/temporal/devServer';
import { startStripeMock } from './stripeMock';
import { startMailpit } from '../../src/infra/mailpit';
import { buildWebAppIfStale } from '../../src/main/webBuild';
import { freePort } from './server';
import { CONTINUE_AS_NEW_SUGGESTED_AT, TEST_ENV_FILE, type TestEnvironment } from './testEnv';
import pg from 'pg';

/**
 * Once per `jest` run: a fresh test database with every migration applied (proving they run from scratch),
 * a clean Redis database, one Temporal dev server with the platform's search attributes, one stripe-mock,
 * one Mailpit (SMTP server whose HTTP API shows what was sent), the workflow bundle built once for every
 * test file's worker, and the web app's build when it is missing or stale.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  // PLEDGEFLOW_TEST_RUN lets several suites run side by side on one machine without sharing a database.
  const run = (process.env.PLEDGEFLOW_TEST_RUN ?? 'main').replace(/[^a-z0-9_]/gi, '_');
  const databaseUrl = process.env.TEST_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/pledgeflow_test_${run}`;
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

  const { name, adminUrl } = splitDatabaseUrl(databaseUrl);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, 2);
  await migrateLatest(db);
  await db.destroy();

  const redis = createRedis(redisUrl);
  await redis.flushdb();
  redis.disconnect();

  const [temporal, stripeMock, mailpit, bundle] = await Promise.all([
    startDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH,
      namespace: 'default',
      // The server suggests continue-as-new after this many history events, so tests can drive a real
      // continue-as-new with a few dozen settlement batches instead of thousands.
      // Timers keep the server's default precision (fired up to ~1 s late, as in production), which the
      // real-service suites' timings are set for.
      extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${CONTINUE_AS_NEW_SUGGESTED_AT}`],
      log: (m) => console.log(m),
    }),
    startStripeMock(),
    (async () => startMailpit({ smtpPort: await freePort(), uiPort: await freePort(), explicitPath: process.env.MAILPIT_PATH }))(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger }),
    // Once, before any file: the browser tests and `npm start` (tests/startup) then find web/dist current.
    buildWebAppIfStale((m) => console.log(m)),
  ]);
  const workflowBundlePath = path.join(os.tmpdir(), `pledgeflow-workflows-${process.pid}.js`);
  fs.writeFileSync(workflowBundlePath, bundle.code);

  const env: TestEnvironment = {
    databaseUrl,
    redisUrl,
    temporalAddress: temporal.address,
    stripeMockUrl: stripeMock.url,
    mailpitUrl: mailpit.httpUrl,
    smtpUrl: mailpit.smtpUrl,
    workflowBundlePath,
  };
  fs.writeFileSync(TEST_ENV_FILE, JSON.stringify(env));
  (globalThis as Record<string, unknown>).__pledgeflowTeardown = async () => {
    stripeMock.process.kill();
    await mailpit.stop();
    await temporal.stop();
    fs.rmSync(workflowBundlePath, { force: true });
    fs.rmSync(TEST_ENV_FILE, { force: true });
  };
  console.log(`\ntest environment ready in ${Date.now() - started} ms: temporal ${temporal.address}, stripe-mock ${stripeMock.url}, mailpit ${mailpit.httpUrl}`);
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
