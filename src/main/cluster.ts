import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { createApp } from '../api/app';
import type { Config } from '../config';
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest, type MetricsResponse } from '../infra/metrics';
import type { Logger } from '../logger';
import { closeServer, createServices, displayUrl, listen, onShutdownSignal, verifyDependencies } from './bootstrap';

/**
 * The API on every core: `WEB_CONCURRENCY` API processes (default one per core) sharing one port through
 * node:cluster (the primary accepts connections and hands them to the API processes in turn). The primary runs no
 * API itself: under `npm run api` it only supervises; under `npm start` it also runs the Temporal workers, so they
 * have a process of their own. API processes share nothing in memory: live updates and cache evictions go through
 * Redis pub/sub, and GET /metrics in any of them answers for all (the primary gathers every process's registry).
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
  onFatal: (err: Error) => void;
}): Promise<ApiCluster> {
  const { logger } = opts;
  let stopping = false;
  // Until every process listens, a death fails the start instead of being replaced.
  let started = false;
  let earlyCrashes = 0;
  const aggregator = new AggregatorRegistry();

  // GET /metrics in an API process: the primary asks every process for its registry and sums them up.
  cluster.on('message', (worker: Worker, message: MetricsRequest) => {
    if (message?.type !== METRICS_REQUEST) return;
    const reply = (m: MetricsResponse) => {
      if (worker.isConnected()) worker.send(m);
    };
    aggregator.clusterMetrics().then(
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
