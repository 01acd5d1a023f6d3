import { z } from 'zod';
import { pageQuery, type Api } from '../http/api';
import { NUL_MESSAGE, noNul } from '../http/text';
import type { AppDeps } from '../deps';
import { searchUsers } from '../../accounts/userSearch';
import { providersByStatus } from '../../bookings/providerQueue';
import { ATTENTION_KINDS, attentionPage } from '../../operator/attention';
import { operatorOverview } from '../../operator/overview';
import { UserSchema } from '../accounts/accountRoutes';

/**
 * The operator dashboard's reads (operators only; everyone else 403): where the Temporal Web UI is and what waits,
 * the accounts, providers by status (pending: the approval queue), and what needs attention, each item with the
 * business workflow id to open in the Temporal UI. Approving and rejecting are src/api/bookings/providerRoutes.ts.
 */

const OPERATORS = ['operator'] as const;
const list = <T extends z.ZodType>(item: T, name: string) => z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
const attentionKind = z.enum(ATTENTION_KINDS);

const OverviewSchema = z
  .object({
    temporal: z.object({
      ui_url: z.url().openapi({ description: 'TEMPORAL_UI_URL (default the dev server’s UI, http://localhost:8233)' }),
      namespace: z.string(),
    }),
    pending_providers: z.number().int().openapi({ description: 'Providers awaiting approval' }),
    attention: z.record(attentionKind, z.number().int()).openapi({ description: 'How many items need attention, per kind' }),
  })
  .openapi('OperatorOverview');

const ProviderQueueItemSchema = z
  .object({
    id: z.uuid(),
    display_name: z.string(),
    categories: z.array(z.string()),
    city: z.string(),
    country: z.string(),
    status: z.enum(['pending', 'active', 'rejected', 'expired']),
    owner: z.object({ id: z.uuid(), name: z.string(), email: z.string() }),
    workflow_id: z.string().openapi({ description: 'The onboarding workflow, `provider:<id>`' }),
    created_at: z.iso.datetime(),
  })
  .openapi('ProviderQueueItem');

const AttentionItemSchema = z
  .object({
    kind: attentionKind.openapi({
      description:
        'settlement_failed: a campaign with failed or dropped pledges; pledge_dropped; order_stuck: pending past the reconciliation grace; order_failed: cancelled by the system; drop_stuck: behind its own clock; payout_failed; billing_differences: a reconciliation run that found differences; reconciliation_repair: what the commerce or bookings reconciliation repaired in the last 7 days',
    }),
    id: z.uuid().openapi({ description: 'The campaign, pledge, order, drop, payout, the notification of the run, or the repair' }),
    title: z.string(),
    detail: z.string(),
    amount_cents: z.number().int().nullable(),
    currency: z.string().nullable(),
    at: z.iso.datetime(),
    workflow_id: z.string().openapi({ description: 'The business workflow to look up in the Temporal UI (`campaign:<id>`, `checkout:<key>`, `drop:<id>`..., or the reconciliation run that made a repair)' }),
  })
  .openapi('AttentionItem');

export function registerOperatorRoutes(api: Api, deps: AppDeps): void {
  const { db, config } = deps;
  const graceSeconds = config.RECONCILE_GRACE / 1000;

  api.route(
    {
      method: 'get',
      path: '/v1/operator/overview',
      operationId: 'operatorOverview',
      summary: 'The operator dashboard: the Temporal Web UI to link workflows to, providers awaiting approval, items needing attention per kind',
      tags: ['operations'],
      auth: OPERATORS,
      responses: { 200: { description: 'The overview', schema: OverviewSchema } },
    },
    async () => ({ status: 200, body: await operatorOverview(db, config) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/operator/users',
      operationId: 'operatorListUsers',
      summary: 'Accounts newest first, or those whose email or name contains q (operators only)',
      tags: ['operations'],
      auth: OPERATORS,
      query: z.object({ q: z.string().trim().max(200).refine(noNul, NUL_MESSAGE).optional(), ...pageQuery }),
      responses: { 200: { description: 'A page of accounts', schema: list(UserSchema, 'UserList') } },
    },
    async ({ query }) => ({ status: 200, body: await searchUsers(db, config.OPERATOR_EMAILS, query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/operator/providers',
      operationId: 'operatorListProviders',
      summary: 'Providers in one status, newest first; pending (the default) are those awaiting approval (operators only)',
      tags: ['operations', 'providers'],
      auth: OPERATORS,
      query: z.object({ status: z.enum(['pending', 'active', 'rejected', 'expired']).default('pending'), ...pageQuery }),
      responses: { 200: { description: 'A page of providers', schema: list(ProviderQueueItemSchema, 'ProviderQueue') } },
    },
    async ({ query }) => ({ status: 200, body: await providersByStatus(db, query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/operator/attention',
      operationId: 'operatorAttention',
      summary: 'What needs an operator: failed settlements, dropped pledges, stuck or failed orders, stuck drops, failed payouts, reconciliation differences and repairs; newest first (operators only)',
      tags: ['operations'],
      auth: OPERATORS,
      query: z.object({ kind: attentionKind.optional(), ...pageQuery }),
      responses: { 200: { description: 'A page of items', schema: list(AttentionItemSchema, 'AttentionList') } },
    },
    async ({ query }) => ({ status: 200, body: await attentionPage(db, graceSeconds, query) }),
  );
}
