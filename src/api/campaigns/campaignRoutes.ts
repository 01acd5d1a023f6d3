import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { longText, text } from '../http/text';
import { createCampaignCreation } from '../../campaigns/campaignCreation';
import { createCampaignControls } from '../../campaigns/campaignControls';
import { createCampaignReads } from '../../campaigns/campaignReads';
import { CAMPAIGN_CATEGORIES, CAMPAIGN_STATUSES, FUNDING_MODELS } from '../../domain/campaigns';

/**
 * Campaign routes: schema, one call to a campaigns service, the answer. Creating is campaignCreation,
 * reading campaignReads, and launch, cancel and deadline changes (which steer the `campaign:<id>` workflow)
 * campaignControls.
 */

const MAX_GOAL_CENTS = 100_000_000_000;
const MAX_TIERS = 50;
const MAX_TIER_QUANTITY = 1_000_000;

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

export const CampaignListSchema = z.object({ data: z.array(CampaignSchema), next_cursor: z.string().nullable() }).openapi('CampaignList');

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

export function registerCampaignsRoutes(api: Api, deps: AppDeps): void {
  const creation = createCampaignCreation(deps);
  const reads = createCampaignReads(deps);
  const controls = createCampaignControls(deps);

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
    async ({ body, principal }) => ({
      status: 201,
      body: await creation.createCampaign(requirePrincipal(principal), {
        title: body.title,
        description: body.description,
        category: body.category,
        goalCents: body.goal_cents,
        currency: body.currency,
        fundingModel: body.funding_model,
        startsAt: body.starts_at ? new Date(body.starts_at) : undefined,
        endsAt: new Date(body.ends_at),
        tiers: body.reward_tiers.map((t) => ({ title: t.title, description: t.description, minAmountCents: t.min_amount_cents, quantity: t.quantity ?? null })),
        webhookUrl: body.webhook_url,
      }),
    }),
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
    async ({ query, principal }) => ({
      status: 200,
      body: await reads.listCampaigns(principal, {
        category: query.category,
        status: query.status,
        startsAfter: query.starts_after ? new Date(query.starts_after) : undefined,
        q: query.q,
        limit: query.limit,
        cursor: query.cursor,
      }),
    }),
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
    async ({ params, principal }) => ({ status: 200, body: await reads.getCampaign(params.id, principal) }),
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
        403: problem('Not the owner or an operator (of a campaign that is no longer a draft)'),
        404: problem('No such campaign (or a draft that is not yours)'),
        409: problem('`campaign_not_draft`: already launched, cancelled or decided'),
        422: problem('`campaign_ended`: the deadline has already passed; move it first'),
        503: problem('`dependency_unavailable` (temporal): nothing changed; retry'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await controls.launchCampaign(requirePrincipal(principal), params.id) }),
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
        404: problem('No such campaign (or a draft that is not yours)'),
        409: problem('`campaign_already_decided`'),
        503: problem('`dependency_unavailable` (temporal): nothing changed; retry'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await controls.cancelCampaign(requirePrincipal(principal), params.id) }),
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
        404: problem('No such campaign (or a draft that is not yours)'),
        409: problem('`campaign_already_decided`'),
        422: problem('`invalid_deadline`: not in the future, or not later than the current deadline'),
        503: problem('`dependency_unavailable` (temporal): nothing changed; retry'),
      },
    },
    async ({ params, body, principal }) => ({
      status: 200,
      body: await controls.extendDeadline(requirePrincipal(principal), params.id, new Date(body.ends_at)),
    }),
  );
}
