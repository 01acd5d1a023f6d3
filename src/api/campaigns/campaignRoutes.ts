import { randomBytes } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import type { AppDeps } from '../deps';
import { requireManager, requirePrincipal } from '../../accounts/authorization';
import { publishCampaignEvent } from '../../campaigns/events';
import { webhookUrlProblem } from '../../notifications/webhookUrl';
import { longText, text } from '../http/text';
import { readTotals } from '../../campaigns/liveTotals';
import {
  campaignJson,
  cancelDraft,
  findCampaign,
  insertCampaign,
  InvalidCursorError,
  listCampaigns,
  lockCampaign,
  setDraftDeadline,
  tiersFor,
  type CampaignRow,
} from '../../campaigns/repository';
import {
  CAMPAIGN_CATEGORIES,
  CAMPAIGN_STATUSES,
  campaignSummary,
  deadlineChangeError,
  FUNDING_MODELS,
  isBeforeDecision,
  type CampaignStatus as CampaignStatusValue,
} from '../../domain/campaigns';
import { canManage, type Principal } from '../../domain/roles';
import { CampaignId, CampaignStatus } from '../../temporal/searchAttributes';
import { CAMPAIGN_ALREADY_DECIDED, CAMPAIGN_LIFECYCLE_WORKFLOW, type CampaignLifecycleInput, type CampaignLifecycleWorkflow, campaignWorkflowId, cancelCampaignUpdate, extendDeadlineUpdate, INVALID_DEADLINE } from '../../campaigns/contract';

/**
 * Campaign routes: create and read campaigns, and steer their lifecycle workflow (`campaign:<id>`): launch
 * starts it, cancel and deadline changes go through its Updates so the workflow, which owns the timers, is
 * the one place that decides whether a change is still allowed.
 */

const MAX_GOAL_CENTS = 100_000_000_000;
const MAX_TIERS = 50;
const MAX_TIER_QUANTITY = 1_000_000;
/** Far-future deadlines are almost certainly typos, and would park a timer for decades. */
const MAX_DEADLINE_AHEAD_MS = 2 * 366 * 86_400_000;


const RewardTierSchema = z
  .object({
    id: z.uuid(),
    title: z.string(),
    description: z.string(),
    min_amount_cents: z.number().int(),
    quantity: z.number().int().nullable().openapi({ description: 'null: unlimited' }),
    remaining: z.number().int().nullable().openapi({ description: 'Slots left; null when unlimited' }),
  })
  .openapi('RewardTier');

const CampaignSchema = z
  .object({
    id: z.uuid(),
    owner_id: z.uuid(),
    title: z.string(),
    description: z.string(),
    category: z.enum(CAMPAIGN_CATEGORIES),
    goal_cents: z.number().int(),
    currency: z.string(),
    funding_model: z.enum(FUNDING_MODELS),
    status: z.enum(CAMPAIGN_STATUSES),
    outcome: z.enum(['succeeded', 'failed', 'cancelled']).nullable(),
    starts_at: z.iso.datetime().nullable(),
    ends_at: z.iso.datetime(),
    pledged_cents: z.number().int(),
    backer_count: z.number().int(),
    percent_funded: z.number().int().openapi({ description: 'Whole percent of the goal, rounded down' }),
    seconds_left: z.number().int(),
    collected_cents: z.number().int(),
    reward_tiers: z.array(RewardTierSchema),
    created_at: z.iso.datetime(),
    launched_at: z.iso.datetime().nullable(),
    decided_at: z.iso.datetime().nullable(),
    settled_at: z.iso.datetime().nullable(),
    webhook_url: z.string().nullable().optional().openapi({ description: 'Only shown to the owner and operators' }),
  })
  .openapi('Campaign');

const CreatedCampaignSchema = CampaignSchema.extend({
  webhook_secret: z.string().optional().openapi({
    description: 'HMAC key for the webhook signatures; returned only here, once, when webhook_url was given',
  }),
}).openapi('CreatedCampaign');

const CampaignListSchema = z.object({ data: z.array(CampaignSchema), next_cursor: z.string().nullable() }).openapi('CampaignList');

const dateTime = z.iso.datetime({ offset: true });

const CreateCampaignBody = z
  .strictObject({
    title: text(1, 200),
    description: longText(20_000).default(''),
    category: z.enum(CAMPAIGN_CATEGORIES),
    goal_cents: z.number().int().min(1).max(MAX_GOAL_CENTS),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')
      .openapi({ description: 'ISO 4217; lowercase is accepted and stored upper-cased', example: 'USD' }),
    starts_at: dateTime.optional().openapi({ description: 'When the campaign goes live after launch; absent: at launch' }),
    ends_at: dateTime.openapi({ description: 'The deadline: in the future, after starts_at' }),
    funding_model: z.enum(FUNDING_MODELS).default('all_or_nothing'),
    reward_tiers: z
      .array(
        z.strictObject({
          title: text(1, 200),
          description: longText(5_000).default(''),
          min_amount_cents: z.number().int().min(1).max(MAX_GOAL_CENTS),
          quantity: z.number().int().min(1).max(MAX_TIER_QUANTITY).optional().openapi({ description: 'Absent: unlimited' }),
        }),
      )
      .max(MAX_TIERS)
      .default([]),
    webhook_url: z
      .url({ protocol: /^https?$/ })
      .max(2_000)
      .optional()
      .openapi({ description: 'Receives HMAC-signed events (new pledges, outcome); the secret is in the create response' }),
  })
  .openapi('CreateCampaignRequest');

const ListCampaignsQuery = z.object({
  category: z.enum(CAMPAIGN_CATEGORIES).optional(),
  status: z.enum(CAMPAIGN_STATUSES).optional().openapi({ description: '`draft` lists only the caller\'s own drafts (operators: all)' }),
  starts_after: dateTime.optional(),
  q: text(1, 200).optional().openapi({ description: 'Full-text search on title and description (web search syntax)' }),
  ...pageQuery,
});

const DeadlineBody = z.strictObject({ ends_at: dateTime }).openapi('CampaignDeadlineRequest');

const problem = (description: string) => ({ description });

function temporalUnavailable(): Problem {
  return problems.unavailable('temporal_unavailable', 'The workflow service is unreachable; nothing was changed. Try again shortly.');
}

const notDecidable = () => problems.conflict('campaign_already_decided', 'The campaign has already been decided.');

/** The workflow's refusal, as the problem the API promises. */
function updateProblem(err: unknown): Problem | undefined {
  if (err instanceof WorkflowNotFoundError) return notDecidable();
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === INVALID_DEADLINE) {
      return problems.unprocessable('invalid_deadline', cause.message);
    }
    if (cause instanceof ApplicationFailure && cause.type === CAMPAIGN_ALREADY_DECIDED) return notDecidable();
  }
  return undefined;
}

export function registerCampaignsRoutes(api: Api, deps: AppDeps): void {
  const { db, config, logger } = deps;

  async function temporal(): Promise<Client> {
    try {
      return await deps.temporal.client();
    } catch (err) {
      logger.warn({ err }, 'temporal unreachable');
      throw temporalUnavailable();
    }
  }

  async function render(row: CampaignRow, principal: Principal | undefined) {
    const [tiers, totals] = await Promise.all([tiersFor(db, [row.id]), readTotals(deps, row.id)]);
    return campaignJson(row, tiers.get(row.id) ?? [], totals, new Date(), {
      includePrivate: principal !== undefined && canManage(principal, row.owner_id),
    });
  }

  async function reload(id: string, principal: Principal | undefined) {
    const row = await findCampaign(db, id);
    if (!row) throw problems.notFound('campaign');
    return render(row, principal);
  }

  /** Drafts are private to their owner (and operators): anyone else gets the 404 of an unknown id. */
  async function loadVisible(id: string, principal: Principal | undefined): Promise<CampaignRow> {
    const row = await findCampaign(db, id);
    if (!row || (row.status === 'draft' && !(principal && canManage(principal, row.owner_id)))) throw problems.notFound('campaign');
    return row;
  }

  async function announce(campaignId: string, status: CampaignStatusValue): Promise<void> {
    try {
      await publishCampaignEvent(deps.redis, campaignId, { type: 'status', status });
    } catch (err) {
      logger.warn({ err, campaignId }, 'campaign status event not published');
    }
  }

  api.route(
    {
      method: 'post',
      path: '/v1/campaigns',
      operationId: 'createCampaign',
      summary: 'Create a campaign (draft) with its reward tiers',
      tags: ['campaigns'],
      auth: ['creator'],
      body: CreateCampaignBody,
      responses: { 201: { description: 'Created (status draft)', schema: CreatedCampaignSchema } },
    },
    async ({ body, principal }) => {
      const owner = requirePrincipal(principal);
      const now = Date.now();
      const endsAt = new Date(body.ends_at);
      const startsAt = body.starts_at ? new Date(body.starts_at) : null;
      const errors: { path: string; message: string }[] = [];
      if (endsAt.getTime() <= now) errors.push({ path: 'body.ends_at', message: 'must be in the future' });
      else if (endsAt.getTime() - now > MAX_DEADLINE_AHEAD_MS) errors.push({ path: 'body.ends_at', message: 'must be within two years' });
      if (startsAt && startsAt.getTime() >= endsAt.getTime()) errors.push({ path: 'body.ends_at', message: 'must be after starts_at' });
      const badWebhook = body.webhook_url && webhookUrlProblem(body.webhook_url, { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_URLS });
      if (badWebhook) errors.push({ path: 'body.webhook_url', message: badWebhook });
      if (errors.length) throw problems.validation(errors);

      const webhook = body.webhook_url ? { url: body.webhook_url, secret: `whsec_${randomBytes(32).toString('base64url')}` } : null;
      const { campaign, tiers } = await insertCampaign(db, {
        ownerId: owner.id,
        title: body.title,
        description: body.description,
        category: body.category,
        goalCents: body.goal_cents,
        currency: body.currency.toUpperCase(),
        fundingModel: body.funding_model,
        startsAt,
        endsAt,
        webhook,
        tiers: body.reward_tiers.map((t) => ({
          title: t.title,
          description: t.description,
          minAmountCents: t.min_amount_cents,
          quantity: t.quantity ?? null,
        })),
      });
      const json = campaignJson(campaign, tiers, { pledged_cents: 0, backer_count: 0 }, new Date(), { includePrivate: true });
      return { status: 201, body: webhook ? { ...json, webhook_secret: webhook.secret } : json };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/campaigns',
      operationId: 'listCampaigns',
      summary: 'Browse campaigns, newest first (drafts only with status=draft, and only your own)',
      tags: ['campaigns'],
      auth: 'optional',
      query: ListCampaignsQuery,
      responses: { 200: { description: 'A page of campaigns', schema: CampaignListSchema } },
    },
    async ({ query, principal }) => {
      let draftOwnerId: string | undefined;
      if (query.status === 'draft') {
        const p = requirePrincipal(principal);
        draftOwnerId = p.role === 'operator' ? undefined : p.id;
      }
      let page: Awaited<ReturnType<typeof listCampaigns>>;
      try {
        page = await listCampaigns(db, {
          category: query.category,
          status: query.status,
          draftOwnerId,
          startsAfter: query.starts_after ? new Date(query.starts_after) : undefined,
          q: query.q,
          limit: query.limit,
          cursor: query.cursor,
        });
      } catch (err) {
        if (err instanceof InvalidCursorError) throw new Problem(400, 'invalid_cursor', 'Invalid cursor', err.message);
        throw err;
      }
      const tiers = await tiersFor(db, page.rows.map((r) => r.id));
      const now = new Date();
      // Totals straight from the rows: one query for the page, and Postgres is the truth anyway.
      const data = page.rows.map((row) =>
        campaignJson(row, tiers.get(row.id) ?? [], { pledged_cents: Number(row.pledged_cents), backer_count: Number(row.backer_count) }, now, {
          includePrivate: principal !== undefined && canManage(principal, row.owner_id),
        }),
      );
      return { status: 200, body: { data, next_cursor: page.nextCursor } };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/campaigns/{id}',
      operationId: 'getCampaign',
      summary: 'A campaign with live totals and reward tiers',
      tags: ['campaigns'],
      auth: 'optional',
      params: uuidParam('id'),
      responses: {
        200: { description: 'The campaign', schema: CampaignSchema },
        404: problem('No such campaign (or a draft that is not yours)'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await render(await loadVisible(params.id, principal), principal) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/campaigns/{id}/launch',
      operationId: 'launchCampaign',
      summary: 'Launch a draft: scheduled until starts_at, then live until the deadline',
      tags: ['campaigns'],
      auth: 'user',
      params: uuidParam('id'),
      responses: {
        200: { description: 'Launched (status scheduled or live)', schema: CampaignSchema },
        403: problem('Not the owner or an operator'),
        404: problem('No such campaign'),
        409: problem('`campaign_not_draft`: already launched, cancelled or decided'),
        422: problem('`campaign_ended`: the deadline has already passed; move it first'),
        503: problem('`temporal_unavailable`: nothing changed; retry'),
      },
    },
    async ({ params, principal, log }) => {
      const caller = requirePrincipal(principal);
      const client = await temporal();
      const launched = await db.transaction(async (trx) => {
        const row = await lockCampaign(trx, params.id);
        if (!row) throw problems.notFound('campaign');
        requireManager(caller, row.owner_id);
        if (row.status !== 'draft') throw problems.conflict('campaign_not_draft', `The campaign is ${row.status}; only a draft can be launched.`);
        const now = new Date();
        if (row.ends_at.getTime() <= now.getTime()) {
          throw problems.unprocessable('campaign_ended', 'The deadline has passed; set a later one before launching.');
        }
        const status: CampaignStatusValue = row.starts_at && row.starts_at.getTime() > now.getTime() ? 'scheduled' : 'live';
        await trx('campaigns').where({ id: row.id }).update({ status, launched_at: trx.fn.now(), updated_at: trx.fn.now() });

        // Started inside the transaction: if this process dies before the commit, the workflow's first step
        // makes the same status change itself, and a retried launch finds the workflow already running.
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
            log.error({ err, campaignId: row.id }, 'could not start the campaign workflow');
            throw temporalUnavailable();
          }
        }
        return status;
      });
      await announce(params.id, launched);
      return { status: 200, body: await reload(params.id, principal) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/campaigns/{id}/cancel',
      operationId: 'cancelCampaign',
      summary: 'Cancel a campaign before its deadline is decided; every hold is voided',
      tags: ['campaigns'],
      auth: 'user',
      params: uuidParam('id'),
      responses: {
        200: { description: 'Cancelled (a draft goes straight to settled, outcome cancelled)', schema: CampaignSchema },
        403: problem('Not the owner or an operator'),
        404: problem('No such campaign'),
        409: problem('`campaign_already_decided`'),
        503: problem('`temporal_unavailable`: nothing changed; retry'),
      },
    },
    async ({ params, principal }) => {
      const caller = requirePrincipal(principal);
      const row = await loadVisible(params.id, principal);
      requireManager(caller, row.owner_id);
      if (!isBeforeDecision(row.status)) throw notDecidable();
      // A launch may win the race between the read and this write; then the workflow handles the cancel.
      if (row.status === 'draft' && (await cancelDraft(db, row.id))) {
        await announce(row.id, 'settled');
        return { status: 200, body: await reload(row.id, principal) };
      }
      try {
        await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
          client.workflow.getHandle(campaignWorkflowId(row.id)).executeUpdate(cancelCampaignUpdate, { args: [{}] }),
        );
      } catch (err) {
        throw updateProblem(err) ?? err;
      }
      return { status: 200, body: await reload(row.id, principal) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/campaigns/{id}/deadline',
      operationId: 'extendCampaignDeadline',
      summary: 'Move the deadline later (later than now and than the current one)',
      tags: ['campaigns'],
      auth: 'user',
      params: uuidParam('id'),
      body: DeadlineBody,
      responses: {
        200: { description: 'The campaign with its new deadline', schema: CampaignSchema },
        403: problem('Not the owner or an operator'),
        404: problem('No such campaign'),
        409: problem('`campaign_already_decided`'),
        422: problem('`invalid_deadline`: not in the future, or not later than the current deadline'),
        503: problem('`temporal_unavailable`: nothing changed; retry'),
      },
    },
    async ({ params, body, principal }) => {
      const caller = requirePrincipal(principal);
      const row = await loadVisible(params.id, principal);
      requireManager(caller, row.owner_id);
      if (!isBeforeDecision(row.status)) throw notDecidable();
      const requested = new Date(body.ends_at);
      const now = new Date();
      if (requested.getTime() - now.getTime() > MAX_DEADLINE_AHEAD_MS) {
        throw problems.unprocessable('invalid_deadline', 'The new deadline must be within two years.');
      }
      if (row.status === 'draft') {
        const error = deadlineChangeError(row.ends_at, requested, now);
        if (error) throw problems.unprocessable('invalid_deadline', error);
        if (await setDraftDeadline(db, row.id, requested)) return { status: 200, body: await reload(row.id, principal) };
        // Launched meanwhile: the workflow owns the deadline now.
      }
      try {
        await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
          client.workflow.getHandle(campaignWorkflowId(row.id)).executeUpdate(extendDeadlineUpdate, { args: [{ endsAt: requested.toISOString() }] }),
        );
      } catch (err) {
        throw updateProblem(err) ?? err;
      }
      return { status: 200, body: await reload(row.id, principal) };
    },
  );
}
