import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, createPaymentQueueActivities } from '../activities';
import { startOutboxDispatcher } from '../notifications/dispatcher';
import { paymentsTaskQueue } from '../temporal/taskQueues';
import type { ActivityDeps } from './deps';

export interface WorkerSet {
  /** Resolves when both workers have shut down (after `shutdown()` or a fatal error). */
  run(): Promise<void>;
  /** Stops polling and lets running activities finish within WORKER_SHUTDOWN_GRACE_SECONDS. */
  shutdown(): void;
  connection: NativeConnection;
}

export interface WorkerOverrides {
  /** A prebuilt workflow bundle (tests build it once per run); otherwise bundled from src/workflows. */
  workflowBundlePath?: string;
  connection?: NativeConnection;
  /**
   * Whether this process drains the outbox (default OUTBOX_DISPATCHER). Test workers leave it to the
   * dispatcher tests, which must be the only ones claiming rows from the shared test database.
   */
  outboxDispatcher?: boolean;
}

/**
 * The platform's workers: one on the main task queue (all workflows, non-payment activities) and one on the
 * payments queue, whose activity rate is capped for every worker together (the provider's own call budget is
 * enforced per call by the gateway, see src/payments/rateLimitedGateway.ts); plus the outbox dispatcher.
 */
export async function createWorkers(deps: ActivityDeps, overrides: WorkerOverrides = {}): Promise<WorkerSet> {
  const { config } = deps;
  const connection = overrides.connection ?? (await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  const common: Pick<WorkerOptions, 'connection' | 'namespace' | 'shutdownGraceTime'> = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SECONDS}s`,
  };
  const workflowSource = overrides.workflowBundlePath
    ? { workflowBundle: { codePath: overrides.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };

  const main = await Worker.create({
    ...common,
    ...workflowSource,
    taskQueue: config.TASK_QUEUE,
    activities: createActivities(deps),
  });
  const payments = await Worker.create({
    ...common,
    taskQueue: paymentsTaskQueue(config.TASK_QUEUE),
    activities: createPaymentQueueActivities(deps),
    maxTaskQueueActivitiesPerSecond: config.PAYMENTS_ACTIVITIES_PER_SECOND,
  });

  // The outbox is drained by the worker process: it already owns every other background job.
  const dispatcher = (overrides.outboxDispatcher ?? config.OUTBOX_DISPATCHER) ? startOutboxDispatcher(deps) : { stop: async () => undefined };

  const shutdown = () => {
    for (const w of [main, payments]) {
      if (w.getState() === 'RUNNING') w.shutdown();
    }
  };
  return {
    connection,
    shutdown,
    run: async () => {
      const results = await Promise.allSettled([main.run(), payments.run()]);
      // One worker failing must not leave the other polling alone.
      shutdown();
      await dispatcher.stop();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
