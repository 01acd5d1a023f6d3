import { createApp } from '../api/app';
import { loadConfig } from '../config';
import { closeServer, createServices, displayUrl, listen, onShutdownSignal, loadDotEnv, runMain, verifyDependencies } from './bootstrap';

/**
 * `npm run api`: the HTTP API alone, as deployed (stateless, any number of replicas). It neither starts
 * Temporal nor migrates the database: `npm run migrate` (or the compose `migrate` service) does that first.
 */
runMain(async () => {
  loadDotEnv();
  const config = loadConfig(process.env);
  const services = createServices(config, 'api');
  await verifyDependencies(services);
  const server = await listen(createApp(services), config);
  onShutdownSignal(services.logger, async () => {
    await closeServer(server);
    await services.close();
  });
  services.logger.info({ url: displayUrl(config.HOST, config.PORT), payments: config.paymentProvider }, 'api listening');
});
