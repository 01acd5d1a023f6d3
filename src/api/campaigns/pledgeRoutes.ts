import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { PaymentMethodToken } from '../http/paymentMethodToken';
import { PLEDGE_STATUSES } from '../../domain/campaigns';
import { requirePrincipal } from '../../accounts/authorization';
import { createPledgeService } from '../../campaigns/pledges';

/**
 * Pledge routes: schema, one call to the pledge service (src/campaigns/pledges.ts), the answer. The service
 * owns every rule, every write and every refusal.
 */

const PledgeSchema = z
  .object({
    id: z.uuid(),
    campaign_id: z.uuid(),
    backer_id: z.uuid(),
    reward_tier_id: z.uuid().nullable(),
    amount_cents: z.number().int(),
    currency: z.string(),
    status: z.enum(PLEDGE_STATUSES),
    payment_mode: z.enum(['authorize', 'save_card']).openapi({
      description: '`authorize`: funds held now, captured at the deadline; `save_card`: card saved, charged at the deadline.',
    }),
    failure_code: z.string().nullable(),
    drop_deadline: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    collected_at: z.iso.datetime().nullable(),
    cancelled_at: z.iso.datetime().nullable(),
  })
  .openapi('Pledge');

const CampaignPledgeSchema = z
  .object({
    id: z.uuid(),
    backer: z.object({ id: z.uuid(), name: z.string() }),
    amount_cents: z.number().int(),
    currency: z.string(),
    reward_tier: z.object({ id: z.uuid(), title: z.string() }).nullable(),
    status: z.enum(PLEDGE_STATUSES),
    created_at: z.iso.datetime(),
  })
  .openapi('CampaignPledge');

const MyPledgeSchema = PledgeSchema.extend({
  campaign: z.object({ id: z.uuid(), title: z.string(), status: z.string(), ends_at: z.iso.datetime() }),
}).openapi('MyPledge');

const listOf = (item: z.ZodType) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

const amountCents = z.number().int().min(1).max(1_000_000_000);

const CreatePledgeBody = z
  .strictObject({
    amount_cents: amountCents,
    reward_tier_id: z.uuid().optional(),
    payment_method: PaymentMethodToken,
  })
  .openapi('CreatePledgeRequest');

const EditPledgeBody = z
  .strictObject({
    amount_cents: amountCents.optional(),
    reward_tier_id: z.uuid().nullable().optional().openapi({ description: 'null removes the reward tier.' }),
  })
  .openapi('EditPledgeRequest');

const problem = (description: string) => ({ description });

export function registerPledgesRoutes(api: Api, deps: AppDeps): void {
  const service = createPledgeService(deps);

  api.route(
    {
      method: 'post',
      path: '/v1/campaigns/{id}/pledges',
      operationId: 'createPledge',
      summary: 'Back a live campaign (card authorized now or saved for the deadline)',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      body: CreatePledgeBody,
      idempotency: 'required',
      responses: {
        201: { description: 'Pledge active', schema: PledgeSchema },
        202: { description: 'The provider is still deciding; the pledge is pending (confirm it later)', schema: PledgeSchema },
        402: problem('`payment_declined` (with `decline_code`) or `requires_action` (with `pledge_id` and `next_action.client_secret`)'),
        404: problem('No such campaign'),
        409: problem('`reward_sold_out`, or `already_pledged` (with `pledge_id`: edit that pledge instead)'),
        422: problem('`campaign_not_live`, `cannot_back_own_campaign`, `invalid_reward_tier`, `below_reward_minimum`, `payment_method_rejected`'),
        503: problem('`payment_unavailable`: retry the same request'),
      },
    },
    async ({ params, body, principal }) => {
      const result = await service.createPledge(requirePrincipal(principal), params.id, {
        amountCents: body.amount_cents,
        rewardTierId: body.reward_tier_id,
        paymentMethod: body.payment_method,
      });
      return { status: result.status, body: result.pledge };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/pledges/{id}/confirm',
      operationId: 'confirmPledge',
      summary: 'Finish a pledge after the backer completed 3-D Secure',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      responses: {
        200: { description: 'Pledge active', schema: PledgeSchema },
        202: { description: 'The provider is still deciding', schema: PledgeSchema },
        402: problem('`requires_action` (still not authenticated) or `payment_declined`'),
        404: problem('No such pledge of yours'),
        409: problem('`pledge_not_confirmable`'),
        422: problem('`campaign_not_live`: the campaign was decided meanwhile; nothing is held'),
      },
    },
    async ({ params, principal }) => {
      const result = await service.confirmPledge(requirePrincipal(principal), params.id);
      return { status: result.status, body: result.pledge };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/campaigns/{id}/pledges',
      operationId: 'listCampaignPledges',
      summary: "A campaign's pledges (owner or operator)",
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      query: z.object({ ...pageQuery, status: z.enum(PLEDGE_STATUSES).optional() }),
      responses: {
        200: { description: 'Newest first', schema: listOf(CampaignPledgeSchema) },
        403: problem('Not the owner of this public campaign'),
        404: problem('No such campaign (or a draft that is not yours)'),
      },
    },
    async ({ params, query, principal }) => ({
      status: 200,
      body: await service.listCampaignPledges(requirePrincipal(principal), params.id, query),
    }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/pledges',
      operationId: 'listMyPledges',
      summary: "The caller's pledges, newest first",
      tags: ['pledges'],
      auth: 'user',
      query: z.object(pageQuery),
      responses: { 200: { description: 'Newest first; declined attempts left out', schema: listOf(MyPledgeSchema) } },
    },
    async ({ query, principal }) => ({ status: 200, body: await service.listMyPledges(requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/pledges/{id}',
      operationId: 'getPledge',
      summary: 'One pledge (its backer, the campaign owner or an operator)',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      responses: { 200: { description: 'The pledge', schema: PledgeSchema }, 404: problem('No such pledge visible to you') },
    },
    async ({ params, principal }) => ({ status: 200, body: await service.getPledge(requirePrincipal(principal), params.id) }),
  );

  api.route(
    {
      method: 'patch',
      path: '/v1/pledges/{id}',
      operationId: 'editPledge',
      summary: "Change a live pledge's amount or reward tier (backer only)",
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      body: EditPledgeBody,
      responses: {
        200: { description: 'The changed pledge', schema: PledgeSchema },
        402: problem('`payment_declined`: the card refused the new amount; the pledge is unchanged'),
        403: problem('Not the backer'),
        404: problem('No such pledge visible to you'),
        409: problem('`pledge_not_editable`, `reward_sold_out`, `would_drop_below_goal`, `pledge_changed`'),
        422: problem('`campaign_not_live`, `invalid_reward_tier`, `below_reward_minimum`, `payment_method_rejected`'),
        503: problem('`payment_unavailable`: nothing changed; try again'),
      },
    },
    async ({ params, body, principal }) => ({
      status: 200,
      body: await service.editPledge(requirePrincipal(principal), params.id, {
        amountCents: body.amount_cents,
        rewardTierId: body.reward_tier_id,
      }),
    }),
  );

  api.route(
    {
      method: 'delete',
      path: '/v1/pledges/{id}',
      operationId: 'cancelPledge',
      summary: 'Cancel a live pledge (backer only); the hold is voided and the reward slot freed',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      responses: {
        200: { description: 'The pledge, status cancelled', schema: PledgeSchema },
        403: problem('Not the backer'),
        404: problem('No such pledge visible to you'),
        409: problem('`would_drop_below_goal`, `pledge_not_cancellable`'),
        422: problem('`campaign_not_live`'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await service.cancelPledge(requirePrincipal(principal), params.id) }),
  );
}
