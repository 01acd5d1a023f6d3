import {
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { FcfsActivities } from '../../activities/drops/fcfsSale';
import { admissionPace, decide, type RoomState } from '../../domain/waitingRoom';
import type { DropStatus, DropWorkflowInput } from '../../drops/contract';
import { Status } from '../../temporal/searchAttributes';
import { queueChangedSignal } from '../../drops/contract';

/**
 * The first-come sale, run by `drop:<id>` once the drop is open (src/workflows/drops/drop.ts): the opening shuffle
 * of early arrivals, then admission steps at the drop's pace until every unit is sold (`sold_out`) or
 * closes_at passes (`closed`), then every shopper still waiting is told.
 *
 * Joiners never signal (a hyped drop has thousands): each step reads the room from Postgres. The only signal,
 * `queueChanged`, is a nudge without data, sent by an admitted shopper leaving and by the first joiner into an
 * idle room; missing one only delays the next step to its poll. The history holds counts, and a long sale
 * continues as new when Temporal suggests it (the next run re-reads everything from the tables).
 */

/** How long an idle room (nobody waiting, nobody holding) sleeps without a nudge; joiners nudge it. */
const IDLE_POLL_MS = 30_000;
/** After a hold's expiry, so the cart's own workflow has released it when the room looks. */
const HOLD_SLACK_MS = 250;

// The steps heartbeat while they run (src/activities/drops/fcfsSale.ts): a worker dying mid-step costs the room seconds.
const { openWaitingRoom, admitFromWaitingRoom, closeWaitingRoom } = proxyActivities<FcfsActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1s', maximumInterval: '10 seconds' },
});

type Phase = 'opening' | 'admitting' | 'holds' | 'waiting for stock' | 'idle' | 'closing' | DropStatus;

export async function runFcfsSale(input: DropWorkflowInput): Promise<void> {
  const { dropId } = input;
  const pace = admissionPace(input.admissionPerSecond);
  const closesAt = input.closesAt ? new Date(input.closesAt).getTime() : null;
  let nudges = 0;
  let phase: Phase = 'opening';
  let room: RoomState | undefined;
  let preOpen = 0;
  let shownStatus: DropStatus | undefined;

  setHandler(queueChangedSignal, () => {
    nudges += 1;
  });

  const setStatus = (status: DropStatus) => {
    if (status === shownStatus) return;
    upsertSearchAttributes([{ key: Status, value: status }]);
    shownStatus = status;
  };
  const show = () =>
    setCurrentDetails(
      [
        `**Phase:** ${phase} (first come, first served)`,
        `**Waiting:** ${room?.waiting ?? '?'}; **admitted (holding a unit):** ${room?.holding ?? 0}`,
        `**Sold:** ${room?.sold ?? 0} of ${input.quantity}; **remaining:** ${input.quantity - (room?.sold ?? 0)}`,
        `**Pace:** ${pace.batch} per ${pace.tickMs / 1000} s (${input.admissionPerSecond}/s); **early arrivals shuffled:** ${preOpen}`,
        `**Opened:** ${input.opensAt}${input.closesAt ? `; **closes:** ${input.closesAt}` : ''}`,
      ].join('\n\n'),
    );

  setStatus('open');
  show();
  preOpen = (await openWaitingRoom({ dropId })).preOpen;

  let ending: 'sold_out' | 'closed' | undefined;
  for (;;) {
    if (closesAt !== null && Date.now() >= closesAt) {
      ending = 'closed';
      break;
    }
    // Counted before the step: a nudge that lands while it runs (even in the same activation as its result,
    // where signals are handled first) must wake the wait below, not be taken as already seen.
    const seen = nudges;
    const step = await admitFromWaitingRoom({ dropId, pace, idleFlagTtlMs: IDLE_POLL_MS * 2 });
    room = step;
    if (step.status !== 'open') {
      // Ended outside this run (an earlier run's last step, or an operator): only the closing remains.
      ending = step.status === 'sold_out' ? 'sold_out' : 'closed';
      break;
    }
    const next = decide(step, { pollMs: pace.tickMs, idleMs: IDLE_POLL_MS, slackMs: HOLD_SLACK_MS });
    if (next.kind === 'sold_out') {
      ending = 'sold_out';
      break;
    }
    phase = next.reason === 'pace' ? 'admitting' : next.reason === 'stock' ? 'waiting for stock' : next.reason;
    show();
    if (workflowInfo().continueAsNewSuggested) {
      // Nothing lives only here: the next run re-reads the room (the drop workflow re-enters this sale).
      await condition(allHandlersFinished);
      await makeContinueAsNewFunc({ typedSearchAttributes: workflowInfo().typedSearchAttributes })(input);
    }
    const ms = closesAt === null ? next.ms : Math.max(1, Math.min(next.ms, closesAt - Date.now()));
    await condition(() => next.wakeOnChange && nudges !== seen, ms);
  }

  phase = 'closing';
  show();
  let closed;
  do closed = await closeWaitingRoom({ dropId, reason: ending });
  while (closed.more);
  phase = closed.status;
  setStatus(closed.status);
  show();

  // Shoppers admitted before the end keep their unit until their hold ends (they may still check out); their
  // places settle (purchased or expired) as those holds end. No new admissions: the drop is no longer open.
  for (;;) {
    const seen = nudges;
    const settled = await admitFromWaitingRoom({ dropId, pace, idleFlagTtlMs: 1 });
    room = settled;
    show();
    if (settled.holding === 0) break;
    await condition(() => nudges !== seen, Math.max(1, settled.msUntilNextExpiry ?? pace.tickMs) + HOLD_SLACK_MS);
  }
}
