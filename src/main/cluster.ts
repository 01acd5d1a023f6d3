import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { createApp } from '../api/app';
import type { Config } from '../config';
import {
  CLUSTER_METRICS_TIMEOUT_MS,
  METRICS_COLLECT,
  METRICS_COLLECTED,
  METRICS_REQUEST,
  METRICS_RESPONSE,
  type MetricsCollect,
  type MetricsCollected,
  type MetricsRequest,
  type MetricsResponse,
  type RegistryJson,
} from '../infra/metrics';
import type { Logger } from '../logger';
import { closeServer, createServices, displayUrl, listen, onShutdownSignal, verifyDependencies } from './bootstrap';

/**
 * The API on every core: `WEB_CONCURRENCY` API processes (default one per core) sharing one port through
 * node:cluster (the primary accepts connections and hands them to the API processes in turn). The primary runs no
 * API itself: under `npm run api` it only supervises; under `npm start` it also runs the Temporal workers, so they
 * have a process of their own. API processes share nothing in memory: live updates and cache evictions go through
 * Redis pub/sub, and GET /metrics in any of them answers for all (the primary gathers every process's registry
 * and sums them with prom-client's aggregation).
 */

/** How many API processes to run: WEB_CONCURRENCY, else one per core. */
export function webConcurrency(config: Pick<Config, 'WEB_CONCURRENCY'>): number {
  return config.WEB_CONCURRENCY ?? os.availableParallelism();
}

/** True in a process forked by `startApiCluster` (the entry point runs `serveApi` there and nothing else). */
export const isApiProcess = (): boolean => cluster.isWorker;

/**
 * One API process: its own connections, the app, listening; SIGTERM/SIGINT close the server (in-flight requests
 * finish) and the connections, then exit 0. Logs `readyMessage` once listening.
 */
export async function serveApi(config: Config, processName: string, readyMessage: string): Promise<void> {
  const services = createServices(config, processName);
  services.metrics.joinCluster();
  await verifyDependencies(services);
  const server = await listen(createApp(services), config);
  onShutdownSignal(services.logger, async () => {
    await closeServer(server);
    await services.close();
  });
  services.logger.info({ url: displayUrl(config.HOST, config.PORT), payments: config.paymentProvider, pid: process.pid }, readyMessage);
}

let collections = 0;

/** Every live API process's registry and the primary's own (its workers' counters, under `npm start`), summed. */
function clusterExposition(own: Registry | undefined): Promise<string> {
  const id = ++collections;
  const processes = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
  return new Promise((resolve, reject) => {
    const parts: RegistryJson[] = [];
    let pending = processes.length;
    const onMessage = (_worker: Worker, m: MetricsCollected) => {
      if (m?.type !== METRICS_COLLECTED || m.id !== id) return;
      parts.push(m.metrics);
      if (--pending === 0) done();
    };
    const timer = setTimeout(() => done(new Error('an API process did not answer for /metrics')), CLUSTER_METRICS_TIMEOUT_MS);
    function done(err?: Error) {
      clearTimeout(timer);
      cluster.off('message', onMessage);
      if (err) return reject(err);
      Promise.resolve(own?.getMetricsAsJSON())
        .then((mine) => AggregatorRegistry.aggregate(mine ? [...parts, mine] : parts).metrics())
        .then(resolve, reject);
    }
    cluster.on('message', onMessage);
    for (const w of processes) w.send({ type: METRICS_COLLECT, id } satisfies MetricsCollect);
    if (pending === 0) done();
  });
}

export interface ApiCluster {
  /** Stops every API process (SIGTERM, then SIGKILL after `graceMs`) and resolves when all have exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A crash this soon after its start counts against the restart budget. */
const EARLY_CRASH_MS = 10_000;
const MAX_EARLY_CRASHES = 5;

/**
 * Forks `processes` API processes running this same entry point (which must call `serveApi` when
 * `isApiProcess()`), with `env` added to their environment, and resolves once every one listens. An API process
 * that dies is replaced (a process that keeps dying at start stops the cluster: `onFatal`).
 */
export async function startApiCluster(opts: {
  processes: number;
  env: Record<string, string>;
  logger: Logger;
  /** This process's own registry, summed into GET /metrics with the API processes'. */
  ownMetrics?: Registry;
  onFatal: (err: Error) => void;
}): Promise<ApiCluster> {
  const { logger } = opts;
  let stopping = false;
  // Until every process listens, a death fails the start instead of being replaced.
  let started = false;
  let earlyCrashes = 0;
  // GET /metrics in an API process: the primary asks every process for its registry and sums them up.
  cluster.on('message', (worker: Worker, message: MetricsRequest) => {
    if (message?.type !== METRICS_REQUEST) return;
    const reply = (m: MetricsResponse) => {
      if (worker.isConnected()) worker.send(m);
    };
    clusterExposition(opts.ownMetrics).then(
      (text) => reply({ type: METRICS_RESPONSE, id: message.id, text }),
      (err: unknown) => reply({ type: METRICS_RESPONSE, id: message.id, error: String(err) }),
    );
  });

  const fork = (): Promise<Worker> => {
    const startedAt = Date.now();
    const worker = cluster.fork(opts.env);
    worker.once('exit', (code, signal) => {
      if (stopping || !started) return;
      logger.error({ pid: worker.process.pid, code, signal }, 'api process exited; starting another');
      if (Date.now() - startedAt < EARLY_CRASH_MS && ++earlyCrashes >= MAX_EARLY_CRASHES) {
        opts.onFatal(new Error(`API processes keep exiting right after start (${earlyCrashes} times); see the log above`));
        return;
      }
      void fork();
    });
    return new Promise((resolve, reject) => {
      worker.once('listening', () => resolve(worker));
      worker.once('exit', (code) => reject(new Error(`an API process exited with code ${code} before listening`)));
    });
  };

  const stop = async (graceMs = 15_000) => {
    stopping = true;
    const running = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    await Promise.all(
      running.map(
        (w) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    await Promise.all(Array.from({ length: opts.processes }, fork));
  } catch (err) {
    await stop(2_000);
    throw err;
  }
  started = true;
  return { stop };
}
