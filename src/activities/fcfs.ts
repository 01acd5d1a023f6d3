import { ApplicationFailure } from '@temporalio/common';
import { HotStock } from '../commerce/hotStock';
import type { AdmissionPace } from '../domain/waitingRoom';
import { admissionStep, closeRoom, openRoom, RoomNotYetOpenError } from '../drops/waitingRoomAdmission';
import type { ActivityDeps } from '../workers/deps';

/**
 * The first-come sale's steps (src/workflows/fcfsSale.ts). Each re-reads the waiting room from Postgres, so
 * the workflow carries only counts, and a retry, a replay or a continue-as-new picks up from the tables.
 */
export function createFcfsActivities(deps: ActivityDeps) {
  const { db, redis, logger } = deps;
  const admission = { ...deps, hotStock: new HotStock(redis, db, logger) };

  return {
    /** The opening shuffle of early arrivals (once; a retry finds it done). */
    async openWaitingRoom(input: { dropId: string }) {
      try {
        return await openRoom(db, input.dropId);
      } catch (err) {
        // Retryable: the database's clock reaches opens_at within the retry interval.
        if (err instanceof RoomNotYetOpenError) throw ApplicationFailure.create({ type: 'RoomNotYetOpen', message: err.message });
        throw err;
      }
    },

    /** Settle finished holds, let the next shoppers in at the pace, open their carts; the room's counts. */
    admitFromWaitingRoom(input: { dropId: string; pace: AdmissionPace; idleFlagTtlMs: number }) {
      return admissionStep(admission, input.dropId, input.pace, input.idleFlagTtlMs);
    },

    /** One page of ending the sale: drop status, and waiting places closed with their shoppers told. */
    closeWaitingRoom(input: { dropId: string; reason: 'sold_out' | 'closed' }) {
      return closeRoom(db, input.dropId, input.reason);
    },
  };
}

export type FcfsActivities = ReturnType<typeof createFcfsActivities>;
