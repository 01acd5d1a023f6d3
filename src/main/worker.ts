import { loadConfig } from '../config';
import { errorText } from '../infra/dependencies';
import { ensureSearchAttributes } from '../temporal/client';
import { ensureSchedules } from '../workers/schedules';
import { ensureHoldSweepers } from '../commerce/holdSweepers';
import { createWorkers } from '../workers/worker';
import { createServices, installTemporalRuntime, onShutdownSignal, loadDotEnv, runMain, verifyDependencies } from './bootstrap';

/**
 * `npm run worker`: the Temporal workers alone, as deployed (scale out by running more). Registers any
 * missing search attribute and the recurring schedules, then polls until SIGTERM, letting running
 * activities finish within WORKER_SHUTDOWN_GRACE_SECONDS.
 */
runMain(async () => {
  loadDotEnv();
  const config = loadConfig(process.env);
  const services = createServices(config, 'worker');
  const { logger } = services;
  installTemporalRuntime(logger);
  await verifyDependencies(services);

  try {
    const added = await ensureSearchAttributes(await services.temporal.connection(), config.TEMPORAL_NAMESPACE);
    if (added.length) logger.info({ added }, 'registered search attributes');
  } catch (err) {
    // Temporal Cloud and locked-down clusters refuse the operator API; the attributes are then registered
    // out of band, and a missing one shows up as a clear workflow start error.
    logger.warn({ error: errorText(err) }, 'could not verify search attributes; register them with `temporal operator search-attribute create`');
  }

  const workers = await createWorkers(services);
  const created = await ensureSchedules(await services.temporal.client(), config);
  if (created.length) logger.info({ created }, 'created schedules');
  // The cart holds' timers: the long-lived hold-expiry sweepers run before any hold is taken.
  await ensureHoldSweepers(services);

  const running = workers.run();
  onShutdownSignal(logger, async () => {
    workers.shutdown();
    await running;
    await workers.connection.close();
    await services.close();
  });
  logger.info({ taskQueue: config.TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE, temporal: config.TEMPORAL_ADDRESS }, 'worker running');
  try {
    await running;
  } catch (err) {
    logger.fatal({ err }, 'worker stopped unexpectedly');
    process.exit(1);
  }
});
