import type { Db } from '../infra/db';
import type { DropRow } from './repository';
import { joinQueueBatch, type JoinResult, type QueueClosedError } from './waitingRoom';

/**
 * Group commit for waiting-room joins. Each join needs the drop's queue lock for its position, so one
 * transaction per join caps a crowd at one lock hand-over per join. Instead, joins of one drop that arrive
 * while the previous batch is being written wait for it and then go in together: one transaction, one lock,
 * positions given in arrival order (joinQueueBatch). An idle drop's join starts a batch at the next turn of
 * the event loop, so a lone join waits for nothing; under load a batch holds whoever came during the last
 * one. Nothing is answered before its batch committed, so a crash loses only unanswered joins.
 *
 * Per process: API replicas each batch their own joins and take the same lock in turn.
 */

export interface QueuedJoin {
  drop: DropRow | undefined;
  outcome: JoinResult | QueueClosedError | undefined;
}

interface Waiter {
  userId: string;
  resolve(joined: QueuedJoin): void;
  reject(err: unknown): void;
}

/** A batch large enough to amortise the lock, small enough that one slow statement stays short. */
const MAX_BATCH = 500;

export function createJoinBatcher(db: Db, onPlaced: (dropId: string) => void) {
  const lines = new Map<string, Waiter[]>();
  const busy = new Set<string>();

  /** Writes the drop's waiting joins, a batch at a time, until nobody is left waiting. */
  async function drain(dropId: string): Promise<void> {
    for (;;) {
      const line = lines.get(dropId);
      if (!line?.length) {
        lines.delete(dropId);
        busy.delete(dropId);
        return;
      }
      const batch = line.splice(0, MAX_BATCH);
      try {
        const { drop, outcomes } = await joinQueueBatch(
          db,
          dropId,
          batch.map((w) => w.userId),
        );
        batch.forEach((w, i) => w.resolve({ drop, outcome: outcomes[i] }));
        if (outcomes.some((o) => 'created' in o && o.created && !o.row.pre_open)) onPlaced(dropId);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  }

  return {
    /** The caller's place (or the sale's end), once the batch it went into has committed. */
    join(dropId: string, userId: string): Promise<QueuedJoin> {
      return new Promise<QueuedJoin>((resolve, reject) => {
        const line = lines.get(dropId);
        if (line) line.push({ userId, resolve, reject });
        else lines.set(dropId, [{ userId, resolve, reject }]);
        if (busy.has(dropId)) return;
        busy.add(dropId);
        // The next turn, not now: joins that arrived in this one go in with this one.
        setImmediate(() => void drain(dropId));
      });
    },
  };
}
