import { condition, continueAsNew, proxyActivities, setCurrentDetails, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { type HoldExpiryInput, type HoldExpiryWorkflow, holdExpiryStateQuery, holdExpiryWakeSignal } from '../../commerce/contract';

/**
 * A hold-expiry sweeper (`<task queue>:hold-expiry:<shard>`): the durable timer of every cart hold of its shard
 * (holds are split by variant, src/commerce/holdShards.ts). It loops: release every due hold of the shard
 * (releaseDueHolds), learn when the earliest remaining one ends, sleep until then, but never longer than
 * maxSleepMs after that read.
 *
 * Why an add needs no signal (so a hot add never waits on Temporal): a hold taken at t (Postgres' clock) ends
 * at t + RESERVATION_TTL or later, and maxSleepMs is at most half of that. A hold committed before a read is
 * seen by it, and the sweeper wakes by its expiry. One committed after the read at s has t >= s - c (c: the
 * gap between the statement's now() and its commit), while the sweeper wakes by s + maxSleepMs (the bound
 * counts from before the read was scheduled), which is before t + RESERVATION_TTL as long as c and the clocks'
 * difference stay under RESERVATION_TTL / 2. Holds that can be shorter than that (a drop's) signal `wake` with their expiry
 * before taking stock; a process with a shorter RESERVATION_TTL lowers maxSleepMs the same way.
 */

const { releaseDueHolds } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/** Expiries this close together are released in one pass (at most a tenth of the sleep bound, at most 1 s). */
const gatherMs = (maxSleepMs: number) => Math.min(1_000, Math.max(1, Math.floor(maxSleepMs / 10)));

/** Loops per run before a continue-as-new even when the server does not suggest one (keeps replays short). */
const LOOPS_PER_RUN = 500;

export const holdExpiry: HoldExpiryWorkflow = async (input: HoldExpiryInput) => {
  let maxSleepMs = input.maxSleepMs;
  let released = input.released ?? 0;
  /** Reads asked for by signals (sorted): each stays until a read starts after it. */
  let wakes: number[] = (input.wakes ?? []).map((w) => Date.parse(w)).sort((a, b) => a - b);
  let nextWake: number | null = null;
  let sweeps = 0;
  let changes = 0;

  setHandler(holdExpiryWakeSignal, (wake) => {
    if (wake.maxSleepMs !== undefined && wake.maxSleepMs > 0) maxSleepMs = Math.min(maxSleepMs, wake.maxSleepMs);
    if (wake.by !== undefined) {
      const by = Date.parse(wake.by);
      // One read serves every wake within the gathering window after it: keep the earliest of such neighbours.
      if (!wakes.some((w) => w <= by && by - w < gatherMs(maxSleepMs))) wakes = [...wakes.filter((w) => !(w > by && w - by < gatherMs(maxSleepMs))), by].sort((a, b) => a - b);
    }
    changes++;
  });
  setHandler(holdExpiryStateQuery, () => ({
    shard: input.shard,
    shards: input.shards,
    maxSleepMs,
    nextWakeAt: nextWake === null ? null : new Date(nextWake).toISOString(),
    gatherMs: gatherMs(maxSleepMs),
    released,
    sweeps,
  }));

  const showDetails = () =>
    setCurrentDetails(
      [
        `**hold-expiry** shard ${input.shard} of ${input.shards}`,
        `next read: ${nextWake === null ? 'now' : new Date(nextWake).toISOString()} (at most ${Math.round(maxSleepMs / 1000)} s apart)`,
        `released so far: ${released} hold(s) in ${sweeps} pass(es) this run`,
      ].join('\n'),
    );

  for (let loop = 0; loop < LOOPS_PER_RUN && !workflowInfo().continueAsNewSuggested; loop++) {
    nextWake = null;
    const readFrom = Date.now();
    const result = await releaseDueHolds({ shard: input.shard, shards: input.shards });
    // A wake asked for before this read began is served by it: its hold was due, or is seen below.
    wakes = wakes.filter((w) => w > readFrom);
    released += result.released;
    sweeps++;
    const earliest = result.nextExpiresAt === null ? Infinity : Date.parse(result.nextExpiresAt) + gatherMs(maxSleepMs);
    // Sleep until the earliest of: that hold (gathering neighbours), the bound after this read, a requested wake;
    // a signal may bring the wake forward while sleeping.
    const wakeAt = () => Math.min(earliest, readFrom + maxSleepMs, wakes[0] ?? Infinity);
    nextWake = wakeAt();
    showDetails();
    while (Date.now() < wakeAt()) {
      const seen = changes;
      await condition(() => changes !== seen, Math.max(1, wakeAt() - Date.now()));
      nextWake = wakeAt();
    }
  }
  await condition(allHandlersFinished);
  await continueAsNew<HoldExpiryWorkflow>({ ...input, maxSleepMs, released, wakes: wakes.map((w) => new Date(w).toISOString()) });
};
