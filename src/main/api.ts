import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createServices, displayUrl, loadDotEnv, onShutdownSignal, runMain, verifyDependencies } from './bootstrap';
import { isApiProcess, serveApi, startApiCluster, webConcurrency } from './cluster';

/**
 * `npm run api`: the HTTP API alone, as deployed (stateless, any number of replicas), on every core:
 * WEB_CONCURRENCY processes (default one per core) share PORT; with 1 the API runs in this process. It neither
 * starts Temporal nor migrates the database: `npm run migrate` (or the compose `migrate` service) does that first.
 */
runMain(async () => {
  loadDotEnv();
  const config = loadConfig(process.env);
  if (isApiProcess()) return serveApi(config, 'api', 'api process listening');
  const processes = webConcurrency(config);
  if (processes === 1) return serveApi(config, 'api', 'api listening');

  // Checked once here, so an unreachable dependency is one line, not one per process.
  const probe = createServices(config, 'api');
  try {
    await verifyDependencies(probe);
  } finally {
    await probe.close();
  }
  const logger = createLogger(config.LOG_LEVEL, { process: 'api-primary' });
  const apiCluster = await startApiCluster({
    processes,
    env: {},
    logger,
    onFatal: (err) => {
      logger.fatal({ err }, 'api processes keep failing; stopping');
      void apiCluster.stop(2_000).finally(() => process.exit(1));
    },
  });
  onShutdownSignal(logger, () => apiCluster.stop());
  logger.info({ url: displayUrl(config.HOST, config.PORT), processes, payments: config.paymentProvider }, 'api listening');
});
