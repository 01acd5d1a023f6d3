import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { DropStatus } from '../../drops/contract';
import { Status } from '../../temporal/searchAttributes';
import { runFcfsSale } from './fcfsSale';
import { DROP_NOT_FOUND, type DropRunInput, dropClaimedSignal } from '../../drops/contract';

/**
 * One drop's life: `drop:<id>`, started when the drop is created. It owns every timer of the drop (opens_at,
 * closes_at, each claim window) and nothing else: entries, ranks and windows are rows in Postgres, read by
 * activities at the moments they matter, so 100k entrants never touch this history. Every step is idempotent
 * and the phase is re-read from the drop row on (re)start, so a continue-as-new or a replay after a worker
 * restart picks up where the row says; claim-window timers are derived from the stored claim_expires_at.
 *
 * Lottery: scheduled → open (entries) → drawing (entries hash, draw) → claiming (windows, expiries,
 * promotions) → sold_out | closed. First-come: after `open` the sale is runFcfsSale's (src/workflows/drops/fcfsSale.ts).
 */

const {
  openDrop,
  closeLotteryRegistration,
  settleLotteryClaims,
} = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumInterval: '30 seconds' } });

// The draw and telling every entrant page through all entries: long, but heartbeating.
const { drawLottery, finishLottery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumInterval: '30 seconds' },
});

/** How long after the start a missing row may still be on its way (its transaction commits right after the start). */
const ROW_COMMIT_GRACE_MS = 60_000;

/** The least a claim-phase wait lasts when the next window's end is already past by this workflow's clock. */
const MIN_CLAIM_WAIT_MS = 1_000;

// The drop row is committed by the request that starts this workflow, a moment AFTER the start: a missing row
// is retried until rowGraceMs after the start, then DropNotFound (non-retryable) says there is no drop. Any
// other failure (the database unreachable) is retried without limit: giving up would strand a real drop, whose
// workflow id cannot be started again.
const { dropPhase } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});

const untilInstant = (iso: string) => Math.max(0, new Date(iso).getTime() - Date.now());
const sleepUntil = async (iso: string) => {
  const ms = untilInstant(iso);
  if (ms > 0) await sleep(ms);
};

export async function drop(input: DropRunInput): Promise<void> {
  const details = { phase: 'starting' as string, entries: 0, claimed: 0, remaining: input.quantity, waitlisted: 0 };
  let shownStatus: DropStatus | undefined;
  const show = (status?: DropStatus) => {
    if (status) details.phase = status;
    if (status && status !== shownStatus) {
      upsertSearchAttributes([{ key: Status, value: status }]);
      shownStatus = status;
    }
    setCurrentDetails(
      [
        `**Phase:** ${details.phase}`,
        `**Entries:** ${details.entries}`,
        `**Claimed:** ${details.claimed} of ${input.quantity}; **remaining:** ${details.remaining}`,
        ...(input.mode === 'lottery' ? [`**Waitlisted:** ${details.waitlisted}`] : []),
        `**Opens:** ${input.opensAt}${input.closesAt ? `; **closes:** ${input.closesAt}` : ''}`,
      ].join('\n\n'),
    );
  };

  let claims = 0;
  setHandler(dropClaimedSignal, () => {
    claims += 1;
  });

  let now;
  try {
    now = await dropPhase({ dropId: input.dropId, startedAt: workflowInfo().startTime.toISOString(), graceMs: input.rowGraceMs ?? ROW_COMMIT_GRACE_MS });
  } catch (err) {
    // The creating request rolled back: there is no drop.
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === DROP_NOT_FOUND) return;
    throw err;
  }
  let status = now.status;
  details.remaining = now.quantity - now.sold;
  details.entries = now.entries;
  show(status);

  if (status === 'scheduled') {
    await sleepUntil(input.opensAt);
    status = (await openDrop({ dropId: input.dropId })).status;
    show(status);
  }

  if (input.mode === 'fcfs') {
    if (status === 'open') await runFcfsSale(input);
    return;
  }

  if (status === 'open') {
    await sleepUntil(input.closesAt!);
    const closed = await closeLotteryRegistration({ dropId: input.dropId });
    status = closed.status as DropStatus;
    details.entries = closed.entries;
    show(status);
  }

  if (status === 'drawing') {
    const drawn = await drawLottery({ dropId: input.dropId });
    status = drawn.status as DropStatus;
    details.waitlisted = drawn.waitlisted;
    show(status);
  }

  if (status === 'claiming') {
    for (;;) {
      const seen = claims;
      const phase = await settleLotteryClaims({ dropId: input.dropId });
      Object.assign(details, { entries: phase.entries, claimed: phase.claimed, remaining: phase.quantity - phase.sold, waitlisted: phase.waitlisted });
      show(phase.status as DropStatus);
      if (phase.status !== 'claiming') return;
      if (phase.sold >= phase.quantity || (phase.openWins === 0 && phase.waitlisted === 0)) break;
      if (workflowInfo().continueAsNewSuggested) {
        // Everything lives in Postgres: the next run re-reads it. The signal handler does nothing lasting.
        await continueAsNew<typeof drop>(input);
      }
      // Until the earliest open window ends, or a claim lands (which may have sold the last unit). An end already
      // past here (this clock ahead of the activity host's) still waits a moment rather than settle back to back.
      const claimed = () => claims !== seen;
      if (!phase.nextExpiresAt) await condition(claimed);
      else await condition(claimed, untilInstant(phase.nextExpiresAt) || MIN_CLAIM_WAIT_MS);
    }
    const finished = await finishLottery({ dropId: input.dropId });
    show(finished.status as DropStatus);
  }
}
