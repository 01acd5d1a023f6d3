import { createCollection } from '../../campaigns/collection';
import type { RetryPaymentResult } from '../../campaigns/contract';
import { createDroppedPledgeWindow } from '../../campaigns/droppedPledgeWindow';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The dropped-pledge window's steps (workflow `pledge:<id>`), in two factories by task queue: the charge
 * retry reaches the provider (payments queue); reminders and the final drop only touch the database (main).
 */

/** The window's database-only steps (main task queue: no provider calls). */
export function createDroppedPledgeActivities(deps: ActivityDeps) {
  const window = createDroppedPledgeWindow(deps);
  return {
    /** Reminder `n` of the window (deduplicated per pledge and n); false when the pledge left payment_failed. */
    async sendPaymentReminder(input: { pledgeId: string; n: number }): Promise<boolean> {
      return window.sendReminder(input.pledgeId, input.n);
    },
    /** Drops the pledge at the end of its window: slot freed, totals reduced, backer told. */
    async dropPledge(input: { pledgeId: string }): Promise<boolean> {
      return window.dropPledge(input.pledgeId);
    },
  };
}

/** The window's provider step (payments task queue). */
export function createDroppedPledgePaymentActivities(deps: ActivityDeps) {
  const collection = createCollection(deps);
  return {
    /** The window's charge retry (a new card, or the final attempt). */
    async retryPledgeCharge(input: { pledgeId: string }): Promise<RetryPaymentResult> {
      return collection.chargeInWindow(input.pledgeId);
    },
  };
}
