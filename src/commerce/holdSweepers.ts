import { WorkflowNotFoundError } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { TemporalClientProvider } from '../temporal/client';
import { Status } from '../temporal/searchAttributes';
import { HOLD_EXPIRY_WORKFLOW, type HoldExpiryInput, type HoldExpiryWake, type HoldExpiryWorkflow, holdExpiryWakeSignal, holdExpiryWorkflowId } from './contract';
import { holdShard } from './holdShards';

/**
 * Starting and waking the hold-expiry sweepers (src/workflows/commerce/holdExpiry.ts), the durable timers of
 * every cart hold. Each start is a signal-with-start carrying this process's sleep bound, so a sweeper that
 * runs already only learns the (possibly shorter) bound, and one that is gone starts again.
 */

export interface HoldSweeperDeps {
  config: Pick<Config, 'TASK_QUEUE' | 'RESERVATION_TTL' | 'TEMPORAL_UPDATE_TIMEOUT' | 'HOLD_EXPIRY_SHARDS'>;
  temporal: TemporalClientProvider;
}

/** Half of the shortest hold an add makes without telling its sweeper: the other half is the race margin. */
export const sweeperMaxSleepMs = (config: Pick<Config, 'RESERVATION_TTL'>) => Math.max(1, Math.floor(config.RESERVATION_TTL / 2));

function wakeShard(client: Client, config: HoldSweeperDeps['config'], shard: number, wake: HoldExpiryWake) {
  const input: HoldExpiryInput = { shard, shards: config.HOLD_EXPIRY_SHARDS, maxSleepMs: sweeperMaxSleepMs(config) };
  return client.workflow.signalWithStart<HoldExpiryWorkflow, [HoldExpiryWake]>(HOLD_EXPIRY_WORKFLOW, {
    workflowId: holdExpiryWorkflowId(config.TASK_QUEUE, shard),
    taskQueue: config.TASK_QUEUE,
    args: [input],
    signal: holdExpiryWakeSignal,
    signalArgs: [{ maxSleepMs: input.maxSleepMs, ...wake }],
    // A running sweeper only gets the signal; one that failed or was terminated is started afresh.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: Status, value: 'sweeping' }],
    staticSummary: `Releases expired cart holds of shard ${shard} of ${config.HOLD_EXPIRY_SHARDS}`,
  });
}

/** Makes sure every shard's sweeper runs (and knows this process's sleep bound). */
export async function ensureHoldSweepers(deps: HoldSweeperDeps): Promise<void> {
  const { config } = deps;
  await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
    Promise.all(Array.from({ length: config.HOLD_EXPIRY_SHARDS }, (_, shard) => wakeShard(client, config, shard, {}))),
  );
}

/**
 * ensureHoldSweepers once per process: the first hold pays the Temporal round trip, every later one nothing.
 * A failed attempt is forgotten, so the next hold tries again.
 */
export function holdSweepersOnce(deps: HoldSweeperDeps): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= ensureHoldSweepers(deps).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
}

/**
 * Asks the sweeper of a variant's holds to read them again by `by`: for a hold that may end sooner than the
 * sweepers' sleep bound. Call it BEFORE taking the stock.
 */
export async function wakeHoldSweeper(deps: HoldSweeperDeps, variantId: string, by: Date): Promise<void> {
  const { config } = deps;
  await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
    wakeShard(client, config, holdShard(variantId, config.HOLD_EXPIRY_SHARDS), { by: by.toISOString() }),
  );
}

/** The shards whose sweeper is not running (never started, failed, terminated). */
export async function missingHoldSweepers(deps: HoldSweeperDeps): Promise<number[]> {
  const { config } = deps;
  const client = await deps.temporal.client();
  const missing: number[] = [];
  for (let shard = 0; shard < config.HOLD_EXPIRY_SHARDS; shard++) {
    try {
      const d = await client.workflow.getHandle(holdExpiryWorkflowId(config.TASK_QUEUE, shard)).describe();
      if (d.status.name !== 'RUNNING') missing.push(shard);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      missing.push(shard);
    }
  }
  return missing;
}
