import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { Address, OrderSummarySchema } from '../commerce/orderSchemas';
import { checkoutAnswer } from '../commerce/checkoutAnswers';
import { checkoutRuns } from '../commerce/checkoutRuns';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { orderSummary } from '../../commerce/orderViews';
import { createDropClaims } from '../../drops/claims';
import { createDrop } from '../../drops/creation';
import { createDropEntries } from '../../drops/entries';
import { publishedDraw } from '../../drops/lottery';
import { renderDrop } from '../../drops/repository';
import { listStoreDrops } from '../../drops/storeDrops';
import { managedStore } from '../../commerce/stores';
import { PaymentMethodToken } from '../http/paymentMethodToken';

/**
 * Drops (API.md, "Drops"): creation by the store's owner, which starts `drop:<id>` (the owner of every timer),
 * public reads, and the lottery: entries (one per account, card saved at entry, rate limited), the caller's own
 * entry, claims (an order through the checkout saga on a cart holding the unit) and the published draw. The
 * work is src/drops/ (creation.ts, entries.ts, claims.ts, lottery.ts); the first-come waiting room's routes are
 * src/api/drops/dropQueueRoutes.ts.
 */

const MAX_QUANTITY = 1_000_000;
const MAX_CLAIM_WINDOW_SECONDS = 30 * 86_400;
const MAX_PRICE_CENTS = 10_000_000_000;


const CreateDropBody = z
  .strictObject({
    variant_id: z.uuid(),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    mode: z.enum(['lottery', 'fcfs']),
    opens_at: z.iso.datetime({ offset: true }),
    closes_at: z.iso.datetime({ offset: true }).optional().openapi({ description: 'lottery: end of registration (required); fcfs: end of the sale' }),
    claim_window_seconds: z.number().int().min(1).max(MAX_CLAIM_WINDOW_SECONDS).optional().openapi({ description: 'lottery: how long a winner may claim (default 48 h)' }),
    price_cents: z.number().int().min(1).max(MAX_PRICE_CENTS).optional().openapi({ description: "Default: the variant's catalog price" }),
    admission_per_second: z.number().positive().max(100_000).optional().openapi({ description: 'fcfs: shoppers admitted per second (default 10)' }),
  })
  .superRefine((b, ctx) => {
    if (b.mode === 'lottery' && !b.closes_at) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'a lottery needs the end of its registration' });
    if (b.closes_at && Date.parse(b.closes_at) <= Date.parse(b.opens_at)) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'must be after opens_at' });
    if (b.closes_at && Date.parse(b.closes_at) <= Date.now()) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'must be in the future' });
  })
  .openapi('CreateDropRequest');

const EntryBody = z.strictObject({ payment_method: PaymentMethodToken }).openapi('DropEntryRequest');
const ClaimBody = z
  .strictObject({ shipping_address: Address, payment_method: PaymentMethodToken.optional().openapi({ description: 'Default: the card saved with the entry' }) })
  .openapi('DropClaimRequest');

const DROP_STATUSES = ['scheduled', 'open', 'drawing', 'claiming', 'sold_out', 'closed'] as const;
const ENTRY_STATUSES = ['entered', 'won', 'waitlisted', 'claimed', 'expired', 'lost'] as const;

const DropSchema = z
  .object({
    id: z.uuid(),
    store_id: z.uuid(),
    variant_id: z.uuid(),
    mode: z.enum(['lottery', 'fcfs']),
    status: z.enum(DROP_STATUSES),
    quantity: z.number().int(),
    sold: z.number().int(),
    remaining: z.number().int(),
    price_cents: z.number().int(),
    currency: z.string(),
    opens_at: z.iso.datetime(),
    closes_at: z.iso.datetime().nullable(),
    claim_window_seconds: z.number().int(),
    admission_per_second: z.number(),
    seed_commitment: z.string().openapi({ description: 'sha256(seed), hex; the seed is revealed by GET /draw after the draw' }),
    entries_hash: z.string().nullable().openapi({ description: 'Published when registration closes: sha256 over the sorted entry ids' }),
    entries_count: z.number().int().optional().openapi({ description: 'lottery only' }),
    drawn_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('Drop');

const EntrySchema = z
  .object({
    id: z.uuid(),
    drop_id: z.uuid(),
    status: z.enum(ENTRY_STATUSES),
    payment_method: z.string(),
    rank: z.number().int().nullable().openapi({ description: 'Place in the published ranking (after the draw)' }),
    claim_expires_at: z.iso.datetime().optional(),
    waitlist_position: z.number().int().optional().openapi({ description: 'While waitlisted: 1 = next to be promoted' }),
    order_id: z.uuid().optional(),
    created_at: z.iso.datetime(),
  })
  .openapi('DropEntry');

const DrawSchema = z
  .object({
    drop_id: z.uuid(),
    seed: z.string(),
    seed_commitment: z.string(),
    entries_hash: z.string(),
    entries_count: z.number().int(),
    quantity: z.number().int(),
    algorithm: z.string(),
    ranking: z.array(z.uuid()).openapi({ description: 'Entry ids, rank 1 first' }),
    winners: z.array(z.uuid()).openapi({ description: 'The first `quantity` of the ranking' }),
    drawn_at: z.iso.datetime(),
  })
  .openapi('DropDraw');

const DropListSchema = z.object({ data: z.array(DropSchema), next_cursor: z.string().nullable() }).openapi('DropList');

const described = (description: string) => ({ description });

export function registerDropRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;
  const entries = createDropEntries(deps);
  const claims = createDropClaims(deps, checkoutRuns(deps));

  api.route(
    {
      method: 'post',
      path: '/v1/stores/{store_id}/drops',
      operationId: 'createDrop',
      summary: "Schedule a drop of one of the store's variants, by lottery or first-come (store owner)",
      tags: ['drops'],
      auth: ['merchant'],
      params: uuidParam('store_id'),
      body: CreateDropBody,
      responses: {
        201: { description: 'The drop, scheduled, with its seed commitment', schema: DropSchema },
        404: described('No such store of yours, or no such variant in it'),
        409: described('`plan_limit_reached` (limit `drops_per_month` of the store\'s plan), or `subscription_past_due` (the plan is past due or unpaid)'),
        503: described('`workflow_unavailable`: nothing was created; retry'),
      },
    },
    async ({ params, body, principal }) => ({ status: 201, body: await createDrop(deps, requirePrincipal(principal), params.store_id, body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}/drops',
      operationId: 'listStoreDrops',
      summary: "The store's drops, newest first (store owner)",
      tags: ['drops'],
      auth: ['merchant'],
      params: uuidParam('store_id'),
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of drops', schema: DropListSchema }, 404: described('No such store, or not yours') },
    },
    async ({ params, query, principal }) => {
      const store = await managedStore(db, params.store_id, principal);
      return { status: 200, body: await listStoreDrops(db, store.id, query) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}',
      operationId: 'getDrop',
      summary: 'A drop: status, quantity, sold, seed commitment (and entries hash once registration closed)',
      tags: ['drops'],
      auth: 'public',
      params: uuidParam('id'),
      responses: { 200: { description: 'The drop', schema: DropSchema }, 404: described('No such drop') },
    },
    async ({ params }) => ({ status: 200, body: await renderDrop(db, params.id) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/drops/{id}/entries',
      operationId: 'enterDrop',
      summary: 'Enter a lottery drop (one entry per account); the card is saved now and charged only if you claim a win',
      tags: ['drops'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam('id'),
      body: EntryBody,
      responses: {
        201: { description: 'Entered', schema: EntrySchema },
        402: described('`payment_declined`: the card could not be saved'),
        404: described('No such drop'),
        409: described('`already_entered`, or `not_a_lottery`'),
        422: described('`registration_closed`: before opens_at or after closes_at; or `payment_method_rejected`'),
        429: described('`rate_limited` (per account and per address), with Retry-After'),
      },
    },
    async ({ req, params, body, principal }) => ({
      status: 201,
      body: await entries.enter({ dropId: params.id, user: requirePrincipal(principal), ip: req.ip, paymentMethod: body.payment_method }),
    }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/entries/me',
      operationId: 'getMyDropEntry',
      summary: 'Your entry: entered, won (with claim_expires_at), waitlisted (with waitlist_position), claimed, expired or lost',
      tags: ['drops'],
      auth: 'user',
      params: uuidParam('id'),
      responses: { 200: { description: 'Your entry', schema: EntrySchema }, 404: described('No such drop, or you have not entered it') },
    },
    async ({ params, principal }) => ({ status: 200, body: await entries.mine(params.id, requirePrincipal(principal).id) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/drops/{id}/claim',
      operationId: 'claimDrop',
      summary: 'Claim a win within its window: one order through the checkout saga (the saved card unless another is given)',
      tags: ['drops'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam('id'),
      body: ClaimBody,
      responses: {
        201: { description: 'The order, confirmed and paid (the same order for every retry)', schema: OrderSummarySchema },
        402: described('`payment_declined` or `requires_action`; the window stays open, retry with another card'),
        404: described('No such drop, or you have not entered it'),
        409: described('`draw_pending`, `not_a_winner` (waitlisted or lost), `sold_out`, `not_a_lottery`'),
        410: described('`claim_expired`: the window has passed'),
        422: described('`checkout_expired`: the checkout could not finish in time; retry'),
        429: described('`rate_limited`'),
      },
    },
    async ({ req, params, body, principal }) => {
      const me = requirePrincipal(principal);
      const result = await claims.claim({ dropId: params.id, userId: me.id, ip: req.ip, shippingAddress: body.shipping_address, paymentMethod: body.payment_method });
      return checkoutAnswer(result, 'claim', (orderId) => orderSummary(db, orderId));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/draw',
      operationId: 'getDropDraw',
      summary: 'The published draw: seed, commitment, entries hash, algorithm, ranking and winners (after the draw)',
      tags: ['drops'],
      auth: 'public',
      params: uuidParam('id'),
      responses: {
        200: { description: 'Everything needed to recompute the draw (npm run verify-draw)', schema: DrawSchema },
        404: described('No such drop'),
        409: described('`draw_pending`: not drawn yet; or `not_a_lottery`'),
      },
    },
    async ({ params }) => ({ status: 200, body: await publishedDraw(db, params.id) }),
  );
}
