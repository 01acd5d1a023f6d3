import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createApp } from '../api/app';
import { loadConfig, type Config } from '../config';
import { errorText, isListening } from '../infra/dependencies';
import { createLogger } from '../logger';
import { ensureSearchAttributes } from '../temporal/client';
import { startDevServer, type DevServer } from '../temporal/devServer';
import { startLocalMail, type LocalMail } from '../infra/mailpit';
import { ensureSchedules } from '../workers/schedules';
import { ensureHoldSweepers } from '../commerce/holdSweepers';
import { createWorkers, type WorkerSet } from '../workers/worker';
import { buildWebAppIfStale, WEB_DIST_INDEX } from './webBuild';
import { isApiProcess, serveApi, startApiCluster, webConcurrency, type ApiCluster } from './cluster';
import {
  closeServer,
  createServices,
  displayUrl,
  installTemporalRuntime,
  listen,
  onShutdownSignal,
  persistentDevSecret,
  prepareDatabase,
  redactUrl,
  loadDotEnv,
  runMain,
  StartupError,
  verifyDependencies,
} from './bootstrap';

/**
 * `npm start`: the whole platform for development. A Temporal dev server (unless TEMPORAL_ADDRESS points
 * elsewhere or one already listens on 7233), the database created and migrated and the workers in this process,
 * the API in WEB_CONCURRENCY processes of its own (default one per core; with 1, in this process too);
 * Ctrl-C stops all of it.
 */
const LOCAL_TEMPORAL = '127.0.0.1:7233';

async function main(): Promise<void> {
  loadDotEnv();
  let config: Config = loadConfig(process.env);
  const dataDir = path.resolve(config.DEV_SERVER_DATA_DIR);
  // Tokens issued before a restart stay valid when the secret does.
  if (!process.env.JWT_SECRET) config = { ...config, JWT_SECRET: persistentDevSecret(dataDir) };
  const say = (msg: string) => console.log(`[start] ${msg}`);

  // Before the dev server: it would otherwise create the Temporal runtime with its default signal handlers.
  installTemporalRuntime(createLogger(config.LOG_LEVEL, { process: 'all' }));

  let devServer: DevServer | undefined;
  let temporalUi: string | undefined;
  const temporalReady = (async () => {
    if (process.env.TEMPORAL_ADDRESS) {
      say(`using Temporal at ${config.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS)`);
      return;
    }
    if (await isListening(LOCAL_TEMPORAL)) {
      say(`reusing the Temporal server already listening on ${LOCAL_TEMPORAL}`);
      if (await isListening(`127.0.0.1:${config.TEMPORAL_UI_PORT}`)) temporalUi = `http://localhost:${config.TEMPORAL_UI_PORT}`;
      config = { ...config, TEMPORAL_ADDRESS: LOCAL_TEMPORAL };
      return;
    }
    try {
      devServer = await startDevServer({
        cliPath: config.TEMPORAL_CLI_PATH,
        namespace: config.TEMPORAL_NAMESPACE,
        port: 7233,
        uiPort: config.TEMPORAL_UI_PORT,
        dbFilename: path.join(dataDir, 'temporal.db'),
        log: say,
      });
    } catch (err) {
      throw new StartupError(
        `The Temporal dev server did not start (${errorText(err).replace(/\s*\n\s*/g, ' ')}). Check that ports 7233 and ${config.TEMPORAL_UI_PORT} (TEMPORAL_UI_PORT) are free, set TEMPORAL_CLI_PATH to a working \`temporal\` binary, or set TEMPORAL_ADDRESS to an existing server.`,
      );
    }
    temporalUi = devServer.uiUrl?.replace('127.0.0.1', 'localhost');
    config = { ...config, TEMPORAL_ADDRESS: devServer.address };
    const shownDir = dataDir.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), dataDir) : dataDir;
    say(`Temporal dev server on ${devServer.address}, state in ${path.join(shownDir, 'temporal.db')}`);
  })();

  // Email goes to SMTP_URL, or to a local Mailpit (its web UI shows every message sent).
  let mail: LocalMail | undefined;
  const mailReady = startLocalMail(config, dataDir, say).then((m) => {
    mail = m;
    config = { ...config, SMTP_URL: m.smtpUrl };
  });

  const databaseReady = prepareDatabase(config).then(({ created, applied }) => {
    if (created) say(`created the database at ${redactUrl(config.DATABASE_URL)}`);
    if (applied.length) say(`applied migrations: ${applied.join(', ')}`);
  });

  // Bundling the workflow code is the slowest step, so it runs while the server and database come up.
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  const bundled = config.START_WORKER
    ? bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundlerLogger }).then((b) => {
        fs.mkdirSync(dataDir, { recursive: true });
        fs.writeFileSync(bundlePath, b.code);
      })
    : Promise.resolve();

  // The browser app (served at /) is rebuilt when stale; without it the API still runs, so a failure only warns.
  const webReady = buildWebAppIfStale(say).catch((err: unknown) => say(`the web app was not built (${errorText(err)}); the API runs without it`));

  // Stop whatever did start if a sibling step fails.
  const results = await Promise.allSettled([temporalReady, databaseReady, bundled, mailReady, webReady]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await devServer?.stop().catch(() => undefined);
    await mail?.stop();
    throw failed.reason;
  }

  const services = createServices(config, 'all');
  const { logger } = services;
  try {
    await verifyDependencies(services);
    const added = await ensureSearchAttributes(await services.temporal.connection(), config.TEMPORAL_NAMESPACE);
    if (added.length) say(`registered search attributes: ${added.join(', ')}`);
  } catch (err) {
    await devServer?.stop().catch(() => undefined);
    await mail?.stop();
    throw err;
  }

  let workers: WorkerSet | undefined;
  let workersRunning: Promise<void> | undefined;
  let server: http.Server | undefined;
  let apiCluster: ApiCluster | undefined;

  const stop = async () => {
    if (server) await closeServer(server);
    await apiCluster?.stop();
    if (workers) {
      workers.shutdown();
      await workersRunning?.catch(() => undefined);
      await workers.connection.close().catch(() => undefined);
    }
    await services.close();
    await devServer?.stop().catch((err: unknown) => logger.warn({ err }, 'dev server stop failed'));
    await mail?.stop();
    fs.rmSync(bundlePath, { force: true });
  };
  onShutdownSignal(logger, stop);

  try {
    if (config.START_WORKER) {
      workers = await createWorkers(services, { workflowBundlePath: bundlePath });
      const created = await ensureSchedules(await services.temporal.client(), config);
      if (created.length) say(`created schedules: ${created.join(', ')}`);
      // The cart holds' timers: the long-lived hold-expiry sweepers run before any hold is taken.
      await ensureHoldSweepers(services);
      workersRunning = workers.run();
      workersRunning.catch((err: unknown) => {
        // A worker that dies leaves workflows unserved: better to stop loudly than to look healthy.
        logger.fatal({ err }, 'worker stopped unexpectedly');
        void stop().finally(() => process.exit(1));
      });
    }
    const apiProcesses = webConcurrency(config);
    if (config.START_API && apiProcesses === 1) server = await listen(createApp(services), config);
    else if (config.START_API) {
      // What this process worked out (the dev server's address, the dev token secret) goes to the API processes.
      apiCluster = await startApiCluster({
        processes: apiProcesses,
        env: { TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS, JWT_SECRET: config.JWT_SECRET },
        logger,
        ownMetrics: services.metrics.registry,
        onFatal: (err) => {
          logger.fatal({ err }, 'api processes keep failing; stopping');
          void stop().finally(() => process.exit(1));
        },
      });
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  const api = displayUrl(config.HOST, config.PORT);
  const rows: [string, string][] = [
    ...(server || apiCluster ? ([['API', api], ['API docs', `${api}/docs`], ['Readiness', `${api}/readyz`]] as [string, string][]) : []),
    ...((server || apiCluster) && fs.existsSync(WEB_DIST_INDEX) ? ([['Web app', `${api}/`]] as [string, string][]) : []),
    ['Temporal Web UI', temporalUi ? `${temporalUi}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows` : '(none: the Temporal server in use has no local UI)'],
    ['Temporal', `${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}, task queue ${config.TASK_QUEUE})`],
    ['Postgres', redactUrl(config.DATABASE_URL)],
    ['Redis', redactUrl(config.REDIS_URL)],
    ['Payments', config.paymentProvider === 'stripe' ? 'Stripe (STRIPE_SECRET_KEY)' : 'simulated gateway (set STRIPE_SECRET_KEY for Stripe)'],
    ['Email', mail?.shown ?? '(off)'],
  ];
  console.log(
    [
      '',
      `Pledgeflow is ready (${process.uptime().toFixed(1)} s after launch)${config.START_WORKER ? '' : ' (START_WORKER=false: no worker)'}${config.START_API ? (apiCluster ? ` (API in ${webConcurrency(config)} processes)` : '') : ' (START_API=false: no API)'}`,
      ...rows.map(([k, v]) => `  ${k.padEnd(16)} ${v}`),
      '  Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
  log: () => undefined,
};

// A forked API process (see src/main/cluster.ts) runs the API and nothing else.
runMain(isApiProcess() ? () => serveApiProcess() : main);

async function serveApiProcess(): Promise<void> {
  loadDotEnv();
  await serveApi(loadConfig(process.env), 'api', 'api process listening');
}
