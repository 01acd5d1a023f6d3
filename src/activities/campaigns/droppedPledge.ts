import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { createCollection, SETTLEMENT_STATUSES, type CollectOutcome, type PledgeRow } from '../../campaigns/collection';
import { formatMoney } from '../../domain/campaigns';
import { CampaignId, CustomerId, Status } from '../../temporal/searchAttributes';
import type { ActivityDeps } from '../../workers/deps';
import { DROPPED_PLEDGE_WORKFLOW, type DroppedPledgeWorkflow, droppedPledgeWorkflowId } from '../../campaigns/contract';

/**
 * Settlement: pages through a campaign's pledges in batches and collects or voids each one (payments task
 * queue: every step may call the provider), plus the dropped-pledge window's provider step (retry a charge).
 * The window's database-only steps (reminders, drop) are in createDroppedPledgeActivities, on the main queue.
 */

export interface SettleBatchInput {
  campaignId: string;
  action: 'collect' | 'void';
  /** Exclusive: the batch starts after this pledge id (null for the first batch). */
  afterPledgeId: string | null;
  batchSize: number;
}

export interface SettleBatchResult {
  /** The cursor for the next batch (the last pledge this batch covered, or the input cursor when none). */
  lastPledgeId: string | null;
  /** No pledge after lastPledgeId needs this action. */
  done: boolean;
  processed: number;
  collected: number;
  /** Pledges left payment_failed (each in its dropped-pledge window). */
  failed: number;
  voided: number;
}

/** Heartbeat details: the contiguous processed prefix, and what it did, so a retry resumes and keeps counting. */
interface BatchProgress {
  lastPledgeId: string | null;
  processed: number;
  collected: number;
  failed: number;
  voided: number;
}

export interface RetryChargeResult {
  status: 'collected' | 'payment_failed';
  failure_code?: string;
}


/** Runs `work` over `items` with at most `limit` in flight; stops taking new items once `stop()` says so. */
async function boundedPool<T>(items: readonly T[], limit: number, stop: () => boolean, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const lane = async () => {
    while (next < items.length && firstError === undefined && !stop()) {
      const i = next++;
      try {
        await work(items[i]!, i);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (firstError !== undefined) throw firstError;
}

export function createSettlementActivities(deps: ActivityDeps) {
  const collection = createCollection(deps);

  /** Opens (or finds) the pledge's dropped-pledge window: workflow `pledge:<id>`, started at most once. */
  async function ensureDroppedPledgeWindow(p: PledgeRow, dropDeadline: Date): Promise<void> {
    const client = await deps.temporal.client();
    await client.workflow.start<DroppedPledgeWorkflow>(DROPPED_PLEDGE_WORKFLOW, {
      taskQueue: deps.config.TASK_QUEUE,
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
          reminderIntervalMs: deps.config.REMINDER_INTERVAL,
        },
      ],
      typedSearchAttributes: [
        { key: CustomerId, value: p.backer_id },
        { key: CampaignId, value: p.campaign_id },
        { key: Status, value: 'payment_failed' },
      ],
      staticSummary: `Dropped-pledge window for pledge ${p.id}: ${formatMoney(p.amount_cents, p.currency)}, drops ${dropDeadline.toISOString()}`,
    }).catch((err: unknown) => {
      // Already started and since closed: the pledge's fate is decided, nothing to open.
      if ((err as { name?: string }).name === 'WorkflowExecutionAlreadyStartedError') return;
      throw err;
    });
  }

  async function afterCollect(o: CollectOutcome): Promise<void> {
    if (o.kind === 'failed') await ensureDroppedPledgeWindow(o.pledge, o.dropDeadline);
  }

  return {
    /**
     * One page of a campaign's settlement: the next `batchSize` pledges after the cursor (by id) that still
     * need `action`, processed SETTLEMENT_CONCURRENCY at a time. Heartbeats the contiguous processed prefix;
     * a retry resumes from it, and whatever it redoes is a no-op (status guards, business keys).
     */
    async settlePledgeBatch(input: SettleBatchInput): Promise<SettleBatchResult> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as BatchProgress | undefined;
      const progress: BatchProgress = resumed ?? { lastPledgeId: input.afterPledgeId, processed: 0, collected: 0, failed: 0, voided: 0 };

      const query = deps.db('pledges')
        .where({ campaign_id: input.campaignId })
        .whereIn('status', SETTLEMENT_STATUSES[input.action])
        .orderBy('id')
        .limit(input.batchSize);
      if (progress.lastPledgeId) query.where('id', '>', progress.lastPledgeId);
      const rows = (await query) as PledgeRow[];

      const finished = new Array<boolean>(rows.length).fill(false);
      let prefix = 0;
      const complete = (i: number) => {
        finished[i] = true;
        while (prefix < rows.length && finished[prefix]) prefix++;
        if (prefix > 0) progress.lastPledgeId = rows[prefix - 1]!.id;
        ctx.heartbeat({ ...progress });
      };

      await boundedPool(rows, deps.config.SETTLEMENT_CONCURRENCY, () => ctx.cancellationSignal.aborted, async (p, i) => {
        if (input.action === 'collect' && (p.status === 'active' || p.status === 'payment_failed')) {
          const o = await collection.collectPledge(p);
          await afterCollect(o);
          if (o.kind === 'collected') progress.collected++;
          if (o.kind === 'failed') progress.failed++;
        } else {
          const o = await collection.voidPledge(p);
          if (o.kind === 'voided') progress.voided++;
        }
        progress.processed++;
        complete(i);
      });
      // Cancelled (or the worker is shutting down): the heartbeat holds the resumable cursor.
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('settlement batch cancelled; resume from the last heartbeat');
      if (progress.collected > 0) await collection.refreshCollectedCents(input.campaignId);

      return {
        lastPledgeId: rows.length ? rows[rows.length - 1]!.id : progress.lastPledgeId,
        done: rows.length < input.batchSize,
        processed: progress.processed,
        collected: progress.collected,
        failed: progress.failed,
        voided: progress.voided,
      };
    },

    /** The dropped-pledge window's charge retry (a new card, or the final attempt). */
    async retryPledgeCharge(input: { pledgeId: string }): Promise<RetryChargeResult> {
      const o = await collection.retryCharge(input.pledgeId);
      if (o.kind === 'collected') {
        await collection.refreshCollectedCents(o.campaignId);
        return { status: 'collected' };
      }
      if (o.kind === 'failed') return { status: 'payment_failed', failure_code: o.failureCode };
      // Already collected by an earlier try of this very step; any other status is not ours to retry.
      return o.status === 'collected' ? { status: 'collected' } : { status: 'payment_failed', failure_code: `pledge_${o.status}` };
    },
  };
}

/** The dropped-pledge window's database-only steps (main task queue: no provider calls). */
export function createDroppedPledgeActivities(deps: ActivityDeps) {
  const collection = createCollection(deps);
  return {
    /** Reminder `n` of the window (deduplicated per pledge and n); false when the pledge left payment_failed. */
    async sendPaymentReminder(input: { pledgeId: string; n: number }): Promise<boolean> {
      return collection.sendReminder(input.pledgeId, input.n);
    },
    /** Drops the pledge at the end of its window: slot freed, totals reduced, backer told. */
    async dropPledge(input: { pledgeId: string }): Promise<boolean> {
      return collection.dropPledge(input.pledgeId);
    },
  };
}
