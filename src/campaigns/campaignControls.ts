import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import type { Config } from '../config';
import { requireManager } from '../accounts/authorization';
import { campaignSummary, deadlineChangeError, isBeforeDecision, statusAtLaunch, type CampaignStatus as CampaignStatusValue } from '../domain/campaigns';
import { DomainError, refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { TemporalClientProvider } from '../temporal/client';
import { CampaignId, CampaignStatus } from '../temporal/searchAttributes';
import { requireVisibleCampaign } from './campaignAccess';
import { MAX_DEADLINE_AHEAD_MS } from './campaignCreation';
import { createCampaignReads } from './campaignReads';
import {
  CAMPAIGN_ALREADY_DECIDED,
  CAMPAIGN_LIFECYCLE_WORKFLOW,
  campaignWorkflowId,
  cancelCampaignUpdate,
  extendDeadlineUpdate,
  INVALID_DEADLINE,
  type CampaignLifecycleInput,
  type CampaignLifecycleWorkflow,
} from './contract';
import { announceStatus } from './events';
import { cancelDraft, findCampaign, lockCampaign, setDraftDeadline, type CampaignJson, type CampaignRow } from './repository';

/**
 * Steering a campaign's lifecycle workflow (`campaign:<id>`): launch starts it; cancel and deadline changes
 * go through its Updates, so the workflow, which owns the timers, is the one place that decides whether a
 * change is still allowed. A draft has no workflow yet, so its cancel and deadline are plain row changes.
 * Each answers the campaign as it is afterwards.
 */

export interface CampaignControlDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  temporal: TemporalClientProvider;
}

const temporalUnavailable = () => refusals.dependencyDown('temporal', 'The workflow service is unreachable; nothing was changed. Try again shortly.');
const alreadyDecided = () => refusals.conflict('campaign_already_decided', 'The campaign has already been decided.');

/** The workflow's refusal of an Update, as the refusal the API promises; anything else is not a refusal. */
function updateRefusal(err: unknown): DomainError | undefined {
  if (err instanceof WorkflowNotFoundError) return alreadyDecided();
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    if (err.cause.type === INVALID_DEADLINE) return refusals.unprocessable('invalid_deadline', err.cause.message);
    if (err.cause.type === CAMPAIGN_ALREADY_DECIDED) return alreadyDecided();
  }
  return undefined;
}

export function createCampaignControls(deps: CampaignControlDeps) {
  const { db, config, logger } = deps;
  const reads = createCampaignReads(deps);

  async function temporal(): Promise<Client> {
    try {
      return await deps.temporal.client();
    } catch (err) {
      logger.warn({ err }, 'temporal unreachable');
      throw temporalUnavailable();
    }
  }

  /** A campaign the caller may steer: the owner or an operator; another creator's draft is a 404 like an unknown id. */
  async function loadManaged(caller: Principal, id: string): Promise<CampaignRow> {
    const row = requireVisibleCampaign(await findCampaign(db, id), caller);
    requireManager(caller, row.owner_id);
    if (!isBeforeDecision(row.status)) throw alreadyDecided();
    return row;
  }

  /** Runs a workflow Update, bounded; the workflow's refusals become the API's. */
  async function runUpdate(run: (client: Client) => Promise<unknown>): Promise<void> {
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, run);
    } catch (err) {
      throw updateRefusal(err) ?? err;
    }
  }

  /** Starts the lifecycle workflow, inside the launch's transaction; a retried launch finds it running. */
  async function startLifecycle(client: Client, row: CampaignRow, status: CampaignStatusValue): Promise<void> {
    const input: CampaignLifecycleInput = {
      campaignId: row.id,
      title: row.title,
      goalCents: Number(row.goal_cents),
      currency: row.currency,
      ...(row.starts_at ? { startsAt: row.starts_at.toISOString() } : {}),
      endsAt: row.ends_at.toISOString(),
      batchSize: config.SETTLEMENT_BATCH_SIZE,
    };
    try {
      await client.workflow.start<CampaignLifecycleWorkflow>(CAMPAIGN_LIFECYCLE_WORKFLOW, {
        taskQueue: config.TASK_QUEUE,
        workflowId: campaignWorkflowId(row.id),
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        typedSearchAttributes: [
          { key: CampaignId, value: row.id },
          { key: CampaignStatus, value: status },
        ],
        staticSummary: campaignSummary({ title: row.title, goalCents: Number(row.goal_cents), currency: row.currency, endsAt: row.ends_at }),
        staticDetails: `${row.category} campaign, ${row.funding_model.replace(/_/g, '-')}, owner ${row.owner_id}`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        logger.error({ err, campaignId: row.id }, 'could not start the campaign workflow');
        throw temporalUnavailable();
      }
    }
  }

  return {
    /** draft → scheduled (until starts_at) or live, with its workflow started. */
    async launchCampaign(caller: Principal, id: string): Promise<CampaignJson> {
      const client = await temporal();
      const launched = await db.transaction(async (trx) => {
        const row = requireVisibleCampaign(await lockCampaign(trx, id), caller);
        requireManager(caller, row.owner_id);
        if (row.status !== 'draft') throw refusals.conflict('campaign_not_draft', `The campaign is ${row.status}; only a draft can be launched.`);
        const now = new Date();
        if (row.ends_at.getTime() <= now.getTime()) {
          throw refusals.unprocessable('campaign_ended', 'The deadline has passed; set a later one before launching.');
        }
        const status = statusAtLaunch(row.starts_at, now);
        await trx('campaigns').where({ id: row.id }).update({ status, launched_at: trx.fn.now(), updated_at: trx.fn.now() });
        // Started inside the transaction: if this process dies before the commit, the workflow's first step
        // makes the same status change itself, and a retried launch finds the workflow already running.
        await startLifecycle(client, row, status);
        return status;
      });
      await announceStatus(deps, id, launched);
      return reads.campaignAfterChange(id, caller);
    },

    /** Before the decision only; every hold is voided by the workflow's settlement. */
    async cancelCampaign(caller: Principal, id: string): Promise<CampaignJson> {
      const row = await loadManaged(caller, id);
      // A launch may win the race between the read and this write; then the workflow handles the cancel.
      if (row.status === 'draft' && (await cancelDraft(db, row.id))) {
        await announceStatus(deps, row.id, 'settled');
        return reads.campaignAfterChange(row.id, caller);
      }
      await runUpdate((client) => client.workflow.getHandle(campaignWorkflowId(row.id)).executeUpdate(cancelCampaignUpdate, { args: [{}] }));
      return reads.campaignAfterChange(row.id, caller);
    },

    /** Moves the deadline later: later than now and than the current one, and within two years. */
    async extendDeadline(caller: Principal, id: string, requested: Date): Promise<CampaignJson> {
      const row = await loadManaged(caller, id);
      const now = new Date();
      if (requested.getTime() - now.getTime() > MAX_DEADLINE_AHEAD_MS) {
        throw refusals.unprocessable('invalid_deadline', 'The new deadline must be within two years.');
      }
      if (row.status === 'draft') {
        const error = deadlineChangeError(row.ends_at, requested, now);
        if (error) throw refusals.unprocessable('invalid_deadline', error);
        if (await setDraftDeadline(db, row.id, requested)) return reads.campaignAfterChange(row.id, caller);
        // Launched meanwhile: the workflow owns the deadline now.
      }
      await runUpdate((client) =>
        client.workflow.getHandle(campaignWorkflowId(row.id)).executeUpdate(extendDeadlineUpdate, { args: [{ endsAt: requested.toISOString() }] }),
      );
      return reads.campaignAfterChange(row.id, caller);
    },
  };
}
