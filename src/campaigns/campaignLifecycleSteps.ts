import type { Knex } from 'knex';
import { makeCampaignChargesAvailable } from '../billing/charges';
import { issueAllDeferredPledgeReceipts } from '../billing/pledgeReceipts';
import type { Config } from '../config';
import { decideOutcome, settlementFor, statusAtLaunch, type CampaignStatus, type Outcome } from '../domain/campaigns';
import { refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { tellOutcome } from './campaignOutcomeNotices';
import { announceStatus } from './events';
import { lockCampaign, type CampaignRow } from './repository';

/**
 * The row changes of a campaign's lifecycle workflow (`campaign:<id>`): activation, going live, an accepted
 * deadline extension, the decision and the end of settlement. Each changes the campaign row under its lock
 * (or with a status-guarded write) and is idempotent, so a retried or replayed step finds the change already
 * made and reports the same result. Status events go out after the commit, and only from the call that made
 * the change, so no client ever hears of a change that was rolled back.
 *
 * An unknown campaign is refusals.notFound('campaign').
 */

export interface CampaignLifecycleStepDeps {
  config: Pick<Config, 'PAYOUT_DELAY_CAMPAIGN' | 'TAX_RATES_BPS' | 'ISSUE_RECEIPTS'>;
  db: Db;
  redis: RedisClient;
  logger: Logger;
}

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

const campaignNotFound = () => refusals.notFound('campaign');

export function createCampaignLifecycleSteps(deps: CampaignLifecycleStepDeps) {
  const { db, logger } = deps;
  const announce = (campaignId: string, status: CampaignStatus) => announceStatus(deps, campaignId, status);

  /** `work` on the campaign's row, locked until the transaction ends. */
  function withLockedCampaign<T>(campaignId: string, work: (trx: Knex.Transaction, row: CampaignRow) => Promise<T>): Promise<T> {
    return db.transaction(async (trx) => {
      const row = await lockCampaign(trx, campaignId);
      if (!row) throw campaignNotFound();
      return work(trx, row);
    });
  }

  /** The campaign as it is now (after a status-guarded write that may have changed nothing). */
  async function currentSnapshot(campaignId: string): Promise<CampaignSnapshot> {
    const row = await db('campaigns').where({ id: campaignId }).first('status', 'pledged_cents', 'backer_count');
    if (!row) throw campaignNotFound();
    return snapshot(row as CampaignRow);
  }

  return {
    /**
     * draft → scheduled/live. The launch request does this in the transaction that starts the workflow; this
     * covers a launch whose process died between starting the workflow and committing.
     */
    async activate(campaignId: string): Promise<CampaignSnapshot> {
      const { row, changed } = await withLockedCampaign(campaignId, async (trx, row) => {
        if (row.status !== 'draft') return { row, changed: false };
        const status = statusAtLaunch(row.starts_at, new Date());
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
    async markLive(campaignId: string): Promise<CampaignSnapshot> {
      const { row, changed } = await withLockedCampaign(campaignId, async (trx, row) => {
        if (row.status !== 'scheduled') return { row, changed: false };
        await trx('campaigns').where({ id: row.id }).update({ status: 'live', updated_at: trx.fn.now() });
        return { row: { ...row, status: 'live' as const }, changed: true };
      });
      if (changed) await announce(row.id, 'live');
      return snapshot(row);
    },

    /** Persists a deadline extension the workflow accepted; only ever moves the deadline later, so replays are harmless. */
    async setDeadline(campaignId: string, endsAt: Date): Promise<CampaignSnapshot> {
      await db('campaigns')
        .where({ id: campaignId })
        .where('ends_at', '<', endsAt)
        .whereIn('status', ['draft', 'scheduled', 'live'])
        .update({ ends_at: endsAt, updated_at: db.fn.now() });
      return currentSnapshot(campaignId);
    },

    /**
     * The deadline (or a cancel) has come: decide from the Postgres totals, record the outcome and tell the
     * backers and the owner, all in one transaction. Decided once: a re-run returns the stored decision.
     */
    async decide(campaignId: string, cancelled: boolean): Promise<CampaignDecision> {
      const { decision, fresh } = await withLockedCampaign(campaignId, async (trx, row) => {
        if (row.outcome) {
          const stored: CampaignDecision = { ...snapshot(row), outcome: row.outcome, settlement: settlementFor(row.outcome) };
          return { decision: stored, fresh: false };
        }
        const d = decideOutcome({
          fundingModel: row.funding_model,
          goalCents: Number(row.goal_cents),
          pledgedCents: Number(row.pledged_cents),
          cancelled,
        });
        await trx('campaigns')
          .where({ id: row.id })
          .update({ status: d.outcome, outcome: d.outcome, decided_at: trx.fn.now(), updated_at: trx.fn.now() });
        const notified = await tellOutcome(trx, row, d.outcome);
        logger.info({ campaignId: row.id, outcome: d.outcome, pledgedCents: row.pledged_cents, notified }, 'campaign decided');
        return { decision: { ...snapshot(row), status: d.outcome, ...d } as CampaignDecision, fresh: true };
      });
      if (fresh) await announce(campaignId, decision.outcome);
      return decision;
    },

    /**
     * Every pledge has been collected or voided (or handed to its dropped-pledge window). The creator's charges
     * become available PAYOUT_DELAY_CAMPAIGN after settled_at, in the same transaction (see src/billing/pledgeCharges.ts).
     */
    async markSettled(campaignId: string): Promise<CampaignSnapshot> {
      // No collected pledge stays without its receipt: whatever the settlement pages deferred and did not issue
      // (an attempt that died between its collections and its batch) is issued here, before the campaign settles.
      await issueAllDeferredPledgeReceipts(db, campaignId, deps.config);
      const updated = await db.transaction(async (trx) => {
        const [row] = (await trx('campaigns')
          .where({ id: campaignId })
          .whereIn('status', ['succeeded', 'failed', 'cancelled'])
          .update({ status: 'settled', settled_at: trx.fn.now(), updated_at: trx.fn.now() })
          .returning('settled_at')) as Array<{ settled_at: Date }>;
        if (!row) return 0;
        await makeCampaignChargesAvailable(trx, campaignId, new Date(row.settled_at.getTime() + deps.config.PAYOUT_DELAY_CAMPAIGN));
        return 1;
      });
      const now = await currentSnapshot(campaignId);
      if (updated > 0) await announce(campaignId, 'settled');
      return now;
    },
  };
}

export type CampaignLifecycleSteps = ReturnType<typeof createCampaignLifecycleSteps>;
