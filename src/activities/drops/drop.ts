import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { closeRegistration, finishLottery, runDraw, settleClaims, tellEntrants } from '../../drops/lottery';
import { loadDrop, lockDrop } from '../../drops/repository';
import type { DropStatus } from '../../drops/contract';
import type { ActivityDeps } from '../../workers/deps';
import { DROP_NOT_FOUND } from '../../drops/contract';

/**
 * The `drop:<id>` workflow's steps. Each reads the drop's state from Postgres and changes it with a conditional
 * write under the drop lock, so the workflow re-derives where it is after any restart and a retried step does
 * nothing twice. Only counts and instants go back into workflow history, never entries.
 */

export interface DropPhase {
  status: DropStatus;
  quantity: number;
  sold: number;
  entries: number;
}

/** Heartbeats from paged work (the draw, telling 100k entrants), so a dead worker is noticed quickly. */
const heartbeat = () => {
  try {
    Context.current().heartbeat();
  } catch {
    // Called outside an activity (scripts, tests): nothing to report to.
  }
};

export function createDropActivities(deps: Pick<ActivityDeps, 'db'>) {
  const { db } = deps;
  return {
    /**
     * Where the drop is now. A missing row is only "not committed yet" (retryable) until `graceMs` after the
     * workflow's start (`startedAt`), then DropNotFound (non-retryable): the creating request rolled back. A
     * database that cannot be read throws its own error, which the workflow retries without limit.
     */
    async dropPhase(input: { dropId: string; startedAt: string; graceMs: number }): Promise<DropPhase> {
      const d = await loadDrop(db, input.dropId);
      if (!d) {
        const since = Date.now() - Date.parse(input.startedAt);
        if (since < input.graceMs) throw ApplicationFailure.retryable(`drop ${input.dropId} not committed yet (${since} ms after the start)`, 'DropNotCommitted');
        throw ApplicationFailure.nonRetryable(`drop ${input.dropId} still missing ${since} ms after its workflow started: its creation rolled back`, DROP_NOT_FOUND);
      }
      return { status: d.status, quantity: d.quantity, sold: d.sold, entries: d.entries_count ?? 0 };
    },

    /** scheduled → open at opens_at (a no-op in any later status). */
    async openDrop(input: { dropId: string }): Promise<{ status: DropStatus }> {
      return db.transaction(async (trx) => {
        const d = await lockDrop(trx, input.dropId);
        if (!d) throw new Error(`drop ${input.dropId} not found`);
        if (d.status !== 'scheduled') return { status: d.status };
        await trx('drops').where({ id: d.id }).update({ status: 'open', updated_at: trx.fn.now() });
        return { status: 'open' as const };
      });
    },

    /** open → drawing at closes_at: publishes the entries hash. */
    closeLotteryRegistration: (input: { dropId: string }) => closeRegistration(db, input.dropId),

    /** drawing → claiming: the draw, then every entrant told won or waitlisted. */
    async drawLottery(input: { dropId: string }) {
      const drawn = await runDraw(db, input.dropId, heartbeat);
      if (drawn.status === 'claiming') {
        await tellEntrants(db, input.dropId, 'won', heartbeat);
        await tellEntrants(db, input.dropId, 'waitlisted', heartbeat);
      }
      return drawn;
    },

    /** Expiries and promotions due now; the counts and the next window's end (without the entry rows). */
    async settleLotteryClaims(input: { dropId: string }) {
      const { expired, promoted, ...phase } = await settleClaims(db, input.dropId);
      return { ...phase, expiredNow: expired.length, promotedNow: promoted.length };
    },

    /** claiming → sold_out | closed; everyone who did not claim is told they lost. */
    async finishLottery(input: { dropId: string }) {
      const finished = await finishLottery(db, input.dropId);
      await tellEntrants(db, input.dropId, 'lost', heartbeat);
      return finished;
    },
  };
}

export type DropActivities = ReturnType<typeof createDropActivities>;
