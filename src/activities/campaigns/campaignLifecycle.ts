import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createCollection } from '../../campaigns/collection';
import { createDroppedPledgeWindow } from '../../campaigns/droppedPledgeWindow';
import { announceStatus } from '../../campaigns/events';
import { lockCampaign, type CampaignRow } from '../../campaigns/repository';
import { decideOutcome, formatMoney, SLOT_HOLDING_PLEDGE_STATUSES, type CampaignStatus, type Outcome } from '../../domain/campaigns';
import { enqueueCreatorWebhook, notify, notifyBackers } from '../../notifications/notify';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The campaign lifecycle's steps, in two factories by task queue:
 *  - createCampaignActivities (main queue): each changes the campaign row under its lock and is idempotent,
 *    so a retried or replayed step finds the change already made and reports the same result. Status events
 *    go out after the commit, so no client ever hears of a change that was rolled back.
 *  - createSettlementActivities (payments queue: every step may call the provider): settlement pages through
 *    the campaign's pledges in heartbeating batches and collects or voids each one.
 */

export interface CampaignSnapshot {
  status: CampaignStatus;
  pledgedCents: number;
  backerCount: number;
}

export interface CampaignDecision extends CampaignSnapshot {
  outcome: Outcome;
  settlement: 'collect' | 'void';
}

const snapshot = (row: Pick<CampaignRow, 'status' | 'pledged_cents' | 'backer_count'>): CampaignSnapshot => ({
  status: row.status,
  pledgedCents: Number(row.pledged_cents),
  backerCount: Number(row.backer_count),
});

function notFound(campaignId: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'CampaignNotFound', message: `Campaign ${campaignId} does not exist.`, nonRetryable: true });
}

const OUTCOME_TEXT: Record<Outcome, { title: (t: string) => string; body: string }> = {
  succeeded: {
    title: (t) => `"${t}" was funded`,
    body: 'The campaign reached its goal. Your pledge will now be collected.',
  },
  failed: {
    title: (t) => `"${t}" did not reach its goal`,
    body: 'The campaign ended below its goal. You will not be charged; any hold on your card is released.',
  },
  cancelled: {
    title: (t) => `"${t}" was cancelled`,
    body: 'The creator cancelled the campaign. You will not be charged; any hold on your card is released.',
  },
};

export function createCampaignActivities(deps: ActivityDeps) {
  const { db, logger } = deps;
  const announce = (campaignId: string, status: CampaignStatus) => announceStatus(deps, campaignId, status);

  return {
    /**
     * draft → scheduled/live. The launch request does this in the transaction that starts the workflow; this
     * covers a launch whose process died between starting the workflow and committing.
     */
    async activateCampaign(input: { campaignId: string }): Promise<CampaignSnapshot> {
      const { row, changed } = await db.transaction(async (trx) => {
        const row = await lockCampaign(trx, input.campaignId);
        if (!row) throw notFound(input.campaignId);
        if (row.status !== 'draft') return { row, changed: false };
        const status: CampaignStatus = row.starts_at && row.starts_at.getTime() > Date.now() ? 'scheduled' : 'live';
        await trx('campaigns')
          .where({ id: row.id })
          .update({ status, launched_at: row.launched_at ?? trx.fn.now(), updated_at: trx.fn.now() });
        return { row: { ...row, status }, changed: true };
      });
      if (changed) {
        logger.info({ campaignId: row.id, status: row.status }, 'campaign activated by its workflow');
        await announce(row.id, row.status);
      }
      return snapshot(row);
    },

    /** scheduled → live when starts_at arrives. */
    async markCampaignLive(input: { campaignId: string }): Promise<CampaignSnapshot> {
      const { row, changed } = await db.transaction(async (trx) => {
        const row = await lockCampaign(trx, input.campaignId);
        if (!row) throw notFound(input.campaignId);
        if (row.status !== 'scheduled') return { row, changed: false };
        await trx('campaigns').where({ id: row.id }).update({ status: 'live', updated_at: trx.fn.now() });
        return { row: { ...row, status: 'live' as const }, changed: true };
      });
      if (changed) await announce(row.id, 'live');
      return snapshot(row);
    },

    /** Persists an accepted deadline extension; only ever moves the deadline later, so replays are harmless. */
    async setCampaignDeadline(input: { campaignId: string; endsAt: string }): Promise<CampaignSnapshot> {
      const endsAt = new Date(input.endsAt);
      await db('campaigns')
        .where({ id: input.campaignId })
        .where('ends_at', '<', endsAt)
        .whereIn('status', ['draft', 'scheduled', 'live'])
        .update({ ends_at: endsAt, updated_at: db.fn.now() });
      const row = await db('campaigns').where({ id: input.campaignId }).first('status', 'pledged_cents', 'backer_count');
      if (!row) throw notFound(input.campaignId);
      return snapshot(row as CampaignRow);
    },

    /**
     * The deadline (or a cancel) has come: decide from the Postgres totals, record the outcome and tell the
     * backers and the owner, all in one transaction. Decided once: a re-run returns the stored decision.
     */
    async decideCampaign(input: { campaignId: string; cancelled: boolean }): Promise<CampaignDecision> {
      const { decision, fresh } = await db.transaction(async (trx) => {
        const row = await lockCampaign(trx, input.campaignId);
        if (!row) throw notFound(input.campaignId);
        if (row.outcome) {
          const stored: CampaignDecision = {
            ...snapshot(row),
            outcome: row.outcome,
            settlement: row.outcome === 'succeeded' ? 'collect' : 'void',
          };
          return { decision: stored, fresh: false };
        }
        const d = decideOutcome({
          fundingModel: row.funding_model,
          goalCents: Number(row.goal_cents),
          pledgedCents: Number(row.pledged_cents),
          cancelled: input.cancelled,
        });
        await trx('campaigns')
          .where({ id: row.id })
          .update({ status: d.outcome, outcome: d.outcome, decided_at: trx.fn.now(), updated_at: trx.fn.now() });

        const text = OUTCOME_TEXT[d.outcome];
        const pledged = formatMoney(Number(row.pledged_cents), row.currency);
        const goal = formatMoney(Number(row.goal_cents), row.currency);
        // Everyone with an open pledge learns the outcome; closed pledges (cancelled, declined) are done.
        const notified = await notifyBackers(trx, {
          campaignId: row.id,
          pledgeStatuses: SLOT_HOLDING_PLEDGE_STATUSES,
          type: `campaign_${d.outcome}`,
          title: text.title(row.title),
          body: text.body,
          dedupePrefix: `campaign_${d.outcome}:${row.id}`,
        });
        await notify(trx, {
          userId: row.owner_id,
          type: `campaign_${d.outcome}`,
          title: text.title(row.title),
          body: `Pledged ${pledged} of ${goal} from ${row.backer_count} backers.`,
          data: { campaign_id: row.id, pledged_cents: Number(row.pledged_cents), goal_cents: Number(row.goal_cents) },
          dedupeKey: `campaign_owner_${d.outcome}:${row.id}`,
        });
        await enqueueCreatorWebhook(trx, {
          campaignId: row.id,
          event: `campaign.${d.outcome}`,
          data: {
            campaign_id: row.id,
            outcome: d.outcome,
            pledged_cents: Number(row.pledged_cents),
            backer_count: Number(row.backer_count),
            goal_cents: Number(row.goal_cents),
            currency: row.currency,
          },
          dedupeKey: `campaign_${d.outcome}:${row.id}`,
        });
        logger.info({ campaignId: row.id, outcome: d.outcome, pledgedCents: row.pledged_cents, notified }, 'campaign decided');
        return { decision: { ...snapshot(row), status: d.outcome, ...d } as CampaignDecision, fresh: true };
      });
      if (fresh) await announce(input.campaignId, decision.outcome);
      return decision;
    },

    /** Every pledge has been collected or voided (or handed to its dropped-pledge window). */
    async markCampaignSettled(input: { campaignId: string }): Promise<CampaignSnapshot> {
      const updated = await db('campaigns')
        .where({ id: input.campaignId })
        .whereIn('status', ['succeeded', 'failed', 'cancelled'])
        .update({ status: 'settled', settled_at: db.fn.now(), updated_at: db.fn.now() });
      const row = await db('campaigns').where({ id: input.campaignId }).first('status', 'pledged_cents', 'backer_count');
      if (!row) throw notFound(input.campaignId);
      if (updated > 0) await announce(input.campaignId, 'settled');
      return snapshot(row as CampaignRow);
    },
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;

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

/** Settlement's steps (payments task queue: every one may call the provider). */
export function createSettlementActivities(deps: ActivityDeps) {
  const collection = createCollection(deps);
  const droppedPledgeWindow = createDroppedPledgeWindow(deps);

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
      const rows = await collection.pledgesToSettle(input.campaignId, input.action, progress.lastPledgeId, input.batchSize);

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
          // A failed charge (now or in an earlier pass) is the window's to retry: make sure it is open.
          if (o.kind === 'failed') await droppedPledgeWindow.open(o.pledge, o.dropDeadline);
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
  };
}
