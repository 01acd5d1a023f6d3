import type { Config } from '../config';
import { formatMoney } from '../domain/campaigns';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { notify } from '../notifications/notify';
import type { TemporalClientProvider } from '../temporal/client';
import { CampaignId, CustomerId, Status } from '../temporal/searchAttributes';
import { announceTotals } from './campaignTotals';
import { DROPPED_PLEDGE_WORKFLOW, droppedPledgeWorkflowId, type DroppedPledgeWorkflow } from './contract';
import type { PledgeRow } from './pledgeRow';
import { releaseSlot } from './rewardSlots';

/**
 * A pledge whose charge failed after a successful campaign gets a dropped-pledge window (workflow
 * `pledge:<id>`): reminders to the backer, who may give a new card, and at its end the pledge is dropped.
 * Each step is guarded by the pledge still being payment_failed, so a repeated step changes nothing.
 */

export interface DroppedPledgeWindowDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  temporal: TemporalClientProvider;
}

export function createDroppedPledgeWindow(deps: DroppedPledgeWindowDeps) {
  const { db, config } = deps;

  return {
    /** Opens (or finds) the pledge's window, started at most once however often settlement revisits the pledge. */
    async open(p: PledgeRow, dropDeadline: Date): Promise<void> {
      const client = await deps.temporal.client();
      await client.workflow
        .start<DroppedPledgeWorkflow>(DROPPED_PLEDGE_WORKFLOW, {
          taskQueue: config.TASK_QUEUE,
          workflowId: droppedPledgeWorkflowId(p.id),
          workflowIdConflictPolicy: 'USE_EXISTING',
          // A window that completed decided the pledge (collected or dropped) and is never reopened; one an operator
          // terminated (or that failed) is reopened by the next settlement pass.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
          args: [
            {
              pledgeId: p.id,
              campaignId: p.campaign_id,
              backerId: p.backer_id,
              amountCents: p.amount_cents,
              currency: p.currency,
              // What is left of the window, so a window opened late (after a crash) still ends on time.
              windowMs: Math.max(0, dropDeadline.getTime() - Date.now()),
              reminderIntervalMs: config.REMINDER_INTERVAL,
            },
          ],
          typedSearchAttributes: [
            { key: CustomerId, value: p.backer_id },
            { key: CampaignId, value: p.campaign_id },
            { key: Status, value: 'payment_failed' },
          ],
          staticSummary: `Dropped-pledge window for pledge ${p.id}: ${formatMoney(p.amount_cents, p.currency)}, drops ${dropDeadline.toISOString()}`,
        })
        .catch((err: unknown) => {
          // Already started and since closed: the pledge's fate is decided, nothing to open.
          if ((err as { name?: string }).name === 'WorkflowExecutionAlreadyStartedError') return;
          throw err;
        });
    },

    /** Reminder `n` of the window; nothing once the pledge has left payment_failed. */
    async sendReminder(pledgeId: string, n: number): Promise<boolean> {
      return db.transaction(async (trx) => {
        const p = (await trx('pledges').where({ id: pledgeId }).first()) as PledgeRow | undefined;
        if (!p || p.status !== 'payment_failed') return false;
        const deadline = p.drop_deadline ? ` before ${p.drop_deadline.toISOString()}` : '';
        await notify(trx, {
          userId: p.backer_id,
          type: 'payment_reminder',
          title: 'Update your payment method to keep your pledge',
          body: `Your pledge of ${formatMoney(p.amount_cents, p.currency)} could not be charged. Update your payment method${deadline} or it will be dropped.`,
          data: { pledge_id: p.id, campaign_id: p.campaign_id, reminder: n, drop_deadline: p.drop_deadline?.toISOString() ?? null },
          dedupeKey: `payment_reminder:${pledgeId}:${n}`,
        });
        return true;
      });
    },

    /**
     * Ends the window without payment: the pledge is dropped, its reward slot freed and it leaves the
     * campaign's totals. Returns false when it was no longer payment_failed (already dropped or collected).
     */
    async dropPledge(pledgeId: string): Promise<boolean> {
      const result = await db.transaction(async (trx) => {
        const [p] = (await trx('pledges')
          .where({ id: pledgeId, status: 'payment_failed' })
          .update({ status: 'dropped', drop_deadline: null, updated_at: trx.fn.now() })
          .returning('*')) as PledgeRow[];
        if (!p) return undefined;
        await releaseSlot(trx, p.reward_tier_id);
        // The campaign is decided, so this is not moveLiveTotals: the totals only shrink, never below zero.
        const [c] = (await trx('campaigns')
          .where({ id: p.campaign_id })
          .update({
            pledged_cents: trx.raw('GREATEST(pledged_cents - ?, 0)', [p.amount_cents]),
            backer_count: trx.raw('GREATEST(backer_count - 1, 0)'),
            updated_at: trx.fn.now(),
          })
          .returning(['pledged_cents', 'backer_count', 'goal_cents', 'title'])) as Array<{
          pledged_cents: number;
          backer_count: number;
          goal_cents: number;
          title: string;
        }>;
        await notify(trx, {
          userId: p.backer_id,
          type: 'pledge_dropped',
          title: 'Your pledge was dropped',
          body: `Your pledge of ${formatMoney(p.amount_cents, p.currency)} to "${c!.title}" was dropped because it could not be charged.`,
          data: { pledge_id: p.id, campaign_id: p.campaign_id },
          dedupeKey: `pledge_dropped:${p.id}`,
        });
        return { p, c: c! };
      });
      if (!result) return false;
      // After commit, and only by the call that dropped it, so the live counters move once.
      await announceTotals(deps, result.p.campaign_id, { pledgedCents: -result.p.amount_cents, backerCount: -1 }, result.c);
      return true;
    },
  };
}
