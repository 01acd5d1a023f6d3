import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { HotStock } from '../../commerce/hotStock';
import type { AdmissionPace } from '../../domain/waitingRoom';
import { admissionStep, closeRoom, openRoom, RoomNotYetOpenError } from '../../drops/waitingRoomAdmission';
import type { ActivityDeps } from '../../workers/deps';

/**
 * Runs a step heartbeating every second, so a worker that dies in the middle (a SIGKILL, a lost machine) is
 * noticed within the heartbeat timeout and the step retried on another worker, rather than the room standing
 * still for the step's whole start-to-close timeout. A step that is slow but alive keeps heartbeating.
 */
async function heartbeating<T>(step: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await step();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The first-come sale's steps (src/workflows/drops/fcfsSale.ts). Each re-reads the waiting room from Postgres, so
 * the workflow carries only counts, and a retry, a replay or a continue-as-new picks up from the tables.
 */
export function createFcfsActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const admission = { ...deps, hotStock: new HotStock(redis, db, logger) };

  return {
    /** The opening shuffle of early arrivals (once; a retry finds it done). */
    async openWaitingRoom(input: { dropId: string }) {
      try {
        return await heartbeating(() => openRoom(db, input.dropId));
      } catch (err) {
        // Retryable: the database's clock reaches opens_at within the retry interval.
        if (err instanceof RoomNotYetOpenError) throw ApplicationFailure.create({ type: 'RoomNotYetOpen', message: err.message });
        throw err;
      }
    },

    /** Settle finished holds, let the next shoppers in at the pace, open their carts; the room's counts. */
    admitFromWaitingRoom(input: { dropId: string; pace: AdmissionPace; idleFlagTtlMs: number }) {
      return heartbeating(() => admissionStep(admission, input.dropId, input.pace, input.idleFlagTtlMs));
    },

    /** One page of ending the sale: drop status, and waiting places closed with their shoppers told. */
    closeWaitingRoom(input: { dropId: string; reason: 'sold_out' | 'closed' }) {
      return heartbeating(() => closeRoom(db, input.dropId, input.reason));
    },
  };
}

export type FcfsActivities = ReturnType<typeof createFcfsActivities>;
